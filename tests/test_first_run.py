"""The first day (issue 24, items 2-5): with no key and no config file, every surface says
the same thing (which key variables are read, and that ``hermes-mcp setup`` writes a
config); with a provider whose key cannot be read, the tools that need no model still
work and a turn names the key; over ACP a configuration problem is ``-32000`` with the
reason as the message; MCP arguments that do not validate are ``isError`` results while
an unknown tool stays a protocol error.

MCP runs in process (``mcp.Client`` on the server object, both eras); the command line
and ACP as the processes a user starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import acp
import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from hermes_mcp.config import no_config_error
from hermes_mcp.mcp_server.edge import Edge
from hermes_mcp.mcp_server.server import build_server
from tests.acp_client import Editor, connect, text
from tests.agent_helpers import new_home, new_workspace
from tests.keys import KEY_A
from tests.routing import Home, hermes

pytestmark = pytest.mark.anyio

MODES = ["legacy", "auto"]


@asynccontextmanager
async def mcp_in_process(
    home: Home, workspace: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Client]:
    """Our MCP server object, its edge loading as ``serve`` does, and the SDK's client."""
    for name, value in home.process_env.items():
        monkeypatch.setenv(name, value)
    edge = Edge([workspace])
    server = build_server(edge)
    start = anyio.Event()
    start.set()
    async with anyio.create_task_group() as tg:
        tg.start_soon(edge.run, start)
        try:
            async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
                yield client
        finally:
            edge.stop()


def body(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


def broken_key(home: Home, fake_url: str = "http://127.0.0.1:9/v1") -> None:
    """A config whose one provider names a variable that is not set."""
    (home.path / "config.toml").write_text(
        '[model]\ndefault = "openai:gpt-5.5"\n'
        f'[providers.openai]\nwire = "openai"\nbase_url = "{fake_url}"\n'
        'credentials = ["env:HERMES_TEST_UNSET_KEY"]\n'
    )


@pytest.mark.parametrize("mode", MODES)
async def test_mcp_no_key_no_config_says_setup_and_tools_still_work(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    expected = str(no_config_error(home.path / "config.toml"))
    assert "OPENAI_API_KEY" in expected and "hermes-mcp setup" in expected
    async with mcp_in_process(home, ws, mode, monkeypatch) as client:
        with anyio.fail_after(30):
            ran = await client.call_tool("agent_run", {"prompt": "hi"})
            read = await client.call_tool("read_file", {"path": "hello.py"})
    assert ran.is_error and expected in body(ran)
    assert "[model]" not in body(ran)
    assert not read.is_error and "hello" in body(read)


@pytest.mark.parametrize("mode", MODES)
async def test_mcp_a_key_that_cannot_be_read_leaves_the_tools_working(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    broken_key(home)
    (ws / "notes").mkdir()
    (ws / "notes" / "a.txt").write_text("needle here\n")
    async with mcp_in_process(home, ws, mode, monkeypatch) as client:
        with anyio.fail_after(30):
            read = await client.call_tool("read_file", {"path": "hello.py"})
            listed = await client.call_tool("list_dir", {"path": "notes"})
            found = await client.call_tool("search_files", {"pattern": "needle"})
            ran = await client.call_tool("agent_run", {"prompt": "hi"})
    for result in (read, listed, found):
        assert not result.is_error, body(result)
    assert "a.txt" in body(listed) and "a.txt" in body(found)
    assert ran.is_error
    assert "environment variable HERMES_TEST_UNSET_KEY is not set" in body(ran)


@pytest.mark.parametrize("mode", MODES)
async def test_mcp_bad_arguments_are_tool_results_unknown_tools_protocol_errors(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    async with mcp_in_process(home, ws, mode, monkeypatch) as client:
        with anyio.fail_after(30):
            bad = await client.call_tool("read_file", {"pth": "hello.py"})
            assert bad.is_error
            assert "path: Field required" in body(bad) and "pth: unknown field" in body(bad)
            typed = await client.call_tool("agent_run", {"prompt": 7})
            assert typed.is_error and "prompt" in body(typed)
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("no_such_tool", {})
            assert unknown.value.error.code == -32602
            assert not (await client.call_tool("read_file", {"path": "hello.py"})).is_error


async def test_cli_says_the_same_words(tmp_path: Path) -> None:
    home = new_home(tmp_path)
    expected = str(no_config_error(home.path / "config.toml"))
    for command in (["ask", "hi"], ["run", "hi"]):
        ran = await hermes(home, *command)
        assert ran.code == 2 and expected in ran.stderr, ran.stderr


async def test_acp_no_config_is_minus_32000_with_the_same_words(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    expected = str(no_config_error(home.path / "config.toml"))
    async with connect(Editor(), home.process_env, ws) as conn:
        new = await conn.new_session(cwd=str(ws))
        with anyio.fail_after(30), pytest.raises(acp.RequestError) as failed:
            await conn.prompt(session_id=new.session_id, prompt=text("hello"))
    assert failed.value.code == -32000
    assert expected in str(failed.value)
    assert failed.value.data["authMethod"] == "setup"


async def test_acp_a_broken_config_file_is_minus_32000_naming_it(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    (home.path / "config.toml").write_text('[model]\ndefualt = "openai:gpt-5.5"\n')
    async with connect(Editor(), {**home.process_env, "OPENAI_API_KEY": KEY_A}, ws) as conn:
        with anyio.fail_after(30), pytest.raises(acp.RequestError) as failed:
            await conn.new_session(cwd=str(ws))
    assert failed.value.code == -32000  # not -32602 "Invalid params": Zed shows the message
    assert "model.defualt: unknown key (did you mean 'default'?)" in str(failed.value)
    assert "Invalid params" not in str(failed.value)


async def test_acp_a_new_session_never_prompted_is_loaded_after_a_restart(
    tmp_path: Path,
) -> None:
    """Item 8: ``session/new`` stores the session, so an editor that restarts hermes (or
    acpx, which exits after each command) loads or resumes it, never silently a new one."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    env = {**home.process_env, "OPENAI_API_KEY": KEY_A}
    async with connect(Editor(), env, ws) as conn:
        new = await conn.new_session(cwd=str(ws))
    # The connection ended right away: no prompt, and the runtime never had to open.
    async with connect(Editor(), env, ws) as conn:
        with anyio.fail_after(30):
            listed = await conn.list_sessions(cwd=str(ws))
            assert new.session_id in [s.session_id for s in listed.sessions]
            await conn.load_session(cwd=str(ws), session_id=new.session_id)
    async with connect(Editor(), env, ws) as conn:
        with anyio.fail_after(30):
            await conn.resume_session(cwd=str(ws), session_id=new.session_id)
