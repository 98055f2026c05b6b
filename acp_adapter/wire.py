"""Newline-delimited JSON-RPC over the process's stdin and the guarded stdout.

The SDK's own stdio transport writes to ``sys.stdout`` (which the stdout guard points at
stderr) and silently drops a line that is not JSON. This one is an ``acp`` message
:class:`~acp._transport.Transport` on the one bounded line transport
(``hermes_mcp.jsonrpc_lines``), so the SDK's connection runs on it unchanged, and:

- reads ``prefix`` first: the line ``hermes-mcp serve --protocol auto`` already took
  from stdin to tell MCP from ACP;
- answers what the dispatcher cannot (JSON-RPC 2.0 §5.1), each time going on serving:
  ``-32700`` for a line that is not JSON (bad UTF-8, nested past 1,024 levels),
  ``-32600`` for an oversized line, a batch (each request in it) or a value that is
  not a request, notification or response (with its id when it had one);
- writes every message whole, in the order sent, and reads no new line while the
  editor leaves more than ``MAX_UNSENT`` bytes of ours unread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, BinaryIO

import anyio

from hermes_mcp.jsonrpc_lines import (
    MAX_UNSENT,
    FdReader,
    FdWriter,
    LineChannel,
    LineReader,
    LineWriter,
    nonblocking,
)

#: The longest line read (an image or an embedded file can be large).
LINE_LIMIT = 50 * 1024 * 1024


class StdioTransport:
    """An ``acp`` Transport on a :class:`LineChannel`."""

    def __init__(self, channel: LineChannel) -> None:
        self._channel = channel

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        wire: BinaryIO,
        *,
        prefix: bytes = b"",
        stdin_fd: int = 0,
        max_line: int = LINE_LIMIT,
        max_unsent: int = MAX_UNSENT,
    ) -> AsyncIterator[StdioTransport]:
        """The transport on ``stdin_fd`` (after ``prefix``) and ``wire``, its writer
        running for the block's duration (what was sent is flushed at the end)."""
        source, sink = FdReader(stdin_fd), FdWriter(wire.fileno())
        writer = LineWriter(sink.write, max_unsent=max_unsent)
        channel = LineChannel(LineReader(source.read, prefix=prefix, max_line=max_line), writer)
        with nonblocking(source.fd, sink.fd):
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer.run)
                try:
                    yield cls(channel)
                finally:
                    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                        await writer.drained()
                    tg.cancel_scope.cancel()

    async def send(self, message: dict[str, Any]) -> None:
        await self._channel.send(message)

    async def receive(self) -> dict[str, Any] | None:
        return await self._channel.receive()

    async def close(self) -> None:
        """The writer stops with :meth:`open`'s block (after flushing)."""
