"""Newline-delimited JSON-RPC over the process's stdin and the guarded stdout.

The SDK's own stdio transport writes to ``sys.stdout`` (which the stdout guard points at
stderr) and silently drops a line that is not JSON. This one is an ``acp`` message
:class:`~acp._transport.Transport`, so the SDK's connection runs on it unchanged, and:

- reads ``prefix`` first: the line ``hermes-mcp serve --protocol auto`` already took
  from stdin to tell MCP from ACP;
- answers what the dispatcher cannot (JSON-RPC 2.0 §5.1): a line that is not JSON gets
  ``-32700 Parse error``, a message that is not a request, notification or response gets
  ``-32600 Invalid request`` (with its id when it had one), an oversized line gets
  ``-32600`` too; each time the connection keeps serving;
- writes every message with one ``write`` to the wire (a pipe: asyncio's pipe
  transport; anything else: a worker thread), in the order they were sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any, BinaryIO

from hermes_mcp.log import get_logger

log = get_logger("acp_adapter.wire")

#: The longest line read (an image or an embedded file can be large).
LINE_LIMIT = 50 * 1024 * 1024


def _error(code: int, message: str, msg_id: Any = None, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


def check(message: Any) -> dict[str, Any] | None:
    """The error reply for a decoded message the dispatcher cannot take, or ``None``."""
    if not isinstance(message, dict):
        return _error(-32600, "Invalid request", data={"details": "not a JSON object"})
    msg_id = message.get("id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, str | int)):
        return _error(-32600, "Invalid request", data={"details": "id must be a string or number"})
    method = message.get("method")
    if "method" in message:
        if not isinstance(method, str):
            return _error(-32600, "Invalid request", msg_id, {"details": "method must be a string"})
        return None
    if "id" in message and ("result" in message or "error" in message):
        return None
    return _error(-32600, "Invalid request", msg_id, {"details": "no method, result or error"})


class _Writer:
    def __init__(self, wire: BinaryIO) -> None:
        self._wire = wire
        self._lock = asyncio.Lock()
        self._pipe: asyncio.WriteTransport | None = None
        self._protocol: _Drain | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # A duplicate of the wire: closing the pipe transport closes only that one
            # (the stdout guard restores fd 1 from the wire itself).
            pipe = os.fdopen(os.dup(self._wire.fileno()), "wb", buffering=0)
            transport, protocol = await loop.connect_write_pipe(_Drain, pipe)
        except (ValueError, OSError):  # a regular file or a tty: write from a thread
            return
        self._pipe, self._protocol = transport, protocol

    async def write(self, data: bytes) -> None:
        async with self._lock:
            if self._pipe is not None and self._protocol is not None:
                if self._pipe.is_closing():
                    raise ConnectionError("stdout is closed")
                self._pipe.write(data)
                await self._protocol.drain()
            else:
                await asyncio.to_thread(self._blocking_write, data)

    def _blocking_write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._wire.fileno(), view) :]

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()


class _Drain(asyncio.Protocol):
    def __init__(self) -> None:
        self._paused = False
        self._waiters: list[asyncio.Future[None]] = []

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_writing()

    async def drain(self) -> None:
        if self._paused:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


async def _stdin_reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        stdin = os.fdopen(fd, "rb", buffering=0, closefd=False)
        await loop.connect_read_pipe(lambda: protocol, stdin)
    except (ValueError, OSError):  # a regular file: feed it from a thread

        def feed() -> None:
            try:
                while chunk := os.read(fd, 65536):
                    loop.call_soon_threadsafe(reader.feed_data, chunk)
            except OSError:
                pass
            finally:
                loop.call_soon_threadsafe(reader.feed_eof)

        threading.Thread(target=feed, name="acp-stdin", daemon=True).start()
    return reader


class StdioTransport:
    """An ``acp`` Transport on fd 0 (after ``prefix``) and the protocol wire."""

    def __init__(self, reader: asyncio.StreamReader, writer: _Writer, prefix: bytes) -> None:
        self._reader = reader
        self._writer = writer
        self._pending = [line for line in prefix.splitlines() if line.strip()]

    @classmethod
    async def open(
        cls, wire: BinaryIO, *, prefix: bytes = b"", stdin_fd: int = 0
    ) -> StdioTransport:
        writer = _Writer(wire)
        await writer.open()
        return cls(await _stdin_reader(stdin_fd), writer, prefix)

    async def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        await self._writer.write(data)

    async def receive(self) -> dict[str, Any] | None:
        while True:
            line = await self._line()
            if line is None:
                return None
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                log.warning("acp_parse_error", error=str(exc)[:200])
                await self.send(_error(-32700, "Parse error", data={"details": str(exc)[:200]}))
                continue
            reply = check(message)
            if reply is not None:
                await self.send(reply)
                continue
            return message  # type: ignore[no-any-return]

    async def _line(self) -> bytes | None:
        if self._pending:
            return self._pending.pop(0)
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError as exc:
            await self._skip_long_line(exc.consumed)
            await self.send(
                _error(-32600, "Invalid request", data={"details": f"line over {LINE_LIMIT} bytes"})
            )
            return b""
        return line

    async def _skip_long_line(self, consumed: int) -> None:
        await self._reader.readexactly(consumed)
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError:
                return

    async def close(self) -> None:
        self._writer.close()
