"""An editor for the ACP tests: the SDK's client to ``hermes-acp``, over real stdio to a
process (:func:`connect`) or over two pipes to the agent served in the test's own process
(:func:`connect_in_process`, see tests/in_process.py).

:class:`Editor` records every session update, answers permission requests from a
queue, and, when it declares them, serves ``fs/*`` from in-memory buffers and
``terminal/*`` with pretend terminals (a command "prints" ``ran: COMMAND``; one
containing ``sleep`` runs until it is killed), so a test can prove nothing touched the
disk.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acp
import anyio
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    CreateTerminalResponse,
    DeniedOutcome,
    EnvVariable,
    FileSystemCapabilities,
    KillTerminalResponse,
    PermissionOption,
    ReadTextFileResponse,
    ReleaseTerminalResponse,
    RequestPermissionResponse,
    TerminalOutputResponse,
    TextContentBlock,
    ToolCallUpdate,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)

from tests.in_process import Pipes, environment

HERMES_ACP = str(Path(sys.executable).parent / "hermes-acp")


@dataclass
class Terminal:
    command: str
    args: list[str]
    cwd: str | None
    env: dict[str, str]
    output: str = ""
    exit_code: int | None = None
    signal: str | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    killed: bool = False
    released: bool = False


@dataclass
class Asked:
    session_id: str
    tool_call: ToolCallUpdate
    options: list[PermissionOption]


class Editor(acp.Client):
    def __init__(self, *, fs: bool = False, terminal: bool = False) -> None:
        self.fs = fs
        self.terminal = terminal
        self.updates: list[tuple[str, Any]] = []
        self.asked: list[Asked] = []
        self.answers: list[str] = []  # option ids, in order; empty: allow_once
        self.buffers: dict[str, str] = {}
        self.writes: list[tuple[str, str]] = []
        self.reads: list[str] = []
        self.terminals: dict[str, Terminal] = {}
        self._changed = anyio.Event()

    @property
    def capabilities(self) -> ClientCapabilities:
        return ClientCapabilities(
            fs=FileSystemCapabilities(read_text_file=self.fs, write_text_file=self.fs),
            terminal=self.terminal,
        )

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:  # noqa: ASYNC109
        with anyio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()

    def kinds(self, session_id: str | None = None) -> list[str]:
        return [
            u.session_update for sid, u in self.updates if session_id is None or sid == session_id
        ]

    def of(self, kind: str, session_id: str | None = None) -> list[Any]:
        return [
            u
            for sid, u in self.updates
            if u.session_update == kind and (session_id is None or sid == session_id)
        ]

    def text(self, session_id: str | None = None, kind: str = "agent_message_chunk") -> str:
        return "".join(
            u.content.text for u in self.of(kind, session_id) if hasattr(u.content, "text")
        )

    # -- acp.Client ----------------------------------------------------------------------------

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))
        self._touch()

    async def request_permission(
        self,
        session_id: str,
        tool_call: ToolCallUpdate,
        options: list[PermissionOption],
        **kwargs: Any,
    ) -> RequestPermissionResponse:
        self.asked.append(Asked(session_id, tool_call, options))
        self._touch()
        answer = self.answers.pop(0) if self.answers else "allow_once"
        if answer == "cancelled":
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=answer)
        )

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> ReadTextFileResponse:
        self.reads.append(path)
        if path not in self.buffers:
            raise acp.RequestError.resource_not_found(path)
        return ReadTextFileResponse(content=self.buffers[path])

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse | None:
        self.writes.append((path, content))
        self.buffers[path] = content
        self._touch()
        return WriteTextFileResponse()

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> CreateTerminalResponse:
        tid = f"term-{len(self.terminals) + 1}"
        shown = (args or [command])[-1]
        term = Terminal(command, list(args or []), cwd, {e.name: e.value for e in env or []})
        term.output = f"ran: {shown}\n"
        if "sleep" not in shown:
            term.exit_code = 0
            term.done.set()
        self.terminals[tid] = term
        self._touch()
        return CreateTerminalResponse(terminal_id=tid)

    async def terminal_output(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> TerminalOutputResponse:
        term = self.terminals[terminal_id]
        return TerminalOutputResponse(output=term.output, truncated=False)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> WaitForTerminalExitResponse:
        term = self.terminals[terminal_id]
        await term.done.wait()
        return WaitForTerminalExitResponse(exit_code=term.exit_code, signal=term.signal)

    async def kill_terminal(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> KillTerminalResponse | None:
        term = self.terminals[terminal_id]
        term.killed = True
        if not term.done.is_set():
            term.signal = "SIGKILL"
            term.done.set()
        self._touch()
        return KillTerminalResponse()

    async def release_terminal(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> ReleaseTerminalResponse | None:
        self.terminals[terminal_id].released = True
        self._touch()
        return ReleaseTerminalResponse()


def text(value: str) -> list[TextContentBlock]:
    return [TextContentBlock(type="text", text=value)]


@asynccontextmanager
async def connect(
    editor: Editor, env: dict[str, str], cwd: Path
) -> AsyncIterator[acp.ClientSideConnection]:
    """``hermes-acp`` spawned and initialized (stderr is the test's: logs are checked for
    secrets like every other output)."""
    async with acp.spawn_agent_process(
        editor,
        HERMES_ACP,
        env=env,
        cwd=cwd,
        transport_kwargs={"stderr": None},
        use_unstable_protocol=True,
    ) as (conn, _proc):
        with anyio.fail_after(30):
            await conn.initialize(protocol_version=1, client_capabilities=editor.capabilities)
        yield conn


@asynccontextmanager
async def connect_in_process(
    editor: Editor, env: dict[str, str], cwd: Path
) -> AsyncIterator[acp.ClientSideConnection]:
    """``hermes-acp``'s ``serve`` in this process with ``env`` as its environment and
    ``cwd`` as its directory, its own stdio transport on two pipes, and the SDK's client
    on their other ends; initialized. Leaving ends the agent as the end of stdin does."""
    from acp_adapter.stdio import serve

    pipes = Pipes.open()
    ended = anyio.Event()

    async def agent() -> None:
        try:
            await serve(pipes.edge_out, stdin_fd=pipes.edge_in)
        finally:
            pipes.close_edge_ends()
            ended.set()

    with environment(env, cwd):
        async with anyio.create_task_group() as tg:
            tg.start_soon(agent)
            reader, writer = await pipes.client_streams()
            conn = acp.connect_to_agent(editor, writer, reader, use_unstable_protocol=True)
            try:
                with anyio.fail_after(30):
                    await conn.initialize(
                        protocol_version=1, client_capabilities=editor.capabilities
                    )
                yield conn
            finally:
                writer.close()  # the end of the agent's stdin
                with anyio.fail_after(30):
                    await ended.wait()
                await conn.close()
                pipes.close_client_ends()
                gc.collect()  # what the agent left open warns here, in its own test


def process_env(base: dict[str, str]) -> dict[str, str]:
    return {**base, "PATH": os.environ.get("PATH", "")}
