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

import contextlib
import os
import signal
import stat
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import anyio.abc

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
        IsADirectoryError, FileTooLargeError or BinaryFileError."""
        ...

    async def write_text(self, path: Path, text: str) -> None:
        """Replace (or create, with its parent directories) the file."""
        ...


def _read(path: Path, max_bytes: int) -> str:
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path} is a directory")
    if info.st_size > max_bytes:
        raise FileTooLargeError(path, info.st_size, max_bytes)
    with open(path, "rb", buffering=0) as handle:
        data = handle.readall()  # sized by the stat above, not by max_bytes
    if len(data) > max_bytes:
        raise FileTooLargeError(path, len(data), max_bytes)
    if b"\0" in data[:8192]:
        raise BinaryFileError(path, len(data), "NUL bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BinaryFileError(path, len(data), "not UTF-8") from None


def _write(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        with open(path, "xb") as handle:
            handle.write(data)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
            async for chunk in process.stdout:
                output.add(chunk)
                if on_output is not None:
                    await on_output(chunk.decode("utf-8", errors="replace"))
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
