"""Adding or removing our entry in a client's JSON config file, touching nothing else.

``plan_install`` / ``plan_uninstall`` read the file and work out the new text (a textual
edit of one member, see :mod:`hermes_mcp.install.jsonc`), then check it: the new text
must parse, and must mean exactly the old document with only our entry changed.
``write_plan`` writes it: a backup of the old file beside it (``<file>.hermes-mcp.bak``),
then the new text through a temporary file and an atomic rename into the real file (a
symlinked config, as dotfile managers make, stays a symlink). A file that is not valid
JSON (or JSONC, for the clients that allow comments) is refused and left as it is.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hermes_mcp.errors import UsageError
from hermes_mcp.install.jsonc import (
    JsonSyntaxError,
    Node,
    parse,
    remove_member,
    render,
    set_member,
)

BACKUP_SUFFIX = ".hermes-mcp.bak"
Action = Literal["added", "updated", "unchanged", "removed", "absent"]


class InstallRefused(UsageError):
    """The client's file cannot be edited safely; it was left untouched (exit 2)."""


@dataclass(frozen=True)
class Plan:
    """What one install or uninstall would do to one file."""

    path: Path  # the file as named (its symlink, if it is one)
    before: str | None  # None: there is no file yet
    after: str
    action: Action

    @property
    def changes(self) -> bool:
        return self.action in ("added", "updated", "removed")

    def diff(self) -> str:
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        old = str(self.path) if self.before is not None else "/dev/null"
        lines = difflib.unified_diff(before, after, old, str(self.path))
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InstallRefused(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise InstallRefused(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError as exc:
        raise InstallRefused(f"{path}: not UTF-8 text (byte {exc.start}); left untouched") from None


def _document(path: Path, text: str, jsonc: bool, container: str) -> tuple[Node, Node | None]:
    """The root object and our container object in it (None when absent)."""
    kind = "JSON with comments" if jsonc else "valid JSON"
    try:
        root = parse(text, jsonc=jsonc)
    except JsonSyntaxError as exc:
        hint = "" if jsonc else " (this client's file allows no comments or trailing commas)"
        raise InstallRefused(f"{path}: not {kind}: {exc}{hint}; left untouched") from None
    if root.kind != "object":
        raise InstallRefused(f"{path}: the top level is not a JSON object; left untouched")
    found = root.get(container)
    if len(found) > 1:
        raise InstallRefused(f"{path}: {container!r} appears {len(found)} times; left untouched")
    if not found:
        return root, None
    if found[0].value.kind != "object":
        raise InstallRefused(f"{path}: {container!r} is not an object; left untouched")
    return root, found[0].value


def _checked(path: Path, text: str, jsonc: bool, expected: Any) -> str:
    """The edit means exactly ``expected``, or nothing is written."""
    try:
        got = parse(text, jsonc=jsonc).to_python()
        if not jsonc:
            json.loads(text)
    except (JsonSyntaxError, ValueError) as exc:  # pragma: no cover - an editing bug
        raise InstallRefused(f"{path}: the edit would not parse ({exc}); left untouched") from None
    if got != expected:  # pragma: no cover - an editing bug
        raise InstallRefused(f"{path}: the edit would change other keys; left untouched")
    return text


def plan_install(
    path: Path, container: str, name: str, entry: dict[str, Any], *, jsonc: bool
) -> Plan:
    """Set ``container.name = entry`` in the file at ``path`` (created when missing)."""
    before = _read(path)
    if before is None or not before.strip():
        after = render({container: {name: entry}}, "", "  ") + "\n"
        return Plan(path, before, after, "added")
    root, servers = _document(path, before, jsonc, container)
    data = root.to_python()
    expected = copy.deepcopy(data)
    expected.setdefault(container, {})[name] = entry
    if servers is None:
        after = set_member(before, root, container, {name: entry})
        return Plan(path, before, _checked(path, after, jsonc, expected), "added")
    mine = servers.get(name)
    if len(mine) > 1:
        raise InstallRefused(f"{path}: {container}.{name} appears twice; left untouched")
    if mine and mine[0].value.to_python() == entry:
        return Plan(path, before, before, "unchanged")
    after = set_member(before, servers, name, entry)
    action: Action = "updated" if mine else "added"
    return Plan(path, before, _checked(path, after, jsonc, expected), action)


def plan_uninstall(path: Path, container: str, name: str, *, jsonc: bool) -> Plan:
    """Remove ``container.name`` from the file at ``path``; nothing else."""
    before = _read(path)
    if before is None or not before.strip():
        return Plan(path, before, before or "", "absent")
    root, servers = _document(path, before, jsonc, container)
    if servers is None or not servers.get(name):
        return Plan(path, before, before, "absent")
    if len(servers.get(name)) > 1:
        raise InstallRefused(f"{path}: {container}.{name} appears twice; left untouched")
    expected = root.to_python()
    del expected[container][name]
    after = remove_member(before, servers, name)
    return Plan(path, before, _checked(path, after, jsonc, expected), "removed")


def write_plan(plan: Plan) -> Path | None:
    """Write the new text; returns the backup's path (None when there was no file)."""
    real = Path(os.path.realpath(plan.path))
    if _read(real) != plan.before:
        raise InstallRefused(f"{plan.path}: changed while we were editing it; run again")
    backup: Path | None = None
    if plan.before is not None:
        backup = real.with_name(real.name + BACKUP_SUFFIX)
        _atomic_write(backup, real.read_bytes(), like=real)
    else:
        real.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(real, plan.after.encode(), like=real if plan.before is not None else None)
    return backup


def _atomic_write(target: Path, data: bytes, *, like: Path | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if like is not None and like.exists():
            os.chmod(tmp, like.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
