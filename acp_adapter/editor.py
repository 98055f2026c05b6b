"""The editor's files and terminal behind the tools' back-end protocols.

When the client declares ``fs.readTextFile`` / ``fs.writeTextFile``, :class:`EditorFiles`
reads and writes through ``fs/read_text_file`` and ``fs/write_text_file``: the model sees
unsaved buffers and its edits land in the editor (which saves them). When it declares
``terminal``, :class:`EditorTerminal` runs each command in an editor terminal:
``terminal/create`` (``/bin/sh -c COMMAND`` in the tool's cwd, with the tool's
environment overrides, credential variables blanked, and the output cap), shown inside
the tool call (and reported through ``on_start``), then
``terminal/wait_for_exit`` within the time limit, ``terminal/output``, and always
``terminal/release``; on a timeout or a cancelled turn the terminal is killed first.

Listing and searching (``list_dir``, ``search_files``) stay on the local disk: ACP has
no directory listing or search, and the editor's files are the same files on this
machine; only unsaved buffers differ, which ``read_file`` sees.

The terminal tool does not pass its call id to the back-end, so :class:`TerminalLinks`
pairs a started command with its call: the edge records each ``terminal`` call as its
``tool_call_start`` passes (the turn hands events over unbuffered, so the record exists
before the command is started) and the back-end claims the oldest unclaimed call with the
same command. A command it cannot pair (a delegated task's) still runs in an editor
terminal; it is just not embedded.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from acp import RequestError
from acp.interfaces import Client
from acp.schema import EnvVariable

from hermes_mcp.log import contains_secret, get_logger
from tools.backends import (
    BinaryFileError,
    CommandOutcome,
    FileTooLargeError,
    LocalFiles,
    OutputCallback,
    StartedCallback,
    TerminalStarted,
)
from tools.environment import is_credential_name, scrubbed_environment
from tools.registry import ToolError

log = get_logger("acp_adapter.editor")

OUTPUT_POLL_S = 0.5  # how often a command's output is read for progress events
_NOT_FOUND = ("not found", "no such file", "does not exist", "enoent", "cannot find")


def _missing(exc: RequestError) -> bool:
    text = f"{exc} {exc.data}".lower()
    return exc.code == -32002 or any(marker in text for marker in _NOT_FOUND)


class EditorFiles:
    """Files through the client's ``fs/*`` methods (each side only if declared)."""

    def __init__(self, conn: Client, session_id: str, *, read: bool, write: bool) -> None:
        self._conn = conn
        self._session_id = session_id
        self._read = read
        self._write = write
        self._local = LocalFiles()

    async def read_text(self, path: Path, *, max_bytes: int) -> str:
        if not self._read:
            return await self._local.read_text(path, max_bytes=max_bytes)
        try:
            response = await self._conn.read_text_file(self._session_id, str(path))
        except RequestError as exc:
            if _missing(exc):
                raise FileNotFoundError(str(path)) from None
            raise ToolError(f"the editor could not read {path}: {exc}") from None
        text = response.content
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > max_bytes:
            raise FileTooLargeError(path, size, max_bytes)
        if "\0" in text[:8192]:
            raise BinaryFileError(path, size, "NUL bytes")
        return text

    async def write_text(self, path: Path, text: str) -> None:
        if not self._write:
            await self._local.write_text(path, text)
            return
        try:
            await self._conn.write_text_file(self._session_id, str(path), text)
        except RequestError as exc:
            raise ToolError(f"the editor could not write {path}: {exc}") from None


AttachTerminal = Callable[[str, str], Awaitable[None]]


@dataclass
class TerminalLinks:
    """Pairs ``terminal`` tool calls (seen as they start) with the commands the back-end
    starts; see the module docstring."""

    _waiting: list[tuple[str, str]] = field(default_factory=list)  # (call_id, command)

    def expect(self, call_id: str, command: str) -> None:
        self._waiting.append((call_id, command))

    def done(self, call_id: str) -> None:
        self._waiting = [w for w in self._waiting if w[0] != call_id]

    def claim(self, command: str) -> str | None:
        for i, (call_id, wanted) in enumerate(self._waiting):
            if wanted == command:
                del self._waiting[i]
                return call_id
        return None


def editor_environment(overrides: Mapping[str, str] | None) -> list[EnvVariable]:
    """What a command in the editor's terminal gets on top of the editor's environment:
    the tool's overrides, and every variable of this process that names a credential or
    holds a registered secret set to the empty string (ACP can set variables, not unset
    them; the editor most likely started this process with its own environment)."""
    blanked = {
        name: ""
        for name, value in os.environ.items()
        if is_credential_name(name) or contains_secret(value)
    }
    merged = {**blanked, **scrubbed_environment(overrides or {})}
    return [EnvVariable(name=k, value=v) for k, v in sorted(merged.items())]


def _signal_number(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        return None


class EditorTerminal:
    """Commands in editor terminals (``terminal/*``); see the module docstring."""

    def __init__(
        self,
        conn: Client,
        session_id: str,
        links: TerminalLinks,
        attach: AttachTerminal,
        *,
        poll_s: float = OUTPUT_POLL_S,
    ) -> None:
        self._conn = conn
        self._session_id = session_id
        self._links = links
        self._attach = attach
        self._poll_s = poll_s

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
        sid = self._session_id
        created = await self._conn.create_terminal(
            sid,
            "/bin/sh",
            args=["-c", command],
            env=editor_environment(env),
            cwd=str(cwd),
            output_byte_limit=output_limit,
        )
        terminal = created.terminal_id
        status = None
        killed = False
        try:
            if on_start is not None:
                await on_start(TerminalStarted(terminal, command))
            call_id = self._links.claim(command)
            if call_id is not None:
                await self._attach(call_id, terminal)
            with anyio.move_on_after(time_limit):
                async with anyio.create_task_group() as tg:
                    if on_output is not None:
                        tg.start_soon(self._pump, terminal, on_output)
                    status = await self._conn.wait_for_terminal_exit(sid, terminal)
                    tg.cancel_scope.cancel()
            if status is None:  # the time limit: stop it, then read what it printed
                killed = True
                await self._conn.kill_terminal(sid, terminal)
            output = await self._conn.terminal_output(sid, terminal)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._end(terminal, kill=status is None and not killed)
        exit_code: int | None = None
        signal_name = None
        if status is not None:
            signal_name = status.signal or None
            signum = _signal_number(signal_name)
            exit_code = -signum if signum is not None else status.exit_code
        text = output.output
        if output.truncated:
            text = f"[... earlier output dropped by the editor ...]\n{text}"
        return CommandOutcome(
            exit_code=exit_code,
            output=text,
            omitted_bytes=0,
            timed_out=status is None,
            signal=signal_name,
            terminal_id=terminal,
        )

    async def _end(self, terminal: str, *, kill: bool) -> None:
        """Kill (a cancelled turn) and release the terminal, whatever happened."""
        sid = self._session_id
        if kill:
            try:
                await self._conn.kill_terminal(sid, terminal)
            except (RequestError, ConnectionError) as exc:
                log.warning("acp_terminal_kill_failed", error=str(exc))
        try:
            await self._conn.release_terminal(sid, terminal)
        except (RequestError, ConnectionError) as exc:
            log.warning("acp_terminal_release_failed", error=str(exc))

    async def _pump(self, terminal: str, on_output: OutputCallback) -> None:
        """Read the output so far every ``poll_s`` and report what is new."""
        seen = ""
        while True:
            await anyio.sleep(self._poll_s)
            try:
                now = await self._conn.terminal_output(self._session_id, terminal)
            except RequestError:
                return
            if now.output.startswith(seen) and len(now.output) > len(seen):
                await on_output(now.output[len(seen) :])
            seen = now.output
