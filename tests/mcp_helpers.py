"""Driving ``hermes-mcp serve --protocol mcp`` with ``mcp.Client`` against the loopback
fake provider: as a real subprocess over real stdio (:func:`serve`), or served in the
test's own process over two pipes (:func:`serve_in_process`, see tests/in_process.py)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.message import SessionMessage

from hermes_mcp.testing import FakeProvider
from tests.in_process import Pipes, environment
from tests.keys import FALLBACK_KEY, KEY_A, seen
from tests.routing import HERMES, Home


@dataclass
class Served:
    client: Client
    home: Home
    workspace: Path
    stderr: Path | None  # None: served in process (its logs are the test's captured output)
    elicitations: list[str] = field(default_factory=list)
    elicit_answer: str = "allow"
    stray: list[Exception] = field(default_factory=list)  # non-protocol lines on stdout
    logs: list[Any] = field(default_factory=list)

    def stderr_text(self) -> str:
        return "" if self.stderr is None else seen(self.stderr.read_text())


def configure(
    home: Home, fake: FakeProvider, *, fallback: bool = False, policy: str = "auto"
) -> None:
    providers: dict[str, dict[str, Any]] = {
        "primary": {"url": fake.openai_base_url, "keys": [KEY_A]}
    }
    fallbacks: tuple[str, ...] = ()
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
        fallbacks = ("backup:gpt-4o-mini",)
    home.write(providers, "primary:gpt-4o", fallbacks)
    config = home.path / "config.toml"
    config.write_text(
        config.read_text() + f'[policy]\nmode = "{policy}"\n[mcp]\nprogress_interval_s = 0.5\n'
    )


def server_params(home: Home, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=HERMES, args=["serve", "--protocol", "mcp", *args], env=home.process_env
    )


class _Callbacks:
    """The client's side of a served test: elicitations answered from ``Served``,
    non-protocol lines and log notifications recorded."""

    def __init__(self) -> None:
        self.served: Served | None = None

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception) and self.served is not None:
            self.served.stray.append(message)

    async def on_elicit(
        self, context: Any, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        assert self.served is not None
        self.served.elicitations.append(params.message)
        return types.ElicitResult(action="accept", content={"decision": self.served.elicit_answer})

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        assert self.served is not None
        self.served.logs.append(params.data)

    def client(self, transport: AbstractAsyncContextManager[Any], mode: str) -> Client:
        return Client(
            transport,
            mode=mode,  # type: ignore[arg-type]
            message_handler=self.on_message,
            elicitation_callback=self.on_elicit,
            logging_callback=self.on_log,
            log_level="info",
            read_timeout_seconds=60,
        )


@asynccontextmanager
async def serve(
    home: Home, workspace: Path, mode: str, log: TextIO, stderr: Path
) -> AsyncIterator[Served]:
    """A real ``hermes-mcp serve`` process, ``mcp.Client`` on its stdio."""
    callbacks = _Callbacks()
    transport = stdio_client(server_params(home, "--workspace", str(workspace)), errlog=log)
    async with callbacks.client(transport, mode) as client:
        callbacks.served = Served(client, home, workspace, stderr)
        yield callbacks.served


@asynccontextmanager
async def pipe_transport(pipes: Pipes) -> AsyncIterator[tuple[Any, Any]]:
    """``mcp.Client``'s streams over the client's ends of ``pipes``: one JSON-RPC message
    a line, as the SDK's stdio client reads and writes a process's stdio."""
    reader, writer = await pipes.client_streams()
    incoming_send, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, outgoing_receive = anyio.create_memory_object_stream[SessionMessage](0)

    async def read() -> None:
        async with incoming_send:
            while line := await reader.readline():
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except ValueError as exc:  # a stray line: the session surfaces it
                    await incoming_send.send(exc)
                    continue
                await incoming_send.send(SessionMessage(message))

    async def write() -> None:
        async with outgoing_receive:
            async for message in outgoing_receive:
                body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                writer.write(body.encode() + b"\n")
                await writer.drain()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        tg.start_soon(write)
        try:
            yield incoming, outgoing
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def serve_in_process(home: Home, workspace: Path, mode: str) -> AsyncIterator[Served]:
    """``hermes-mcp serve --protocol mcp --workspace WORKSPACE`` in this process, with the
    environment a process would get: its own stdio transport (mcp_server/transport.py)
    and server on two pipes, ``mcp.Client`` on their other ends. Leaving ends the server
    as the end of stdin does."""
    from hermes_mcp.mcp_server import _serve

    pipes = Pipes.open()
    source = os.fdopen(pipes.edge_in, "rb", buffering=0, closefd=False)
    ended = anyio.Event()
    callbacks = _Callbacks()

    async def server() -> None:
        try:
            await _serve([workspace], pipes.edge_out, source, b"")
        finally:
            source.close()
            pipes.close_edge_ends()
            ended.set()

    with environment(home.process_env, workspace):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server)
            try:
                async with callbacks.client(pipe_transport(pipes), mode) as client:
                    callbacks.served = Served(client, home, workspace, None)
                    yield callbacks.served
            finally:
                pipes.close_client_ends()  # the end of the server's stdin
                with anyio.fail_after(30):
                    await ended.wait()


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def first_text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
