"""``serve --protocol auto``'s first-line detection (pure), the exact read of the first
line from fd 0 (not a byte past it), and the hand-over to the chosen edge with fd 1
guarded, or the JSON-RPC error on stdout for anything else."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from hermes_mcp.serve_auto import (
    INVALID_REQUEST,
    PARSE_ERROR,
    detect,
    read_first_line,
    serve_auto,
)

ACP_INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": 1, "clientCapabilities": {"fs": {"readTextFile": True}}},
}
MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "c", "version": "1"},
    },
}
MCP_DISCOVER = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
MCP_STATELESS = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/list",
    "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
}


def line(message: object) -> bytes:
    return (json.dumps(message) + "\n").encode()


@pytest.mark.parametrize(
    ("message", "protocol"),
    [(ACP_INIT, "acp"), (MCP_INIT, "mcp"), (MCP_DISCOVER, "mcp"), (MCP_STATELESS, "mcp"),
     ({**MCP_INIT, "params": {"protocolVersion": "2024-11-05"}}, "mcp")],
)  # fmt: skip
def test_the_first_message_names_the_protocol(message: object, protocol: str) -> None:
    found = detect(line(message))
    assert (found.protocol, found.error) == (protocol, None)


@pytest.mark.parametrize(
    ("raw", "code", "request_id"),
    [
        (b"hello there\n", PARSE_ERROR, None),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"\n', PARSE_ERROR, None),
        (b"\xff\xfe\n", PARSE_ERROR, None),
        (b"[" * 200_000 + b"\n", PARSE_ERROR, None),  # nested past the parser's limit
        (b'{"a":' * 200_000 + b"1" + b"}" * 200_000 + b"\n", PARSE_ERROR, None),
        (line([]), INVALID_REQUEST, None),  # an empty batch
        (line("initialize"), INVALID_REQUEST, None),
        (line({**ACP_INIT, "jsonrpc": "1.0"}), INVALID_REQUEST, 0),
        (line({**ACP_INIT, "params": {}}), INVALID_REQUEST, 0),
        (line({**ACP_INIT, "params": {"protocolVersion": True}}), INVALID_REQUEST, 0),
        (line({**ACP_INIT, "params": {"protocolVersion": 1.5}}), INVALID_REQUEST, 0),
        (line({"jsonrpc": "2.0", "id": "x", "method": "tools/list"}), INVALID_REQUEST, "x"),
        (line({"jsonrpc": "2.0", "method": "notifications/initialized"}), INVALID_REQUEST, None),
        (line({"jsonrpc": "2.0", "id": {"no": 1}, "method": "ping"}), INVALID_REQUEST, None),
    ],
)
def test_anything_else_gets_a_json_rpc_error(raw: bytes, code: int, request_id: object) -> None:
    found = detect(raw)
    assert found.protocol is None and found.error is not None
    assert found.error["jsonrpc"] == "2.0"
    assert (found.error["id"], found.error["error"]["code"]) == (request_id, code)
    assert found.error_line.endswith(b"\n") and json.loads(found.error_line) == found.error


def test_a_batch_first_gets_one_error_per_request_in_it() -> None:
    found = detect(line([MCP_INIT, {"jsonrpc": "2.0", "method": "x"}, 7]))
    assert found.protocol is None
    answers = json.loads(found.error_line)
    assert [(a["id"], a["error"]["code"]) for a in answers] == [
        (1, INVALID_REQUEST),
        (None, INVALID_REQUEST),
    ]


@pytest.fixture
def stdin() -> Iterator[Callable[[bytes], int]]:
    """``feed(data)``: a pipe holding ``data`` with its writing end closed; its reading
    end (returned) is closed after the test, once."""
    opened: list[int] = []

    def feed(data: bytes) -> int:
        read, write = os.pipe()
        os.write(write, data)
        os.close(write)
        opened.append(read)
        return read

    yield feed
    for fd in opened:
        os.close(fd)


def test_reading_the_first_line_takes_not_a_byte_more(stdin: Callable[[bytes], int]) -> None:
    rest = line({"jsonrpc": "2.0", "method": "notifications/initialized"}) + b'{"partial'
    read = stdin(b"\n  \n" + line(MCP_INIT) + rest)
    assert read_first_line(read) == line(MCP_INIT)  # blank lines before it dropped
    assert os.read(read, 65536) == rest  # the edge reads the rest, untouched


def test_end_of_input_and_the_length_limit(stdin: Callable[[bytes], int]) -> None:
    assert read_first_line(stdin(b'{"jsonrpc"')) == b'{"jsonrpc"'
    assert read_first_line(stdin(b"x" * 100), limit=10) == b"x" * 11


class Edges:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Path], bytes, bytes]] = []

    def mcp(self, workspaces: Sequence[Path], prefix: bytes) -> int:
        print("a stray print while serving")  # noqa: T201 - must land on stderr
        self.calls.append(("mcp", list(workspaces), prefix, os.read(self.fd, 65536)))
        return 0

    def acp(self, prefix: bytes) -> int:
        self.calls.append(("acp", [], prefix, os.read(self.fd, 65536)))
        return 3

    fd = -1


@pytest.mark.parametrize(("first", "edge", "code"), [(MCP_INIT, "mcp", 0), (ACP_INIT, "acp", 3)])
def test_the_chosen_edge_gets_the_line_and_the_rest_of_the_stream(
    stdin: Callable[[bytes], int],
    capfd: pytest.CaptureFixture[str],
    first: object,
    edge: str,
    code: int,
) -> None:
    read = stdin(line(first) + b'{"next": 1}\n')
    edges = Edges()
    edges.fd = read
    said: list[str] = []
    got = serve_auto(
        [Path("/w")], stdin_fd=read, run_mcp=edges.mcp, run_acp=edges.acp, err=said.append
    )
    assert got == code and said == []
    assert edges.calls == [
        (edge, [Path("/w")] if edge == "mcp" else [], line(first), b'{"next": 1}\n')
    ]
    out, err = capfd.readouterr()
    assert out == ""  # nothing on the wire but what the edge writes
    assert ("a stray print while serving" in err) == (edge == "mcp")
    (event,) = [json.loads(x) for x in err.splitlines() if '"serve.protocol"' in x]
    assert event["protocol"] == edge and event["detect_ms"] >= 0


@pytest.mark.parametrize("first", [b"garbage\n", line({"jsonrpc": "2.0", "id": 5, "method": "x"})])
def test_garbage_gets_one_error_line_and_exit_2(
    stdin: Callable[[bytes], int], capfd: pytest.CaptureFixture[str], first: bytes
) -> None:
    read = stdin(first)
    said: list[str] = []
    edges = Edges()
    got = serve_auto([], stdin_fd=read, run_mcp=edges.mcp, run_acp=edges.acp, err=said.append)
    assert got == 2 and edges.calls == []
    out, _ = capfd.readouterr()
    (response,) = out.splitlines()
    assert json.loads(response)["error"]["code"] == (
        PARSE_ERROR if first == b"garbage\n" else INVALID_REQUEST
    )
    assert len(said) == 1 and "expected an MCP or ACP client" in said[0]


def test_no_input_at_all_is_exit_2_with_nothing_on_stdout(
    stdin: Callable[[bytes], int], capfd: pytest.CaptureFixture[str]
) -> None:
    read = stdin(b"")
    said: list[str] = []
    edges = Edges()
    assert serve_auto([], run_mcp=edges.mcp, run_acp=edges.acp, stdin_fd=read, err=said.append) == 2
    assert capfd.readouterr().out == "" and "closed before the first message" in said[0]
