"""Path resolution, confinement and sensitive files.

Every path a tool receives goes through :func:`resolve`: ``~`` is expanded, a relative
path is taken from the base directory (the first workspace root unless the tool says
otherwise), and the result is resolved with ``os.path.realpath`` — ``..`` and every
symlink on the way, the last component included. The resolved path must lie inside a
workspace root or one of the extra paths the config allows; anything else (``../x``,
``/etc/passwd``, a symlink pointing out of the workspace) is refused with a message that
says where it led. Absolute paths inside the workspace are fine: ACP clients send them.

Sensitive files are refused for writes and flagged for reads (a read needs approval and
says so): ``.env*`` (not the ``.env.example``/``.sample``/``.template`` files projects
commit), private keys (``id_rsa``-style names, ``*.pem``, ``*.key``,
``*.p12``/``*.pfx``, ``*.ppk``, anything in ``.ssh/`` or ``.gnupg/``), credential files
(``.netrc``, ``.pgpass``, ``.git-credentials``, ``.npmrc``, ``.pypirc``,
``.aws/credentials``), everything inside a ``.git`` directory and a ``.git`` file
(editing ``.git/config`` — ``core.fsmonitor``, aliases — or a hook runs code on the
next ``git`` command), everything inside the hermes state directory (its database and
keys) and the hermes config file (editing it could change the policy), wherever they
live. Names are compared case-insensitively (macOS and Windows file systems are), and
a regular file with more than one hard link is flagged too: another name for it may lie
outside the workspace. A file whose first bytes are a PEM private key is sensitive
whatever its name.

Files are opened with :func:`open_regular`: only regular files, never a FIFO, device or
socket (opening or reading one could block forever), checked before the open and again
on the open descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from hermes_mcp.errors import ToolError
from tools.linear_re import LinearPattern, compile_pattern

_SENSITIVE_NAMES = (
    ".env*",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.ppk",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
)
_TEMPLATES = (".env.example", ".env.sample", ".env.template")
_SENSITIVE_DIRS = (".ssh", ".gnupg", ".git")
_PEM_PRIVATE = b"PRIVATE KEY-----"


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    return path == root or root in path.parents


def glob_regex(pattern: str, flags: int = 0, *, linear: bool = True) -> LinearPattern:
    """A path glob as a regex: ``*``/``?`` within a segment, ``**`` across segments,
    ``**/`` also matching no directory at all (``**/*.py`` matches ``a.py``); ``flags``
    may be ``re.IGNORECASE``. ``linear`` (for globs the model or a file supplies: search
    globs, ``.gitignore`` lines) compiles with RE2, so a hostile glob cannot backtrack;
    the config's own rules use ``re``, several times faster per match."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            c = pattern[i]
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
            i += 1
    if not linear:
        return re.compile("".join(out), re.DOTALL | flags)
    return compile_pattern("(?s)" + "".join(out), case_sensitive=not flags & re.IGNORECASE)


def realpath(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def resolve(
    raw: str,
    roots: Sequence[Path],
    extra: Sequence[Path] = (),
    *,
    base: Path | None = None,
) -> Path:
    """The resolved path for ``raw``, or a ToolError when it leaves the allowed places."""
    if not raw or "\0" in raw:
        raise ToolError("empty or invalid path")
    expanded = Path(os.path.expanduser(raw))
    start = base if base is not None else roots[0]
    joined = expanded if expanded.is_absolute() else start / expanded
    resolved = realpath(joined)
    if any(is_within(resolved, place) for place in (*roots, *extra)):
        return resolved
    lexical = Path(os.path.normpath(joined))
    how = " through a symlink" if any(is_within(lexical, r) for r in roots) else ""
    where = ", ".join(str(r) for r in roots)
    raise ToolError(
        f"path {raw!r} resolves{how} to {resolved}, outside the workspace ({where}); "
        "tools may only touch files inside the workspace roots"
    )


def display(path: Path, roots: Sequence[Path]) -> str:
    """``path`` relative to the first root containing it, else absolute."""
    for root in roots:
        if is_within(path, root):
            rel = path.relative_to(root).as_posix()
            return rel if rel else "."
    return str(path)


_NAME_PATTERNS = [(re.compile(fnmatch.translate(p), re.I), p) for p in _SENSITIVE_NAMES]
_ANY_NAME = re.compile("|".join(fnmatch.translate(p) for p in _SENSITIVE_NAMES), re.I)


class SensitiveFiles:
    """The sensitive-file test with the state directory and the config file resolved
    (and lower-cased) once: walks call it for every file, so it works on strings."""

    def __init__(self, state_dir: Path | None = None, config_file: Path | None = None) -> None:
        state = str(realpath(state_dir)).lower() if state_dir is not None else None
        self.state_dir = state
        self.state_prefix = state.rstrip("/") + "/" if state is not None else None
        self.config_file = str(realpath(config_file)).lower() if config_file is not None else None

    def reason(self, path: Path | str) -> str | None:
        low = str(path).lower()
        if self.state_prefix is not None and (
            low == self.state_dir or low.startswith(self.state_prefix)
        ):
            return "inside the hermes state directory"
        if low == self.config_file:
            return "the hermes config file"
        parts = low.split("/")
        name = parts[-1]
        if name == ".git":
            return "a .git file (it names the repository's git directory)"
        if _ANY_NAME.match(name) and name not in _TEMPLATES:
            pattern = next(p for regex, p in _NAME_PATTERNS if regex.match(name))
            return f"sensitive file name ({pattern})"
        for directory in _SENSITIVE_DIRS:
            if directory in parts:
                return f"inside a {directory} directory"
        if name == "credentials" and ".aws" in parts:
            return "cloud credentials"
        return None


def sensitive_reason(
    path: Path, state_dir: Path | None = None, config_file: Path | None = None
) -> str | None:
    """Why ``path`` (resolved) is a sensitive file, or ``None``."""
    return SensitiveFiles(state_dir, config_file).reason(path)


def hard_links(path: Path) -> int:
    """How many hard links the regular file at ``path`` has (1 for anything else)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return 1
    return info.st_nlink if stat.S_ISREG(info.st_mode) else 1


def looks_like_private_key(head: bytes) -> bool:
    return b"-----BEGIN" in head and _PEM_PRIVATE in head


_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISLNK, "symbolic link"),
)


class SpecialFileError(ToolError):
    """The path is not a regular file (a FIFO, device, socket...); it is not opened."""

    def __init__(self, path: Path | str, mode: int) -> None:
        self.kind = next((name for test, name in _KINDS if test(mode)), "special file")
        super().__init__(f"{path} is a {self.kind}, not a regular file; not opened")


def _check_regular(path: Path | str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path} is a directory")
    if not stat.S_ISREG(mode):
        raise SpecialFileError(path, mode)


def open_regular(
    path: Path | str, *, follow_symlinks: bool = True, dir_fd: int | None = None
) -> int:
    """A read-only descriptor on the regular file at ``path`` (relative to ``dir_fd``
    when given). Anything else is refused without blocking: the path is stat-ed first,
    opened ``O_NONBLOCK`` (a FIFO swapped in meanwhile does not wait for a writer) and
    the descriptor is fstat-ed again. With ``follow_symlinks=False`` a symlink in the
    last component is refused as well (see :func:`open_beneath` for every component).
    Raises FileNotFoundError, IsADirectoryError or :class:`SpecialFileError`."""
    _check_regular(path, os.stat(path, follow_symlinks=follow_symlinks, dir_fd=dir_fd).st_mode)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise SpecialFileError(path, stat.S_IFLNK) from None
        raise
    try:
        _check_regular(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathChangedError(ToolError):
    """A directory on the way to a resolved path is now a symlink or a file."""

    def __init__(self, directory: Path, outcome: str) -> None:
        super().__init__(
            f"{directory} changed on disk (a directory on the way is now a symlink or a "
            f"file); {outcome}"
        )


def open_directory(directory: Path, *, create: bool = False, outcome: str = "not read") -> int:
    """A descriptor on ``directory`` (resolved: no symlink on the way), reached from ``/``
    one component at a time without following symlinks (``openat`` + ``O_NOFOLLOW``),
    creating missing ones when ``create``: a component swapped for a symlink (or a file)
    after the path was checked is refused (:class:`PathChangedError`), not followed."""
    if not directory.is_absolute():
        raise ValueError(f"{directory} is not an absolute path")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in directory.parts[1:]:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PathChangedError(directory, outcome) from None
        raise
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_beneath(path: Path) -> int:
    """:func:`open_regular` on the resolved ``path`` with no symlink followed in any
    component (a directory swapped for a symlink meanwhile is refused)."""
    dfd = open_directory(path.parent)
    try:
        return open_regular(path.name, follow_symlinks=False, dir_fd=dfd)
    finally:
        os.close(dfd)


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd`` (fewer at the end of the file)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_regular(path: Path | str, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """Up to ``limit`` bytes of the regular file at ``path`` (see :func:`open_regular`)."""
    fd = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        return read_at_most(fd, limit)
    finally:
        os.close(fd)
