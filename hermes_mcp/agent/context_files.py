"""Project context: the instruction files a session's system prompt carries.

- the user's ``$HERMES_MCP_HOME/AGENTS.md`` (preferences for every project), then
- the project's ``AGENTS.md`` at the workspace root, else its ``CLAUDE.md``.

Each is cut at :data:`MAX_BYTES` with a note saying so, and read again at the next turn
after ``stat`` says it changed (:class:`ContextRead`): an edit shows in the next turn's
prompt, and an unchanged file gives the same bytes (the prompt stays cacheable). A
context file is the user's text, not the model's, but it is read like any file a tool
reads (``tools/paths.py``):

- the project file's resolved path must lie inside the workspace (an ``AGENTS.md``
  symlink to ``~/.ssh/id_rsa`` or to the hermes secrets leads out of it and is refused),
  must not be a sensitive file (``.env``, keys, ``.git/``, the state directory, the
  config file; a file with a second hard link), and is opened without following any
  symlink on the way (a directory swapped meanwhile is refused, not followed);
- the user file lives in the state directory, which the file tools refuse: only that one
  name is read there, never through a symlink, and only when it has one link;
- a file whose first bytes are a PEM private key is refused whatever its name, and the
  text is redacted (key-shaped strings) before it reaches a model.

A refused file is left out with a one-line note in the prompt and a log line, so the
user can see why their instructions were not followed. What this cannot stop: the model
may write ``AGENTS.md`` itself (a write the policy asks about in ``ask`` mode), and the
next turn's prompt then carries what it wrote.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hermes_mcp.log import get_logger, redact
from tools.paths import (
    SensitiveFiles,
    hard_links,
    is_within,
    looks_like_private_key,
    open_beneath,
    open_directory,
    open_regular,
    read_at_most,
    realpath,
)
from tools.registry import ToolError

log = get_logger("hermes_mcp.context")

MAX_BYTES = 32 * 1024
PROJECT_NAMES = ("AGENTS.md", "CLAUDE.md")
USER_NAME = "AGENTS.md"


@dataclass(frozen=True)
class ContextFile:
    """One instruction file: ``scope`` ``user`` or ``project``; ``name`` as shown to the
    model; ``text`` (cut at :data:`MAX_BYTES`); ``size`` in bytes; ``refused`` says why
    it was left out (``text`` is then empty)."""

    scope: str
    name: str
    text: str = ""
    size: int = 0
    refused: str | None = None

    @property
    def cut(self) -> bool:
        return self.refused is None and self.size > MAX_BYTES


#: What decides whether a context file must be read again: for each path looked at,
#: its own and its target's (device, inode, size, mtime, ctime), or None when missing.
Signature = tuple[tuple[int, int, int, int, int] | None, ...]


def _stat(path: Path, *, follow: bool) -> tuple[int, int, int, int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=follow)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _signature(paths: Sequence[Path]) -> Signature:
    return tuple(_stat(p, follow=follow) for p in paths for follow in (False, True))


@dataclass(frozen=True)
class ContextRead:
    """The rendered section of one reading and what to check to know it is current."""

    section: str
    paths: tuple[Path, ...] = ()
    signature: Signature = ()

    UNREAD: ClassVar[ContextRead]

    def stale(self) -> bool:
        """Whether a file changed since (a few ``stat`` calls, no read): any change of
        a name, its link target, size or times means a new reading, with every check."""
        return not self.paths or _signature(self.paths) != self.signature


ContextRead.UNREAD = ContextRead("")


def _candidates(workspace: Path, state_dir: Path | None) -> tuple[Path, ...]:
    paths = [workspace / name for name in PROJECT_NAMES]
    if state_dir is not None:
        paths.insert(0, state_dir / USER_NAME)
    return tuple(paths)


def absent(workspace: Path, state_dir: Path | None) -> ContextRead | None:
    """The reading when no context file exists (a few ``stat`` calls, nothing to read:
    no worker thread needed), else ``None``."""
    paths = _candidates(workspace, state_dir)
    signature = _signature(paths)
    return ContextRead("", paths, signature) if not any(signature) else None


def read(workspace: Path, state_dir: Path | None, config_file: Path | None = None) -> ContextRead:
    """:func:`read_context_files`, rendered, with the signature taken before the read (a
    change during the read shows as stale next time). Blocking."""
    paths = _candidates(workspace, state_dir)
    signature = _signature(paths)
    files = read_context_files(workspace, state_dir, config_file)
    return ContextRead(render(files), paths, signature)


def read_context_files(
    workspace: Path, state_dir: Path | None, config_file: Path | None = None
) -> list[ContextFile]:
    """The user's file (when ``state_dir`` is known) and the project's, those that exist,
    in that order. Blocking: call it in a worker thread."""
    found: list[ContextFile] = []
    if state_dir is not None:
        user = _read_user(state_dir)
        if user is not None:
            found.append(user)
    project = _read_project(workspace, SensitiveFiles(state_dir, config_file))
    if project is not None:
        found.append(project)
    return found


def _read_project(workspace: Path, sensitive: SensitiveFiles) -> ContextFile | None:
    for name in PROJECT_NAMES:
        path = workspace / name
        if not os.path.lexists(path):
            continue
        try:
            root = realpath(workspace)
            resolved = realpath(path)
        except OSError as exc:
            return _refused("project", name, f"cannot resolve it ({exc.strerror})")
        if not is_within(resolved, root):
            return _refused("project", name, f"it leads out of the workspace (to {resolved})")
        reason = sensitive.reason(resolved)
        if reason is None and hard_links(resolved) > 1:
            reason = "it has more than one hard link"
        if reason is not None:
            return _refused("project", name, f"a sensitive file: {reason}")
        try:
            fd = open_beneath(resolved)
        except (OSError, ValueError, ToolError) as exc:
            return _refused("project", name, _why(exc))
        return _read("project", name, fd)
    return None


def _read_user(state_dir: Path) -> ContextFile | None:
    name = f"{state_dir}/{USER_NAME}"
    try:
        directory = realpath(state_dir)
        dfd = open_directory(directory)
    except (OSError, ValueError, ToolError):
        return None  # no state directory yet: no user file either
    try:
        try:
            info = os.stat(USER_NAME, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if info.st_nlink > 1:
            return _refused("user", name, "it has more than one hard link")
        try:
            fd = open_regular(USER_NAME, follow_symlinks=False, dir_fd=dfd)
        except (OSError, ValueError, ToolError) as exc:
            return _refused("user", name, _why(exc))
    finally:
        os.close(dfd)
    return _read("user", name, fd)


def _read(scope: str, name: str, fd: int) -> ContextFile:
    try:
        size = os.fstat(fd).st_size
        data = read_at_most(fd, MAX_BYTES + 1)
    except OSError as exc:
        return _refused(scope, name, _why(exc))
    finally:
        os.close(fd)
    if looks_like_private_key(data[:4096]):
        return _refused(scope, name, "it holds a private key")
    size = max(size, len(data))
    if len(data) > MAX_BYTES:
        end = MAX_BYTES
        while end > 0 and data[end] & 0xC0 == 0x80:  # not inside a UTF-8 character
            end -= 1
        data = data[:end]
    text = redact(data.decode("utf-8", errors="replace"))
    return ContextFile(scope, name, text, size)


def _refused(scope: str, name: str, reason: str) -> ContextFile:
    log.warning("context_file.refused", scope=scope, file=name, reason=reason)
    return ContextFile(scope, name, refused=reason)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot open it ({exc.strerror})"
    return str(exc)


_HEADINGS = {
    "user": "The user's own instructions ({name}), for every project:",
    "project": "The project's instructions ({name}, at the workspace root):",
}


def render(files: Sequence[ContextFile]) -> str:
    """The prompt section for ``files`` ("" when there are none)."""
    blocks: list[str] = []
    for file in files:
        if file.refused is not None:
            blocks.append(f"({file.name} was not read: {file.refused}.)")
            continue
        heading = _HEADINGS[file.scope].format(name=file.name)
        body = file.text.strip()
        if file.cut:
            body += (
                f"\n\n[{file.name} is {file.size:,} bytes: only the first {MAX_BYTES:,} are"
                " shown here; read the file for the rest.]"
            )
        blocks.append(f"{heading}\n<instructions>\n{body}\n</instructions>")
    if not blocks:
        return ""
    return "# Instructions\n\n" + "\n\n".join(blocks)
