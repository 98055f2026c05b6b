"""MCP over stdio on explicit streams: newline-delimited JSON-RPC on stdin and on the
protocol wire that ``guard_stdout()`` hands us (fd 1 itself points at stderr meanwhile).

Why not ``mcp.server.stdio.stdio_server()``: it must be handed the bytes ``serve
--protocol auto`` already read (``prefix``), it must write to the guarded wire, and a
line that is not JSON must get a ``-32700`` answer (the SDK's reader drops it
silently). A line that is JSON but not a JSON-RPC message gets ``-32600``.
``first_write`` is set once the first answer is on the wire, so that work ``initialize``
does not need can start after it.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, BinaryIO

import anyio
import anyio.abc
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from hermes_mcp.log import get_logger

_log = get_logger("hermes_mcp.mcp_server")

MAX_LINE = 64 * 1024 * 1024  # a line longer than this is not a message we can take


def _error_line(code: int, message: str, request_id: Any = None) -> bytes:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return json.dumps(body).encode() + b"\n"


def classify_line(line: bytes) -> types.JSONRPCMessage | bytes | None:
    """A JSON-RPC message, the error answer to send back (bytes), or None (blank)."""
    stripped = line.strip()
    if not stripped:
        return None
    try:
        raw = json.loads(stripped)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error_line(types.PARSE_ERROR, f"Parse error: {exc}")
    try:
        return types.jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except ValidationError:
        request_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            request_id = None
        return _error_line(
            types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message", request_id
        )


def _pollable(fd: int) -> bool:
    """Pipes and sockets can be waited on; files and terminals are read in a thread."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class StdioWire:
    """The two halves: lines from ``source`` (after ``prefix``), messages to ``wire``.

    Pipes (what every host gives a stdio server) are read and written non-blocking on
    the event loop: no thread hop per message, which a round trip otherwise pays twice.
    """

    def __init__(self, wire: BinaryIO, *, source: BinaryIO | None = None, prefix: bytes = b""):
        self.wire = wire
        self.source = source if source is not None else sys.stdin.buffer
        self.prefix = prefix
        self.first_write = anyio.Event()
        self._lock = anyio.Lock()
        self._out = wire.fileno()
        self._out_async = _pollable(self._out)
        self._in = self.source.fileno()
        self._in_async = _pollable(self._in)

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            if self._out_async:
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(self._out, view) :]
                    except BlockingIOError:
                        await anyio.wait_writable(self._out)
            else:
                await anyio.to_thread.run_sync(self._write_sync, data)
        if not self.first_write.is_set():
            self.first_write.set()

    def _write_sync(self, data: bytes) -> None:
        self.wire.write(data)
        self.wire.flush()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if not self._in_async:
            source = anyio.wrap_file(self.source)
            while chunk := await source.readline():
                yield chunk
            return
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except BlockingIOError:
                await anyio.wait_readable(self._in)
                continue
            if not chunk:
                return
            yield chunk

    async def _lines(self) -> AsyncIterator[bytes]:
        pending = bytearray(self.prefix)
        async for chunk in self._chunks():
            pending += chunk
            start = 0
            while (end := pending.find(b"\n", start)) != -1:
                yield bytes(pending[start:end])
                start = end + 1
            del pending[:start]
            if len(pending) > MAX_LINE:
                yield bytes(pending)  # not JSON: answered -32700, the stream goes on
                pending.clear()
        if pending.strip():
            yield bytes(pending)

    @contextmanager
    def _nonblocking(self) -> Iterator[None]:
        fds = [fd for fd, on in ((self._in, self._in_async), (self._out, self._out_async)) if on]
        before = {fd: os.get_blocking(fd) for fd in fds}
        for fd in fds:
            os.set_blocking(fd, False)
        try:
            yield
        finally:
            for fd, blocking in before.items():
                with suppress(OSError):
                    os.set_blocking(fd, blocking)

    @asynccontextmanager
    async def streams(
        self,
    ) -> AsyncIterator[tuple[Any, Any]]:
        """(read stream, write stream) for ``Server.run``, closed at EOF."""
        read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, write_reader = create_context_streams[SessionMessage](0)

        async def reader() -> None:
            async with read_writer:
                async for line in self._lines():
                    item = classify_line(line)
                    if item is None:
                        continue
                    if isinstance(item, bytes):
                        _log.info("mcp_bad_message", error=item.decode()[:200])
                        await self._write(item)
                        continue
                    await read_writer.send(SessionMessage(item))

        async def writer() -> None:
            async with write_reader:
                async for message in write_reader:
                    body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await self._write(body.encode() + b"\n")

        with self._nonblocking():
            async with anyio.create_task_group() as tg:
                tg.start_soon(reader)
                tg.start_soon(writer)
                yield read_stream, write_stream
                tg.cancel_scope.cancel()
