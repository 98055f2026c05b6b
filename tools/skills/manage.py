"""Writing skills: create, patch and delete, only under the user root
(``$HERMES_MCP_HOME/skills``).

These functions write; they do not decide whether to. ``skill_manage`` (``tools.py``)
checks the name, shows the change and asks the policy first. Every write reaches the
root without following a symlink, creates the folder exclusively, and replaces
``SKILL.md`` atomically (a temporary file renamed over it), so a reader never sees half
a skill. A patched ``SKILL.md`` must still be a valid skill of the same name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from tools import paths
from tools.registry import ToolError
from tools.skills.discovery import SKILL_FILE, open_folder, readable
from tools.skills.format import MAX_SKILL_BYTES, SkillFormatError, parse

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def _root(root: Path, *, create: bool) -> Iterator[int]:
    """A descriptor on the user root (created when ``create``), no symlink below its
    resolved path followed."""
    resolved = paths.realpath(root)
    handle = paths.open_directory(resolved, create=create, outcome="nothing was written")
    with readable(handle) as fd:
        yield fd


def _replace(folder: int, text: str) -> None:
    temp = f".{SKILL_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(temp, _WRITE, 0o644, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        raise
    os.close(fd)
    os.replace(temp, SKILL_FILE, src_dir_fd=folder, dst_dir_fd=folder)


def check(text: str, name: str) -> None:
    """ToolError unless ``text`` is a valid ``SKILL.md`` for the skill ``name``."""
    if len(text.encode("utf-8")) > MAX_SKILL_BYTES:
        raise ToolError(f"the skill would be larger than {MAX_SKILL_BYTES} bytes")
    try:
        parse(text, name)
    except SkillFormatError as exc:
        raise ToolError(f"not a valid skill: {exc}; nothing was written") from None


def create(root: Path, name: str, text: str) -> None:
    """A new skill folder ``name`` holding ``text`` as its ``SKILL.md``."""
    check(text, name)
    with _root(root, create=True) as fd:
        try:
            os.mkdir(name, 0o755, dir_fd=fd)
        except FileExistsError:
            raise ToolError(
                f"skill {name!r} already exists in {root}: patch it, or delete it first"
            ) from None
        folder = open_folder(fd, name)
        try:
            _replace(folder, text)
        finally:
            os.close(folder)


def current(root: Path, name: str) -> str:
    """The ``SKILL.md`` text of the user's skill ``name`` (ToolError when there is none)."""
    try:
        with _root(root, create=False) as fd:
            folder = open_folder(fd, name)
            try:
                file = paths.open_regular(SKILL_FILE, follow_symlinks=False, dir_fd=folder)
            finally:
                os.close(folder)
    except FileNotFoundError:
        raise ToolError(f"no skill {name!r} in {root}") from None
    except (NotADirectoryError, paths.SpecialFileError):
        raise ToolError(
            f"{root / name} is not a skill folder (a file or a symlink; symlinks are not "
            "followed); nothing was changed"
        ) from None
    except OSError as exc:
        raise ToolError(f"skill {name!r}: {exc.strerror or exc}") from None
    try:
        data = paths.read_at_most(file, MAX_SKILL_BYTES + 1)
    finally:
        os.close(file)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"skill {name!r}: {SKILL_FILE} is not UTF-8 text") from None


def patched(text: str, old: str, new: str, name: str) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new``, still valid."""
    count = text.count(old) if old else 0
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        raise ToolError(
            f"old_text {where} in skill {name!r}'s {SKILL_FILE}; it must occur exactly once"
        )
    result = text.replace(old, new, 1)
    check(result, name)
    return result


def write(root: Path, name: str, text: str, *, expected: str) -> None:
    """Replace the ``SKILL.md`` of the user's existing skill ``name``, which must still
    read ``expected`` (what the change was made from, before an approval wait)."""
    check(text, name)
    if current(root, name) != expected:
        raise ToolError(f"skill {name!r} changed on disk meanwhile; nothing was written")
    with _root(root, create=False) as fd:
        folder = open_folder(fd, name)
        try:
            _replace(folder, text)
        finally:
            os.close(folder)


def delete(root: Path, name: str, *, expected: str) -> None:
    """Remove the user's skill folder ``name`` and everything in it (links inside are
    removed, never followed), when its ``SKILL.md`` still reads ``expected``."""
    if current(root, name) != expected:
        raise ToolError(f"skill {name!r} changed on disk meanwhile; nothing was deleted")
    try:
        with _root(root, create=False) as fd:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                raise ToolError(f"{root / name} is not a skill folder; nothing was deleted")
            shutil.rmtree(name, dir_fd=fd)
    except FileNotFoundError:
        raise ToolError(f"no skill {name!r} in {root}") from None
