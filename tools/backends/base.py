"""The back-end interfaces: files and terminals, and the errors and results they share.

The tools never touch the disk or spawn a process themselves for the work the user sees:
they go through ``ctx.files`` and ``ctx.terminal``. The ACP edge can plug in the
editor's ``fs/read_text_file``/``fs/write_text_file`` (so unsaved buffers are seen and
edits land in the editor) and ``terminal/*`` (create, wait_for_exit with the timeout,
kill, output, release) behind the same two protocols.

A terminal back-end reports a started command early (``on_start`` with a
:class:`TerminalStarted` carrying its id, as ``terminal/create`` answers with a
``terminalId``), takes ``env`` as overrides merged over the environment it starts
commands with (the scrubbed one, see ``tools/environment.py``), and reports how a
command ended as ACP does: an exit code, or the name of the signal that ended it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hermes_mcp.errors import ToolError


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


@dataclass(frozen=True)
class TerminalStarted:
    """A command that has started: its back-end id (the ACP ``terminalId``, or
    ``local-<pid>``) and, for a local process, its pid."""

    terminal_id: str
    command: str
    pid: int | None = None


OutputCallback = Callable[[str], Awaitable[None]]
StartedCallback = Callable[[TerminalStarted], Awaitable[None]]


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None when the command was killed (timeout); -N for signal N
    output: str
    omitted_bytes: int  # output dropped to respect the limit
    timed_out: bool
    signal: str | None = None  # the signal that ended it ("SIGKILL"), as ACP reports
    terminal_id: str | None = None


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
        on_start: StartedCallback | None = None,
    ) -> CommandOutcome:
        """Run ``command`` to completion or for at most ``time_limit`` seconds; on
        cancellation, kill it and everything it started before re-raising. ``env``
        is merged over the back-end's (scrubbed) environment; ``on_start`` is awaited
        once the command is running."""
        ...
