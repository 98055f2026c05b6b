"""MCP servers an editor passes in ``session/new``: ``hermes-acp`` (in the test's process,
over pipes) driven by the SDK's client connects them for that session only, offers their tools to the model as
``<server>__<tool>``, names a server that fails, and ends their processes on close."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from acp.schema import EnvVariable, McpServerStdio

from hermes_mcp.testing import FakeProvider, reply
from tests.acp_client import Editor, connect_in_process, text
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A
from tests.mcp_client_helpers import SERVERS, alive, pids


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def stdio(name: str, kind: str, pid_file: Path) -> McpServerStdio:
    return McpServerStdio(
        name=name,
        command=sys.executable,
        args=[SERVERS, kind],
        env=[EnvVariable(name="HERMES_TEST_PID_FILE", value=str(pid_file))],
    )


def offered(body: object) -> set[str]:
    assert isinstance(body, dict)
    return {t["function"]["name"] for t in body.get("tools", [])}


@pytest.mark.anyio
async def test_servers_from_session_new_serve_that_session_only(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    pid_file = tmp_path / "pids"
    editor = Editor()
    fake.script(KEY_A, calls(call("demo__add", "c1", a=20, b=22)), reply("It is 42."))
    async with connect_in_process(editor, home.process_env, ws) as conn:
        with anyio.fail_after(60):
            first = await conn.new_session(
                cwd=str(ws),
                mcp_servers=[stdio("demo", "demo", pid_file), stdio("dead", "exit", pid_file)],
            )
            other = await conn.new_session(cwd=str(ws), mcp_servers=[])
            done = await conn.prompt(session_id=first.session_id, prompt=text("add 20 and 22"))
        assert done.stop_reason == "end_turn"
        assert "It is 42." in editor.text(first.session_id)
        # The model was offered the server's tools and its result came back to it.
        first_request, second_request = (r.body for r in fake.requests[-2:])
        assert "demo__add" in offered(first_request)
        assert '"42"' in json.dumps(second_request) or "42" in json.dumps(second_request)
        # The server that exits at start is named to the editor; the session went on.
        assert "dead" in editor.text(first.session_id)

        fake.script(KEY_A, reply("No tools here."))
        with anyio.fail_after(30):
            await conn.prompt(session_id=other.session_id, prompt=text("hello"))
        assert not any(name.startswith("demo__") for name in offered(fake.requests[-1].body))

        started = pids(pid_file)
        assert started and any(alive(p) for p in started)
        with anyio.fail_after(30):
            await conn.close_session(session_id=first.session_id)
        assert [p for p in started if alive(p)] == []  # ended before close answered
