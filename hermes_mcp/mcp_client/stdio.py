"""A stdio MCP server's pipes on the one bounded line transport.

The SDK's ``stdio_client`` re-joins its buffer with every chunk of an unfinished line:
a 50 MB result line cost 14.5 s of CPU, stalled the event loop (the agent's own
``read_file`` waited up to 2 s) and made the next calls to that server time out. This
one is the SDK's client with the reading side replaced by
:class:`~hermes_mcp.jsonrpc_lines.LineReader` (each chunk scanned once, a line over
``max_line`` skipped as it streams, never held):

- a line over the cap fails the call it answers: its id is read from the line's first
  or last bytes (where a JSON-RPC response keeps it: ``{"jsonrpc":"2.0","id":5,...``
  or ``...,"id":5}``) and the session gets a JSON-RPC error for that id naming the
  size and the limit; the connection goes on. A line whose id cannot be found there is
  logged and dropped (its call then ends at its ``timeout_s``);
- everything else is the SDK's: the spawn (own process group, only the safe
  environment plus the configured ``env``), the writer, and the shutdown (close stdin,
  wait, SIGTERM, SIGKILL, shielded), reused from ``mcp.client.stdio``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.client import stdio as sdk
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from hermes_mcp.jsonrpc_lines import LineReader, TooLong, loads
from hermes_mcp.log import get_logger

log = get_logger("hermes_mcp.mcp_client")

_STRING = r'"(?:[^"\\]|\\.)*"'
_ID = rf"(-?\d+|{_STRING})"
# "id" as a key of the outermost object: before any nested value opens, or last.
_HEAD_ID = re.compile(
    rb'\s*\{(?:[^{}\[\]"]|' + _STRING.encode() + rb')*?"id"\s*:\s*' + _ID.encode()
)
_TAIL_ID = re.compile(rb'[,{]\s*"id"\s*:\s*' + _ID.encode() + rb"\s*\}\s*$")


def id_of(line: TooLong) -> str | int | None:
    """The JSON-RPC id of an over-long line, from its kept head or tail."""
    found = _HEAD_ID.match(line.head) or _TAIL_ID.search(line.tail)
    if found is None:
        return None
    try:
        value = loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def parse(line: bytes | TooLong, max_line: int) -> SessionMessage | Exception | None:
    """One line from the server: a message for the session, an error for it to log, or
    ``None`` (blank)."""
    if isinstance(line, TooLong):
        msg_id = id_of(line)
        what = f"a line of {line.size} bytes, over max_line_bytes = {max_line}"
        log.warning("mcp_server_line_too_long", size=line.size, limit=max_line, id=msg_id)
        if msg_id is None:
            return ValueError(f"the server sent {what}, with no id to answer; dropped")
        error = types.ErrorData(
            code=types.INTERNAL_ERROR,
            message=f"the server's answer was {what}; it was dropped, the connection goes on",
        )
        return SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=msg_id, error=error))
    if not line.strip():
        return None
    try:
        value: Any = loads(line)
        message = types.jsonrpc_message_adapter.validate_python(value, by_name=False)
    except (ValueError, ValidationError) as exc:
        log.warning("mcp_server_bad_line", error=str(exc)[:300])
        return exc
    return SessionMessage(message)


@asynccontextmanager
async def stdio_client(
    server: sdk.StdioServerParameters, errlog: TextIO, *, max_line: int
) -> AsyncIterator[TransportStreams]:
    """The SDK's ``stdio_client`` with bounded line reading (see the module's doc)."""
    command = await sdk._get_executable_command(server.command)
    process = await sdk._create_platform_compatible_process(
        command=command,
        args=server.args,
        env=sdk.get_default_environment() | (server.env or {}),
        errlog=errlog,
        cwd=server.cwd,
    )
    # No awaits until the task group is entered (a cancellation would leak the process).
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    shutting_down = False
    writer_done = anyio.Event()

    async def receive() -> bytes:
        assert process.stdout is not None
        try:
            return await process.stdout.receive()
        except anyio.EndOfStream:
            return b""

    async def stdout_reader() -> None:
        try:
            async with read_writer:
                try:
                    async for line in LineReader(receive, max_line=max_line):
                        item = parse(line, max_line)
                        if item is None:
                            continue
                        try:
                            await read_writer.send(item)
                        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                            return
                finally:
                    await sdk._drain_stdout(process)
        except anyio.ClosedResourceError:
            pass
        except (anyio.BrokenResourceError, ConnectionError) as exc:
            if not shutting_down:
                log.warning("mcp_server_stdout_failed", error=exc)

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(body.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()
        finally:
            writer_done.set()

    async def shutdown() -> None:
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(sdk._WRITER_FLUSH_TIMEOUT):
            await writer_done.wait()
        await sdk._stop_server_process(process)
        await sdk._aclose_all(read_stream, write_stream, read_writer, write_reader)
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            shutting_down = True
            with anyio.CancelScope(shield=True):
                await shutdown()
            tg.cancel_scope.cancel()
    await anyio.lowlevel.cancel_shielded_checkpoint()
