"""The MCP server's wire, byte for byte: raw JSON-RPC lines into ``hermes-mcp serve
--protocol mcp``, every stdout line checked to be a JSON-RPC message. Bad input (not
JSON, not JSON-RPC, an unknown method, bad params, an unknown tool) gets its error and
the next request is answered; the workspace ``/`` is refused with how to set one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import FileUrl

from tests.agent_helpers import new_home, new_workspace
from tests.keys import seen
from tests.routing import HERMES, Home

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def _call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def exchange(
    home: Home, lines: list[bytes], *args: str, answers: int, command: list[str] | None = None
) -> list[dict[str, Any]]:
    """Send ``lines``, read until ``answers`` responses came back, close stdin; every
    stdout line must be JSON-RPC."""
    out: list[dict[str, Any]] = []
    command = command or [HERMES, "serve", "--protocol", "mcp", *args]
    with anyio.fail_after(60):
        async with await anyio.open_process(command, env=home.process_env) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            await proc.stdin.send(b"".join(lines))
            buffer = b""
            while len([m for m in out if isinstance(m, list) or "id" in m]) < answers:
                chunk = await proc.stdout.receive()
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    seen(line.decode())
                    message = json.loads(line)  # nothing but JSON on stdout
                    for each in message if isinstance(message, list) else [message]:
                        assert each["jsonrpc"] == "2.0"  # a batch's answer is an array
                    out.append(message)
            await proc.stdin.aclose()
            rest = b"".join([chunk async for chunk in proc.stdout])
            assert rest.strip() == b"" or all(json.loads(x) for x in rest.splitlines() if x.strip())
            assert await proc.wait() == 0
            assert proc.stderr is not None
            seen(b"".join([c async for c in proc.stderr]).decode())
    return out


def line(message: dict[str, Any] | str) -> bytes:
    text = message if isinstance(message, str) else json.dumps(message)
    return text.encode() + b"\n"


def by_id(messages: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {m.get("id"): m for m in messages if "id" in m and "method" not in m}


async def test_each_bad_input_gets_its_error_and_the_next_request_is_answered(
    tmp_path: Path,
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    lines = [
        line(INIT),
        line(INITIALIZED),
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"\n',  # not JSON
        line({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        line('{"hello": "world", "id": 3}'),  # JSON, not JSON-RPC
        line({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"}),
        line({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"arguments": {}}}),
        line(_call(6, "no_such_tool", {})),
        line(_call(7, "read_file", {"path": 42})),
        line(_call(8, "read_file", {"path": "missing.txt"})),
        line(
            {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "logging/setLevel",
                "params": {"level": "warning"},
            }
        ),
        line(_call(10, "read_file", {"path": "hello.py"})),
        line(_call(11, "write_file", {"path": "x.txt", "content": "x"})),  # needs approval
    ]
    out = await exchange(home, lines, "--workspace", str(ws), answers=12)
    answers = by_id(out)
    parse_errors = [m for m in out if m.get("id") is None and "error" in m]
    assert [m["error"]["code"] for m in parse_errors] == [-32700]
    assert answers[2]["result"] == {}
    assert answers[3]["error"]["code"] == -32600
    assert answers[4]["error"]["code"] == -32601
    assert answers[5]["error"]["code"] == -32602
    assert (
        answers[6]["error"]["code"] == -32602 and "no_such_tool" in answers[6]["error"]["message"]
    )
    assert answers[7]["error"]["code"] == -32602 and "path" in answers[7]["error"]["message"]
    assert answers[8]["result"]["isError"] is True
    assert answers[9]["result"] == {}
    assert answers[10]["result"]["isError"] is False
    assert 'print("hello")' in answers[10]["result"]["content"][0]["text"]
    # This client declared no elicitation: the policy decides, the denial says how to allow.
    denied = answers[11]["result"]
    text = denied["content"][0]["text"]
    assert denied["isError"] is True and "cannot be asked" in text and "accept_edits" in text
    assert not (ws / "x.txt").exists()


async def test_hostile_lines_get_their_errors_and_the_server_keeps_serving(
    tmp_path: Path,
) -> None:
    """A line nested 200,000 deep once killed the server (RecursionError, exit 1); bad
    UTF-8 and a batch get their answers per JSON-RPC 2.0 too."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    lines = [
        line(INIT),
        line(INITIALIZED),
        b"[" * 200_000 + b"\n",
        b'{"jsonrpc":"2.0","id":1,"method":"' + b"[" * 200_000 + b'"}\n',  # deep in a string: fine
        b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"x":"\xff"}}\n',
        line(json.dumps([{"jsonrpc": "2.0", "id": 3, "method": "ping"}])),
        line({"jsonrpc": "2.0", "id": 4, "method": "ping"}),
    ]
    out = await exchange(home, lines, "--workspace", str(ws), answers=6)
    batch = [m for m in out if isinstance(m, list)]
    single = [m for m in out if isinstance(m, dict)]
    errors = [m["error"] for m in single if m.get("id") is None and "error" in m]
    assert [e["code"] for e in errors] == [-32700, -32700]
    assert "nested deeper" in errors[0]["data"]["details"]
    assert by_id(single)[1]["error"]["code"] == -32601  # a method of that name is unknown
    assert [(a["id"], a["error"]["code"]) for a in batch[0]] == [(3, -32600)]
    assert by_id(single)[4]["result"] == {}


async def test_a_2026_client_may_open_with_tools_list(tmp_path: Path) -> None:
    """No ``initialize``, no ``server/discover``: the first request needs the tools."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    lines = [
        line({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}),
        line(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "read_file", "arguments": {"path": "hello.py"}, "_meta": meta},
            }
        ),
    ]
    answers = by_id(await exchange(home, lines, "--workspace", str(ws), answers=2))
    assert any(t["name"] == "agent_run" for t in answers[1]["result"]["tools"])
    assert answers[2]["result"]["resultType"] == "complete"
    assert 'print("hello")' in answers[2]["result"]["content"][0]["text"]


async def test_a_first_line_already_read_is_served_first(tmp_path: Path) -> None:
    """``run_mcp_stdio(prefix=...)``: the bytes ``serve --protocol auto`` peeked at."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    script = (
        "import sys; from pathlib import Path; from hermes_mcp.log import configure_logging;"
        "from hermes_mcp.mcp_server import run_mcp_stdio; configure_logging();"
        f"sys.exit(run_mcp_stdio([Path({str(ws)!r})], prefix={line(INIT)!r}))"
    )
    rest = [line(INITIALIZED), line(_call(1, "read_file", {"path": "hello.py"}))]
    out = await exchange(home, rest, answers=2, command=[sys.executable, "-c", script])
    answers = by_id(out)
    assert answers[0]["result"]["serverInfo"]["name"] == "hermes-mcp"
    assert 'print("hello")' in answers[1]["result"]["content"][0]["text"]


async def test_the_workspace_slash_is_refused_with_how_to_set_one(tmp_path: Path) -> None:
    home = new_home(tmp_path)
    lines = [
        line(INIT),
        line(INITIALIZED),
        line(_call(1, "read_file", {"path": "etc/hostname"})),
        line(_call(2, "terminal", {"command": "ls"})),
        line(_call(3, "providers_status", {})),
    ]
    out = await exchange(home, lines, "--workspace", "/", answers=4)
    answers = by_id(out)
    for request_id in (1, 2):
        result = answers[request_id]["result"]
        assert result["isError"] is True and "--workspace" in result["content"][0]["text"]
    assert answers[3]["result"]["isError"] is False  # tools that touch no files still work


async def test_a_broken_config_is_named_in_every_call_and_the_server_goes_on(
    tmp_path: Path,
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    (home.path / "config.toml").write_text("[model]\ndefault = 3\n")
    lines = [
        line(INIT),
        line(INITIALIZED),
        line({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        line(_call(2, "read_file", {"path": "hello.py"})),
    ]
    answers = by_id(await exchange(home, lines, "--workspace", str(ws), answers=3))
    assert answers[1]["result"]["tools"]
    result = answers[2]["result"]
    assert result["isError"] is True and "config.toml" in result["content"][0]["text"]
    assert "model.default" in result["content"][0]["text"]


async def test_without_workspace_the_clients_roots_then_the_current_directory(
    tmp_path: Path,
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=FileUrl(ws.as_uri()), name="ws")])

    log = tmp_path / "stderr.log"
    with log.open("w") as errlog, anyio.fail_after(60):
        in_elsewhere = StdioServerParameters(
            command=HERMES,
            args=["serve", "--protocol", "mcp"],
            env=home.process_env,
            cwd=str(elsewhere),
        )
        async with Client(
            stdio_client(in_elsewhere, errlog=errlog), mode="legacy", list_roots_callback=roots
        ) as client:
            result = await client.call_tool("read_file", {"path": "hello.py"})
            assert not result.is_error, result  # the client's root, not the cwd
        in_ws = in_elsewhere.model_copy(update={"cwd": str(ws)})
        async with Client(stdio_client(in_ws, errlog=errlog), mode="auto") as client:
            result = await client.call_tool("read_file", {"path": "hello.py"})
            assert not result.is_error, result  # no roots: the current directory
    seen(log.read_text())
