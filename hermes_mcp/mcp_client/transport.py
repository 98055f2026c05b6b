"""The byte paths to one MCP server: a child process over stdio, or Streamable HTTP / SSE.

The SDK's own transports (``streamable_http``, ``sse``; for stdio its client with the
reading side on the bounded line transport, ``stdio.py``), with two things added:

- a child's **stderr** goes through a pipe of ours, line by line, into the log (the
  redacting JSON chain), and its last lines are kept to explain a failure; its
  **stdout** is the protocol pipe and never reaches our stdout;
- the read stream is watched: when the server's side ends (the child exited, the HTTP
  stream closed) ``on_eof`` is called at once, so a crash is noticed and named before
  the next call runs into it.

The SDK's stdio shutdown is kept as it is: close stdin, wait, then SIGTERM and SIGKILL
the child's process group, shielded from cancellation — a session that closes, or a
runtime that is cancelled, leaves no server process behind. The child starts in its own
session with only the SDK's safe environment (``HOME``, ``PATH``, ``USER``...) plus the
configured ``env``: our provider keys are not inherited.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.message import SessionMessage

from hermes_mcp.log import get_logger
from hermes_mcp.mcp_client.spec import ServerSpec
from hermes_mcp.mcp_client.stdio import stdio_client

log = get_logger("hermes_mcp.mcp_client")

_LINE_MAX = 2000  # longer stderr lines are cut in the log
_TAIL_LINES = 5


class StderrPipe:
    """A pipe for a child's stderr; :meth:`pump` logs each line as ``mcp_server_stderr``."""

    def __init__(self, server: str) -> None:
        self.server = server
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self.write_end = os.fdopen(write_fd, "w")
        self.tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self.eof = anyio.Event()  # every writer has closed its end

    def close_write_end(self) -> None:
        """Once the child has its copy (or failed to start), ours must go: EOF needs it."""
        if not self.write_end.closed:
            self.write_end.close()

    def _line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line.strip():
            return
        line = line if len(line) <= _LINE_MAX else line[:_LINE_MAX] + "…"
        self.tail.append(line)
        log.info("mcp_server_stderr", server=self.server, line=line)

    async def pump(self) -> None:
        """Read until EOF (every writer gone) or cancellation, then close the pipe."""
        pending = b""
        try:
            while True:
                await anyio.wait_readable(self._read_fd)
                try:
                    chunk = os.read(self._read_fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    self.eof.set()
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._line(line)
                if len(pending) > _LINE_MAX * 4:
                    self._line(pending)
                    pending = b""
        finally:
            if pending:
                self._line(pending)
            self.close_write_end()
            os.close(self._read_fd)

    def describe(self) -> str:
        """The last stderr lines, for a message about a failure ("" when silent)."""
        if not self.tail:
            return ""
        return " (last lines on its stderr: " + " | ".join(self.tail)[-600:] + ")"


class WatchedReadStream:
    """The transport's read stream, calling ``on_eof`` when the server's side ends."""

    def __init__(self, inner: Any, on_eof: Callable[[], None]) -> None:
        self._inner = inner
        self._on_eof = on_eof

    @property
    def last_context(self) -> Any:  # the HTTP transport's per-message context
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            item: SessionMessage | Exception = await self._inner.receive()
        except anyio.EndOfStream:
            self._on_eof()
            raise
        return item

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@asynccontextmanager
async def open_transport(
    spec: ServerSpec, on_eof: Callable[[], None], stderr: StderrPipe | None
) -> AsyncIterator[TransportStreams]:
    """The streams to ``spec``'s server (``stderr`` is required for a stdio server)."""
    if spec.transport == "stdio":
        assert stderr is not None and spec.command is not None
        params = StdioServerParameters(
            command=spec.command,
            args=list(spec.args),
            env=dict(spec.env) or None,
            cwd=spec.cwd,
        )
        try:
            async with stdio_client(params, stderr.write_end, max_line=spec.max_line_bytes) as (
                read,
                write,
            ):
                stderr.close_write_end()
                yield WatchedReadStream(read, on_eof), write
        finally:
            stderr.close_write_end()
    elif spec.transport == "http":
        assert spec.url is not None
        async with (
            create_mcp_http_client(headers=dict(spec.headers)) as http,
            streamable_http_client(spec.url, http_client=http) as (read, write),
        ):
            yield WatchedReadStream(read, on_eof), write
    else:
        assert spec.url is not None
        async with sse_client(spec.url, headers=dict(spec.headers)) as (read, write):
            yield WatchedReadStream(read, on_eof), write
