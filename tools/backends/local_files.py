"""The local disk as a :class:`~tools.backends.base.FileBackend`.

Reads and writes reach their file from ``/`` one component at a time without following
a symlink (``openat`` with ``O_NOFOLLOW`` on every component): a directory swapped for a
symlink between the path check and the open is refused, never followed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import anyio

from tools.backends.base import BinaryFileError, FileTooLargeError
from tools.paths import SpecialFileError, open_beneath, open_directory, read_at_most


def _read(path: Path, max_bytes: int) -> str:
    """The text of the regular file at the resolved ``path``: FIFOs, devices and a
    symlink swapped into any component are refused without blocking, and no more
    than ``max_bytes + 1`` bytes are read even if the file grows after the size check."""
    fd = open_beneath(path)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise FileTooLargeError(path, size, max_bytes)
        data = read_at_most(fd, max_bytes + 1)
        if len(data) > max_bytes:  # it grew after the fstat
            raise FileTooLargeError(path, max(os.fstat(fd).st_size, len(data)), max_bytes)
    finally:
        os.close(fd)
    if b"\0" in data[:8192]:
        raise BinaryFileError(path, len(data), "NUL bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BinaryFileError(path, len(data), "not UTF-8") from None


def _write(path: Path, text: str) -> None:
    """Replace or create the file at the resolved ``path``. Its directory is opened
    without following symlinks (see :func:`tools.paths.open_directory`) and the file is
    written relative to it with ``O_NOFOLLOW``: a new file directly, an existing one
    through a temporary file in the same directory that atomically replaces it (its mode
    is kept)."""
    data = text.encode("utf-8")
    dfd = open_directory(path.parent, create=True, outcome="nothing was written")
    try:
        name = path.name
        try:
            info = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(name, flags, 0o666, dir_fd=dfd), "wb") as handle:
                handle.write(data)
            return
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{path} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise SpecialFileError(path, info.st_mode)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            tmp = f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(tmp, flags, 0o600, dir_fd=dfd)
                break
            except FileExistsError:
                continue
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), stat.S_IMODE(info.st_mode))
                handle.write(data)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dfd)
            raise
    finally:
        os.close(dfd)


class LocalFiles:
    """The local disk; blocking calls run in a worker thread. Writes replace atomically."""

    async def read_text(self, path: Path, *, max_bytes: int) -> str:
        return await anyio.to_thread.run_sync(_read, path, max_bytes)

    async def write_text(self, path: Path, text: str) -> None:
        await anyio.to_thread.run_sync(_write, path, text)
