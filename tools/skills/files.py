"""Reading a skill: its body and the files in its folder, confined to the folder.

Every path is opened from the skill's root one component at a time without following a
symlink (``tools/paths.py``), so neither a symlink inside a skill nor one swapped in
after discovery leads out of it. A relative path is all ``skill_view`` takes: no
absolute path, no ``..``, no hidden component. Files are text only (UTF-8), capped at
:data:`MAX_FILE_BYTES`; like ``read_file``, a skill file that looks sensitive (a key, a
``.env``; a private key by its content) or has a second hard link (another name for it
may lie anywhere) is refused rather than shown.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from hermes_mcp.log import redact
from tools import paths
from tools.registry import ToolError
from tools.skills.discovery import SKILL_FILE, Skill, decode, open_skill
from tools.skills.format import MAX_SKILL_BYTES, SkillFormatError, parse

MAX_FILE_BYTES = 256 * 1024
MAX_LISTED = 200  # files named by skill_view
MAX_DEPTH = 4
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def relative_parts(raw: str) -> tuple[str, ...]:
    """A path inside a skill's folder as its parts; ToolError for anything else."""
    if not raw or "\0" in raw or "\\" in raw:
        raise ToolError(f"invalid path {raw[:100]!r} inside a skill")
    pure = PurePosixPath(raw)
    if pure.is_absolute():
        raise ToolError(f"{raw!r}: give a path relative to the skill's folder")
    parts = tuple(p for p in pure.parts if p != ".")
    if not parts or any(p == ".." or p.startswith(".") for p in parts):
        raise ToolError(f"{raw!r}: only files inside the skill's folder (no '..', no dot files)")
    return parts


def _open_in(skill: Skill, parts: tuple[str, ...]) -> int:
    """A descriptor on the regular file ``parts`` below the skill's folder."""
    fd = open_skill(skill)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
        return paths.open_regular(parts[-1], follow_symlinks=False, dir_fd=fd)
    finally:
        os.close(fd)


def read_text(skill: Skill, parts: tuple[str, ...], limit: int = MAX_FILE_BYTES) -> str:
    """The text of one file in the skill (ToolError naming the problem)."""
    shown = "/".join(parts)
    reason = paths.sensitive_reason(Path(shown))
    if reason is not None:
        raise ToolError(f"{shown}: not shown ({reason}); read it with read_file, which asks")
    try:
        fd = _open_in(skill, parts)
    except FileNotFoundError:
        raise ToolError(f"skill {skill.name!r} has no file {shown!r}") from None
    except IsADirectoryError:
        raise ToolError(f"{shown!r} is a folder of skill {skill.name!r}, not a file") from None
    except NotADirectoryError:
        raise ToolError(
            f"{shown!r} is not a file of skill {skill.name!r} (a folder on the way is a file "
            "or a symlink; symlinks are not followed)"
        ) from None
    except OSError as exc:
        raise ToolError(f"{shown}: {exc.strerror or exc} (symlinks are not followed)") from None
    try:
        info = os.fstat(fd)
        if info.st_nlink > 1:
            raise ToolError(f"{shown}: not shown (it has other names: a hard link)")
        if info.st_size > limit:
            raise ToolError(f"{shown} is {info.st_size} bytes, more than {limit}")
        data = paths.read_at_most(fd, limit + 1)
    finally:
        os.close(fd)
    if paths.looks_like_private_key(data[:4096]):
        raise ToolError(f"{shown}: not shown (it holds a private key)")
    try:
        return decode(data)
    except SkillFormatError:
        raise ToolError(f"{shown} is not UTF-8 text ({len(data)} bytes); not shown") from None


def body(skill: Skill) -> str:
    """The skill's instructions (``SKILL.md`` after its front matter), read again and
    checked again (it may have changed since it was listed)."""
    text = read_text(skill, (SKILL_FILE,), MAX_SKILL_BYTES)
    try:
        return parse(text, skill.name)[1]
    except SkillFormatError as exc:
        raise ToolError(f"skill {skill.name!r} is no longer valid: {exc}") from None


def listing(skill: Skill) -> list[str]:
    """The files of the skill besides ``SKILL.md`` (relative paths, sorted; at most
    :data:`MAX_LISTED`; symlinks, dot files and deep folders left out)."""
    out: list[str] = []
    try:
        fd = open_skill(skill)
        try:
            _walk(fd, "", 0, out)
        finally:
            os.close(fd)
    except OSError:
        return out
    return sorted(p for p in out if p != SKILL_FILE)


def _walk(fd: int, prefix: str, depth: int, out: list[str]) -> None:
    for name in sorted(os.listdir(fd)):
        if len(out) > MAX_LISTED or name.startswith("."):
            continue
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            out.append(prefix + name)
        elif stat.S_ISDIR(info.st_mode) and depth < MAX_DEPTH:
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except OSError:
                continue
            try:
                _walk(child, f"{prefix}{name}/", depth + 1, out)
            finally:
                os.close(child)


def invocation(skill: Skill, body: str, files: list[str]) -> str:
    """A skill's instructions as a user message (an MCP prompt, an ACP ``/name`` turn):
    which skill, its body, then the files it has; key-shaped strings redacted, as in
    every tool result (``skill_view`` shows the same text)."""
    text = f'Use the skill "{skill.name}" ({skill.description})\n\n{body}'
    if files:
        text += "\n\n[files in this skill, readable with skill_view: " + ", ".join(files) + "]"
    return redact(text)
