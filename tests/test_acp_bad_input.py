"""Bad input to ``hermes-acp`` over raw stdio: each gets a JSON-RPC error and the agent
keeps serving (malformed JSON, not a request, unknown method, invalid params, unknown
session id, unknown mode and option value, an unknown auth method)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from tests.acp_client import HERMES_ACP
from tests.agent_helpers import new_home, new_workspace


class Raw:
    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.buffer = b""

    async def send(self, line: bytes | str | dict[str, Any]) -> None:
        data = line if isinstance(line, str | bytes) else json.dumps(line)
        assert self.proc.stdin is not None
        await self.proc.stdin.send((data if isinstance(data, bytes) else data.encode()) + b"\n")

    async def read(self) -> Any:
        assert self.proc.stdout is not None
        while b"\n" not in self.buffer:
            self.buffer += await self.proc.stdout.receive()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    async def answer(self, msg_id: Any) -> dict[str, Any]:
        """The response to ``msg_id`` (notifications on the way are skipped)."""
        while True:
            message = await self.read()
            if "method" not in message and message.get("id") == msg_id:
                return message  # type: ignore[no-any-return]


def request(msg_id: int, method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


@pytest.mark.anyio
async def test_bad_input_gets_json_rpc_errors_and_the_agent_keeps_serving(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    async with await anyio.open_process(
        [HERMES_ACP], env=home.process_env, cwd=ws, stderr=None
    ) as proc:
        raw = Raw(proc)
        with anyio.fail_after(30):
            await raw.send("{not json")
            assert (await raw.answer(None))["error"]["code"] == -32700
            await raw.send("[1, 2]")  # a batch: one answer per element that is no message
            assert [a["error"]["code"] for a in await raw.read()] == [-32600, -32600]
            await raw.send(b"[" * 200_000)  # nested past the parser's limit (killed it once)
            assert "nested" in json.dumps(await raw.answer(None))
            await raw.send(b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}')  # not UTF-8
            assert (await raw.answer(None))["error"]["code"] == -32700
            await raw.send({"jsonrpc": "2.0", "id": 7})
            assert (await raw.answer(7))["error"]["code"] == -32600

            await raw.send(request(1, "initialize", {"protocolVersion": 1}))
            assert (await raw.answer(1))["result"]["protocolVersion"] == 1
            await raw.send(request(2, "session/prompt", {"sessionId": "nope", "prompt": []}))
            unknown = (await raw.answer(2))["error"]
            assert unknown["code"] == -32602 and "nope" in json.dumps(unknown)
            await raw.send(request(3, "session/teleport", {}))
            assert (await raw.answer(3))["error"]["code"] == -32601
            await raw.send(request(4, "session/new", {"cwd": 42}))
            assert (await raw.answer(4))["error"]["code"] == -32602
            await raw.send(request(5, "session/new", {"cwd": "relative/path", "mcpServers": []}))
            assert "absolute" in json.dumps((await raw.answer(5))["error"])

            await raw.send(request(6, "session/new", {"cwd": str(ws), "mcpServers": []}))
            sid = (await raw.answer(6))["result"]["sessionId"]
            await raw.send(request(7, "session/set_mode", {"sessionId": sid, "modeId": "yolo"}))
            bad_mode = (await raw.answer(7))["error"]
            assert bad_mode["code"] == -32602 and "yolo" in json.dumps(bad_mode)
            await raw.send(
                request(
                    8,
                    "session/set_config_option",
                    {"sessionId": sid, "configId": "model", "value": "nowhere:model"},
                )
            )
            assert (await raw.answer(8))["error"]["code"] == -32602
            await raw.send(
                request(
                    9,
                    "session/set_config_option",
                    {"sessionId": sid, "configId": "x", "value": "y"},
                )
            )
            assert (await raw.answer(9))["error"]["code"] == -32602
            await raw.send(
                request(10, "session/load", {"sessionId": "gone", "cwd": str(ws), "mcpServers": []})
            )
            assert (await raw.answer(10))["error"]["code"] == -32602
            await raw.send(request(11, "authenticate", {"methodId": "password"}))
            assert (await raw.answer(11))["error"]["code"] == -32602
            await raw.send(
                request(12, "session/prompt", {"sessionId": sid, "prompt": "not a list"})
            )
            assert (await raw.answer(12))["error"]["code"] == -32602

            # Still serving, and the session is still there.
            await raw.send(request(13, "session/set_mode", {"sessionId": sid, "modeId": "auto"}))
            assert "result" in await raw.answer(13)
            await raw.send(request(14, "session/list", {"cwd": str(ws)}))
            listed = (await raw.answer(14))["result"]["sessions"]
            assert [s["sessionId"] for s in listed] == [sid]
        assert proc.stdin is not None
        await proc.stdin.aclose()
        with anyio.fail_after(30):
            assert await proc.wait() == 0


PEEKED = (
    "import sys\n"
    "from acp_adapter import run_acp_stdio\n"
    "first = sys.stdin.buffer.raw.readline()\n"  # what `serve --protocol auto` reads
    "sys.exit(run_acp_stdio(prefix=first))\n"
)


@pytest.mark.anyio
async def test_run_acp_stdio_answers_the_line_read_before_it(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    command = [sys.executable, "-c", PEEKED]
    async with await anyio.open_process(command, env=home.process_env, cwd=ws, stderr=None) as proc:
        raw = Raw(proc)
        with anyio.fail_after(30):
            await raw.send(request(1, "initialize", {"protocolVersion": 1}))
            assert (await raw.answer(1))["result"]["agentInfo"]["name"] == "hermes"
            await raw.send(request(2, "session/new", {"cwd": str(ws), "mcpServers": []}))
            assert (await raw.answer(2))["result"]["sessionId"]
            assert proc.stdin is not None
            await proc.stdin.aclose()
            assert await proc.wait() == 0
