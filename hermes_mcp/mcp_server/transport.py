"""MCP over stdio on explicit streams: newline-delimited JSON-RPC on stdin and on the
protocol wire that ``guard_stdout()`` hands us (fd 1 itself points at stderr meanwhile).

The bytes go through the one bounded line transport (``hermes_mcp.jsonrpc_lines``: line
and nesting caps, bad UTF-8, batches, backpressure). This module adds what is MCP's:
a JSON-RPC object the SDK's message types refuse gets ``-32600`` (with its id).

Why not ``mcp.server.stdio.stdio_server()``: it must be handed the bytes ``serve
--protocol auto`` already read (``prefix``), it must write to the guarded wire, a line
that is not JSON must get a ``-32700`` answer (the SDK's reader drops it silently), and
a client that stops reading must stop our reading (the SDK's keeps accepting requests
whose answers then pile up). ``first_write`` is set once the first answer is on the
wire, so that work ``initialize`` does not need can start after it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, BinaryIO

import anyio
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from hermes_mcp.jsonrpc_lines import (
    INVALID_REQUEST,
    MAX_LINE,
    MAX_UNSENT,
    FdReader,
    FdWriter,
    LineChannel,
    LineReader,
    LineWriter,
    error_response,
    nonblocking,
)
from hermes_mcp.log import get_logger

_log = get_logger("hermes_mcp.mcp_server")


def to_message(raw: dict[str, Any]) -> types.JSONRPCMessage | dict[str, Any]:
    """The SDK's message, or the ``-32600`` answer for an object it refuses."""
    try:
        return types.jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except ValidationError:
        details = "not a JSON-RPC 2.0 message"
        return error_response(INVALID_REQUEST, "Invalid Request", raw.get("id"), details)


class StdioWire:
    """The two halves: lines from ``source`` (after ``prefix``), messages to ``wire``.

    Pipes (what every host gives a stdio server) are read and written non-blocking on
    the event loop: no thread hop per message, which a round trip otherwise pays twice.
    """

    def __init__(
        self,
        wire: BinaryIO,
        *,
        source: BinaryIO | None = None,
        prefix: bytes = b"",
        max_line: int = MAX_LINE,
        max_unsent: int = MAX_UNSENT,
    ):
        self.wire = wire
        self.source = source if source is not None else sys.stdin.buffer
        out, self._in = FdWriter(wire.fileno()), FdReader(self.source.fileno())
        self.writer = LineWriter(out.write, max_unsent=max_unsent)
        reader = LineReader(self._in.read, prefix=prefix, max_line=max_line)
        self.channel = LineChannel(reader, self.writer)
        self.first_write = self.writer.first_write

    @asynccontextmanager
    async def streams(self) -> AsyncIterator[tuple[Any, Any]]:
        """(read stream, write stream) for ``Server.run``, closed at EOF."""
        read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, write_reader = create_context_streams[SessionMessage](0)

        async def reader() -> None:
            async with read_writer:
                while (raw := await self.channel.receive()) is not None:
                    item = to_message(raw)
                    if isinstance(item, dict):
                        _log.info("mcp_bad_message", id=item["id"])
                        with suppress(anyio.BrokenResourceError):
                            await self.channel.send(item)
                        continue
                    await read_writer.send(SessionMessage(item))

        async def writer() -> None:
            async with write_reader:
                async for message in write_reader:
                    if self.writer.closed:  # the client is gone: answers go nowhere, and
                        continue  # no handler waits on a stream nobody drains
                    body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    with suppress(anyio.BrokenResourceError):
                        await self.writer.send(body.encode() + b"\n")

        with nonblocking(self._in.fd, self.writer_fd):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.writer.run)
                tg.start_soon(reader)
                tg.start_soon(writer)
                try:
                    yield read_stream, write_stream
                finally:
                    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                        await self.writer.drained()
                    tg.cancel_scope.cancel()

    @property
    def writer_fd(self) -> int:
        return self.wire.fileno()
