"""File and terminal back-ends: two small protocols and their local implementations.

The tools never touch the disk or spawn a process themselves for the work the user sees:
they go through ``ctx.files`` and ``ctx.terminal``. The ACP edge can plug in the
editor's ``fs/read_text_file``/``fs/write_text_file`` (so unsaved buffers are seen and
edits land in the editor) and ``terminal/*`` (create, wait_for_exit with the timeout,
kill, output, release) behind the same two protocols.

:class:`LocalTerminal` runs ``/bin/sh -c COMMAND`` in its own session and process group
(``start_new_session``), stdin from ``/dev/null``, stderr merged into stdout. When the
command exits, times out or is cancelled, the whole group is signalled (SIGTERM, then
SIGKILL after a grace period), so no child it started outlives the call — background
jobs included. Output beyond the limit is dropped from the middle: the first and last
halves are kept (errors tend to be at the end) and the gap is marked.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import secrets
import signal
import stat
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import anyio.abc

from tools.paths import SpecialFileError, open_regular, read_at_most
from tools.registry import ToolError

OutputCallback = Callable[[str], Awaitable[None]]
KILL_GRACE_S = 0.5  # SIGTERM, then SIGKILL: a cancelled turn ends within a second
DRAIN_GRACE_S = 1.0


class FileTooLargeError(ToolError):
    def __init__(self, path: Path, size: int, limit: int) -> None:
        self.size = size
        super().__init__(
            f"{path} is {size:,} bytes, over the {limit:,}-byte limit; "
            "use search_files or a terminal command (head, sed -n) to look inside"
        )


class BinaryFileError(ToolError):
    def __init__(self, path: Path, size: int, why: str) -> None:
        self.size = size
        super().__init__(f"{path} looks binary ({why}, {size:,} bytes); not shown as text")


class FileBackend(Protocol):
    async def read_text(self, path: Path, *, max_bytes: int) -> str:
        """The file's text, newlines untouched. Raises FileNotFoundError,
        IsADirectoryError, FileTooLargeError, BinaryFileError or SpecialFileError (a
        FIFO, device or socket: refused, never opened in a way that blocks)."""
        ...

    async def write_text(self, path: Path, text: str) -> None:
        """Replace (or create, with its parent directories) the file at the resolved
        ``path``, without following a symlink swapped into it meanwhile."""
        ...


def _read(path: Path, max_bytes: int) -> str:
    """The text of the regular file at the resolved ``path``: FIFOs, devices and a
    symlink swapped into the last component are refused without blocking, and no more
    than ``max_bytes + 1`` bytes are read even if the file grows after the size check."""
    fd = open_regular(path, follow_symlinks=False)
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


_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(directory: Path) -> int:
    """A descriptor on ``directory`` (resolved: no symlink on the way), reached from ``/``
    one component at a time without following symlinks and creating missing ones, so a
    component swapped for a symlink (or a file) meanwhile is refused, not followed."""
    if not directory.is_absolute():
        raise ValueError(f"{directory} is not an absolute path")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in directory.parts[1:]:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ToolError(
                f"{directory} changed on disk (a directory on the way is now a symlink or a "
                "file); nothing was written"
            ) from None
        raise
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write(path: Path, text: str) -> None:
    """Replace or create the file at the resolved ``path``. Its directory is opened
    without following symlinks (see :func:`_open_dir`) and the file is written relative
    to it with ``O_NOFOLLOW``: a new file directly, an existing one through a temporary
    file in the same directory that atomically replaces it (its mode is kept)."""
    data = text.encode("utf-8")
    dfd = _open_dir(path.parent)
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


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None when the command was killed (timeout); -N for signal N
    output: str
    omitted_bytes: int  # output dropped to respect the limit
    timed_out: bool


class TerminalBackend(Protocol):
    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        time_limit: float,
        output_limit: int,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandOutcome:
        """Run ``command`` to completion or for at most ``time_limit`` seconds; on
        cancellation, kill it and everything it started before re-raising."""
        ...


class _CappedOutput:
    def __init__(self, limit: int) -> None:
        self.head_limit = limit - limit // 2
        self.tail_limit = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.tail_limit)]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def render(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.omitted:
            return head + self.tail.decode("utf-8", errors="replace")
        marker = f"\n[... output truncated: {self.omitted:,} bytes omitted ...]\n"
        return head + marker + self.tail.decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _end_group(process: anyio.abc.Process, grace: float) -> None:
    """Stop the command's process group: SIGTERM, a grace period, then SIGKILL."""
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            await process.wait()
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


class LocalTerminal:
    def __init__(self, shell: str = "/bin/sh", kill_grace: float = KILL_GRACE_S) -> None:
        self.shell = shell
        self.kill_grace = kill_grace

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        time_limit: float,
        output_limit: int,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandOutcome:
        output = _CappedOutput(output_limit)
        process = await anyio.open_process(
            [self.shell, "-c", command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        drained = anyio.Event()
        exited = False

        async def pump() -> None:
            assert process.stdout is not None
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            async for chunk in process.stdout:
                output.add(chunk)
                if on_output is not None:
                    text = decoder.decode(chunk)  # a character split across chunks stays whole
                    if text:
                        await on_output(text)
            if on_output is not None and (rest := decoder.decode(b"", final=True)):
                await on_output(rest)
            drained.set()

        try:
            with anyio.move_on_after(time_limit) as deadline:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(pump)
                    await process.wait()
                    exited = True
                    # Reap what the command left running, then read what is still piped.
                    _signal_group(process.pid, signal.SIGKILL)
                    with anyio.move_on_after(DRAIN_GRACE_S):
                        await drained.wait()
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await _end_group(process, self.kill_grace)
                await process.aclose()
        timed_out = deadline.cancelled_caught and not exited
        return CommandOutcome(
            exit_code=None if timed_out else process.returncode,
            output=output.render(),
            omitted_bytes=output.omitted,
            timed_out=timed_out,
        )
