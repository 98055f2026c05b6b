"""The one bounded JSON-RPC line transport (``hermes_mcp.jsonrpc_lines``): decoding each
kind of bad line into its JSON-RPC answer, reading lines under a cap without holding an
over-long one, and backpressure (no new line read while answers wait unread).
The edges' own tests drive the same cases through the real processes."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from hermes_mcp.jsonrpc_lines import (
    INVALID_REQUEST,
    PARSE_ERROR,
    FdReader,
    FdWriter,
    LineChannel,
    LineReader,
    LineWriter,
    TooLong,
    decode,
    dumps,
    nonblocking,
    shape_error,
)

pytestmark = pytest.mark.anyio


def answer(line: bytes) -> Any:
    reply = decode(line).reply
    assert reply is not None and reply.endswith(b"\n")
    return json.loads(reply)


def chunks(*parts: bytes) -> Callable[[], Awaitable[bytes]]:
    """A source handing out ``parts`` one read at a time, then the end."""
    pending = list(parts)

    async def receive() -> bytes:
        return pending.pop(0) if pending else b""

    return receive


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 200_000,
        b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b"[" * 1025 + b"]" * 1025,
    ],
)
def test_a_line_nested_past_the_limit_is_a_parse_error(line: bytes) -> None:
    error = answer(line)["error"]
    assert error["code"] == PARSE_ERROR and "nested deeper than 1024" in error["data"]["details"]


def test_nesting_within_the_limit_is_a_message() -> None:
    params = "[" * 1000 + "]" * 1000
    message = decode(f'{{"jsonrpc":"2.0","method":"x","params":{params}}}'.encode()).message
    assert message is not None and message["method"] == "x"


@pytest.mark.parametrize(
    "line",
    [b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', b'"\\ud800"', b"{nope", b"NaN", b"1e999"],
)
def test_bad_utf8_and_bad_json_are_parse_errors_without_an_id(line: bytes) -> None:
    reply = answer(line)
    assert reply["id"] is None and reply["error"]["code"] == PARSE_ERROR


def test_blank_lines_need_no_answer() -> None:
    assert decode(b"  \r").reply is None and decode(b"").message is None


def test_batches_are_answered_per_the_spec() -> None:
    # JSON-RPC 2.0 §6: an empty array gets one error; otherwise an array of answers,
    # one per request (none for notifications), one per element that is not a message.
    assert answer(b"[]")["error"]["code"] == INVALID_REQUEST
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled"},
        1,
        {"jsonrpc": "2.0", "id": "b", "method": "tools/list"},
    ]
    answers = answer(json.dumps(batch).encode())
    assert [(a["id"], a["error"]["code"]) for a in answers] == [
        (1, INVALID_REQUEST),
        (None, INVALID_REQUEST),
        ("b", INVALID_REQUEST),
    ]
    assert "batches are not supported" in answers[0]["error"]["data"]["details"]
    only_notifications = json.dumps([{"jsonrpc": "2.0", "method": "x"}]).encode()
    assert decode(only_notifications).reply is None


def test_shapes_the_dispatcher_cannot_take() -> None:
    assert shape_error({"jsonrpc": "2.0", "id": 1, "method": "initialize"}) is None
    assert shape_error({"jsonrpc": "2.0", "method": "session/cancel"}) is None
    assert shape_error({"jsonrpc": "2.0", "id": 1, "result": {}}) is None
    for bad, request_id in (
        ("x", None),
        ({"id": 1}, 1),
        ({"method": 3, "id": "a"}, "a"),
        ({"id": [1], "method": "x"}, None),
        ({"id": True, "method": "x"}, None),
    ):
        reply = answer(json.dumps(bad).encode())
        assert (reply["error"]["code"], reply["id"]) == (INVALID_REQUEST, request_id)


def test_dumps_writes_what_orjson_refuses() -> None:
    assert json.loads(dumps({"id": 2**70, "text": "\ud800"})) == {"id": 2**70, "text": "\ud800"}
    assert dumps({"a": "é"}) == '{"a":"é"}\n'.encode()


async def test_lines_split_across_chunks_and_the_prefix_first() -> None:
    reader = LineReader(chunks(b'{"b"', b":2}\n\n{", b'"c":3}\n{"d"'), prefix=b'{"a":1}\n')
    assert [line async for line in reader] == [b'{"a":1}', b'{"b":2}', b"", b'{"c":3}', b'{"d"']


async def test_an_over_long_line_is_skipped_and_named_and_the_next_one_read() -> None:
    big = b'{"id":7,"x":"' + b"y" * 300_000 + b'"}'
    parts = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    reader = LineReader(chunks(b'{"a":1}\n', *parts, b"\n", b'{"b":2}\n'), max_line=10_000)
    lines = [line async for line in reader]
    assert lines[0] == b'{"a":1}' and lines[2] == b'{"b":2}'
    skipped = lines[1]
    assert isinstance(skipped, TooLong) and skipped.size == len(big)
    assert skipped.head.startswith(b'{"id":7,') and skipped.tail.endswith(b'y"}')
    error = answer_of(skipped, 10_000)
    assert (
        error["error"]["code"] == INVALID_REQUEST and "10000" in error["error"]["data"]["details"]
    )
    # An over-long line inside one chunk, and one cut by the end of the stream.
    within = [line async for line in LineReader(chunks(b"z" * 50 + b"\nok\n"), max_line=10)]
    assert within == [TooLong(50, b"z" * 50, b"z" * 50), b"ok"]
    (cut,) = [line async for line in LineReader(chunks(b"z" * 50), max_line=10)]
    assert isinstance(cut, TooLong) and cut.size == 50


def answer_of(line: TooLong, max_line: int) -> Any:
    reply = decode(line, max_line).reply
    assert reply is not None
    return json.loads(reply)


class Peer:
    """The far end of a channel: lines it sent, and a writer it has not read yet."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.reads = 0
        self.written: list[bytes] = []
        self.reading = anyio.Event()  # set: our writes go through

    async def receive(self) -> bytes:
        self.reads += 1
        return self.lines.pop(0) + b"\n" if self.lines else b""

    async def write(self, data: bytes) -> None:
        await self.reading.wait()
        self.written.append(data)


async def test_no_new_line_is_read_while_answers_wait_and_none_is_lost() -> None:
    requests = [json.dumps({"jsonrpc": "2.0", "id": i, "method": "x"}).encode() for i in range(50)]
    peer = Peer(list(requests))
    writer = LineWriter(peer.write, max_unsent=1000)
    channel = LineChannel(LineReader(peer.receive), writer)
    taken: list[int] = []
    stalled = anyio.Event()

    async def serve() -> None:
        while (message := await channel.receive()) is not None:
            taken.append(message["id"])
            await channel.send({"jsonrpc": "2.0", "id": message["id"], "result": "r" * 90})
            if writer.unsent >= writer.max_unsent:
                stalled.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run)
            tg.start_soon(serve)
            await stalled.wait()
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            # Bounded: about max_unsent bytes of answers, and no line read past them.
            assert peer.reads == len(taken) < 20
            assert writer.unsent < writer.max_unsent + 200
            peer.reading.set()
            while len(peer.written) < 50:
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    assert [json.loads(line)["id"] for line in peer.written] == list(range(50))


async def test_a_send_after_the_peer_is_gone_raises() -> None:
    async def broken(data: bytes) -> None:
        raise BrokenPipeError

    writer = LineWriter(broken)
    await writer.send(b"x\n")
    await writer.run()  # the write fails: the writer closes
    with pytest.raises(anyio.BrokenResourceError):
        await writer.send(b"y\n")


async def test_file_descriptors_on_a_pipe() -> None:
    """More than a pipe holds: the write waits for the reader, nothing is lost."""
    read_fd, write_fd = os.pipe()
    got = bytearray()

    async def read_all() -> None:
        reader = FdReader(read_fd)
        while chunk := await reader.read():
            got.extend(chunk)

    with nonblocking(read_fd, write_fd), anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all)
            await FdWriter(write_fd).write(b"a" * 500_000)
            os.close(write_fd)
    os.close(read_fd)
    assert got == b"a" * 500_000


async def test_bad_lines_after_the_peer_is_gone_are_dropped_not_raised() -> None:
    async def gone(data: bytes) -> None:
        raise BrokenPipeError

    writer = LineWriter(gone)
    writer.close()
    channel = LineChannel(
        LineReader(chunks(b"{nope\n", b'{"jsonrpc":"2.0","method":"x"}\n')), writer
    )
    assert writer.closed
    message = await channel.receive()
    assert message is not None and message["method"] == "x"
