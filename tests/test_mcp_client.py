"""Other MCP servers as the agent's tools, in a real runtime: real child processes
(``tests/mcp_servers.py``, written with the SDK's server API), the real router against
the fake provider, the session's real policy and approver."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.log import configure_logging
from hermes_mcp.runtime import Backends
from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import FALLBACK_KEY, KEY_A
from tests.mcp_client_helpers import assert_gone, configure, mcp_runtime, pids, server
from tests.tools_helpers import RecordingApprover


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.mark.anyio
async def test_failures_are_named_and_the_session_and_other_servers_go_on(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(
        home,
        fake,
        server("demo", "demo", pid_file),
        server("exits", "exit", pid_file),
        server("hangs", "hang", pid_file, startup_timeout_s=8),
        server("noisy", "garbage", pid_file, startup_timeout_s=3),
    )
    fake.script(KEY_A, calls(call("demo__add", "c1", a=20, b=22)), reply("It is 42."))
    told: list[str] = []
    late: list[str] = []

    async def notify(message: str) -> None:
        told.append(message)

    async def notify_late(message: str) -> None:
        late.append(message)

    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, client):
            session = await runtime.create_session(ws)
            client.watch(session, notify)
            client.watch(session, notify_late, past=False)  # an edge that answers first
            assert {n for n in session.registry.names if "__" in n} >= {"demo__add"}
            assert not any(
                n.startswith(("exits__", "hangs__", "noisy__")) for n in session.registry.names
            )

            end = await session.run("add 20 and 22")
            assert (end.stop_reason, end.text) == ("end_turn", "It is 42.")
            tool_message = fake.requests[1].body["messages"][-1]  # type: ignore[index]
            assert (tool_message["role"], tool_message["content"]) == ("tool", "42")

            problems = client.problems(session)
            for name, why in [
                ("exits", "cannot start: the token is missing"),  # its stderr, quoted
                ("hangs", "did not answer its tools/list within 8 s"),
                ("noisy", "did not answer its handshake within 3 s"),
                ("noisy", "line(s) that are not JSON-RPC to stdout"),
            ]:
                mine = [p for p in problems if p.startswith(f"MCP server {name!r}")]
                assert len(mine) == 1 and why in mine[0], problems
            await anyio.wait_all_tasks_blocked()
            assert sorted(told) == sorted(problems) and late == []
            await session.close()
            assert_gone(pid_file, 4)


@pytest.mark.anyio
async def test_results_map_to_tool_results_and_list_changes_refresh_the_tools(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(home, fake, server("demo", "demo", pid_file, timeout_s=1))
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, client):
            session = await runtime.create_session(ws)
            ctx = session.context.for_call("c1")

            async def use(name: str, **args: object) -> tuple[bool, str, object]:
                result = await session.registry.call(name, args, ctx)
                return result.is_error, result.text, result.structured

            assert await use("demo__add", a=1, b=2) == (False, "3", {"result": 3})
            error, text, _ = await use("demo__add", a="one")
            assert (
                error and "'b' is a required property" in text and "a: 'one' is not of type" in text
            )
            error, text, _ = await use("demo__picture")
            assert not error and text == "a square\n[image: image/png, 32 bytes, not shown]"
            error, text, structured = await use("demo__big")
            assert len(text) < 100_200 and structured is None
            assert text.endswith(
                "[output cut at 100000 of 300000 characters]\n"
                "[structured content of 300014 characters left out]"
            )
            error, text, _ = await use("demo__broken")
            assert error and "broken" in text
            error, text, _ = await use("demo__slow", seconds=30)
            assert error and "did not answer slow within 1 s" in text

            tool = session.registry.get("demo__add")
            assert tool is not None and tool.toolset == "mcp" and tool.annotations.read_only
            assert tool.json_schema()["required"] == ["a", "b"] and tool.output_schema() is not None

            [demo] = client.connections(session)[0].servers
            refreshed = demo.refreshed
            assert await use("demo__grow") == (False, "grown", {"result": "grown"})
            await refreshed.wait()
            assert (await use("demo__fresh"))[1] == "fresh!"
        assert_gone(pid_file, 1)  # the runtime closed the session, and the server with it


@pytest.mark.anyio
async def test_a_server_that_dies_mid_session_is_named_and_its_tools_answer_errors(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(home, fake, server("demo", "demo", pid_file), server("other", "demo", pid_file))
    stopped = anyio.Event()

    async def notify(message: str) -> None:
        if message.startswith("MCP server 'demo'") and "stopped" in message:
            stopped.set()

    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, client):
            session = await runtime.create_session(ws)
            client.watch(session, notify)
            ctx = session.context.for_call("c1")
            result = await session.registry.call("demo__die", {}, ctx)
            assert result.is_error and "went away during die" in result.text
            result = await session.registry.call("demo__add", {"a": 1, "b": 1}, ctx)
            assert result.is_error and "is not running" in result.text
            await stopped.wait()
            result = await session.registry.call("other__add", {"a": 1, "b": 1}, ctx)
            assert (result.is_error, result.text) == (False, "2")
            await session.close()
        assert_gone(pid_file, 2)


@pytest.mark.anyio
async def test_an_mcp_deny_rule_stops_a_call(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file, calls_file = tmp_path / "pids", tmp_path / "calls"
    section = server("demo", "demo", pid_file, env={"HERMES_TEST_CALLS": str(calls_file)})
    configure(home, fake, section, mode="auto", policy='deny = ["mcp:demo__sh*"]')
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, _client):
            session = await runtime.create_session(ws)
            ctx = session.context.for_call("c1")
            denied = await session.registry.call("demo__shout", {"text": "hi"}, ctx)
            assert denied.is_error and "deny rule 'mcp:demo__sh*'" in denied.text
            allowed = await session.registry.call("demo__add", {"a": 1, "b": 1}, ctx)
            assert not allowed.is_error
            await session.close()
    assert not calls_file.exists()  # the server never saw the call


@pytest.mark.anyio
async def test_an_mcp_rule_matches_the_servers_own_spelling(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """``mcp:demo__files.delete`` matched nothing (the tool is registered as
    ``demo__files_delete``), so in ``auto`` mode the denied tool ran."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file, calls_file = tmp_path / "pids", tmp_path / "calls"
    section = server("demo", "demo", pid_file, env={"HERMES_TEST_CALLS": str(calls_file)})
    configure(home, fake, section, mode="auto", policy='deny = ["mcp:demo__files.delete"]')
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, _client):
            session = await runtime.create_session(ws)
            ctx = session.context.for_call("c1")
            assert "demo__files_delete" in session.registry.names
            denied = await session.registry.call("demo__files_delete", {"path": "x"}, ctx)
            assert denied.is_error and "deny rule 'mcp:demo__files.delete'" in denied.text
            await session.close()
    assert not calls_file.exists()  # the server never saw the call


@pytest.mark.anyio
async def test_an_over_long_answer_fails_its_call_and_the_server_keeps_serving(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """A 50 MB result line once stalled the server's connection (the SDK's reader re-joined
    its buffer per chunk): the next five small calls timed out. Over the cap, the call
    fails naming it; the same connection answers the next calls."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    section = server("demo", "demo", pid_file, max_line_bytes=4 * 1024 * 1024, timeout_s=60)
    configure(home, fake, section)
    with anyio.fail_after(120):
        async with mcp_runtime(home) as (runtime, _client):
            session = await runtime.create_session(ws)
            ctx = session.context.for_call("c1")
            flood = await session.registry.call("demo__flood", {"mb": 50}, ctx)
            assert flood.is_error, flood.text[:300]
            assert "over max_line_bytes = 4194304" in flood.text
            for n in range(5):
                added = await session.registry.call("demo__add", {"a": n, "b": 1}, ctx)
                assert (added.is_error, added.text) == (False, str(n + 1))
            small = await session.registry.call("demo__flood", {"mb": 1}, ctx)
            assert not small.is_error  # under the cap: whole (cut for the model as usual)
            assert len(pids(pid_file)) == 1  # one server process: the connection held
            await session.close()
    assert_gone(pid_file, 1)


@pytest.mark.anyio
async def test_read_only_tools_run_in_ask_mode_without_a_prompt(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file, calls_file = tmp_path / "pids", tmp_path / "calls"
    section = server("demo", "demo", pid_file, env={"HERMES_TEST_CALLS": str(calls_file)})
    configure(home, fake, section, mode="ask")
    approver = RecordingApprover(allowed=True)
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, _client):
            session = await runtime.create_session(ws, backends=Backends(approver=approver))
            ctx = session.context.for_call("c1")
            assert (await session.registry.call("demo__add", {"a": 2, "b": 2}, ctx)).text == "4"
            assert approver.requests == []
            shouted = await session.registry.call("demo__shout", {"text": "hi"}, ctx)
            assert (shouted.is_error, shouted.text) == (False, "HI")
            [request] = approver.requests  # the session's own approver was asked
            assert (request.tool, request.action, request.call_id) == ("demo__shout", "mcp", "c1")
            assert request.risk and "'shout' on the MCP server 'demo'" in request.risk
            await session.close()
    assert calls_file.read_text() == "hi\n"


@pytest.mark.anyio
async def test_env_references_are_resolved_redacted_and_nothing_else_is_inherited(
    tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("HERMES_TEST_MCP_SECRET", FALLBACK_KEY)
    monkeypatch.setenv("HERMES_TEST_NOT_PASSED", "visible")
    env = {"SERVICE_PASSPHRASE": "env:HERMES_TEST_MCP_SECRET"}
    configure(home, fake, server("demo", "demo", pid_file, env=env))
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, _client):
            session = await runtime.create_session(ws)
            ctx = session.context.for_call("c1")
            secret = await session.registry.call(
                "demo__getenv", {"name": "SERVICE_PASSPHRASE"}, ctx
            )
            assert (secret.is_error, secret.text) == (False, "[REDACTED]")
            other = await session.registry.call(
                "demo__getenv", {"name": "HERMES_TEST_NOT_PASSED"}, ctx
            )
            assert other.structured == {"result": ""}  # not inherited from our environment
            await session.close()


@pytest.mark.anyio
async def test_servers_of_one_session_are_not_offered_to_another(
    tmp_path: Path, fake: FakeProvider
) -> None:
    from acp.schema import EnvVariable, McpServerStdio

    from hermes_mcp.mcp_client import specs_from_acp

    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(home, fake, server("Editor_Tools", "demo", pid_file))
    editor = McpServerStdio(
        name="Editor Tools",
        command=__import__("sys").executable,
        args=[str(Path(__file__).with_name("mcp_servers.py")), "demo"],
        env=[EnvVariable(name="HERMES_TEST_PID_FILE", value=str(pid_file))],
    )
    with anyio.fail_after(60):
        async with mcp_runtime(home) as (runtime, client):
            first = await runtime.create_session(ws)
            second = await runtime.create_session(ws)
            connections = await client.connect(first, specs_from_acp([editor]))
            # the configured server of the same name keeps its name; the editor's is -2
            assert "Editor_Tools-2__add" in connections.tools
            assert {"Editor_Tools__add", "Editor_Tools-2__add"} <= set(first.registry.names)
            assert "Editor_Tools-2__add" not in second.registry
            assert "Editor_Tools__add" in second.registry
            ctx = first.context.for_call("c1")
            result = await first.registry.call("Editor_Tools-2__add", {"a": 3, "b": 4}, ctx)
            assert result.text == "7"
            await first.close()
            await second.close()
            assert_gone(pid_file, 3)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["http", "sse"])
async def test_a_streamable_http_or_sse_server_is_connected_with_its_headers(
    tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import sys

    from anyio.streams.text import TextReceiveStream

    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    monkeypatch.setenv("HERMES_TEST_MCP_TOKEN", FALLBACK_KEY)
    servers = str(Path(__file__).with_name("mcp_servers.py"))
    with anyio.fail_after(60):
        async with await anyio.open_process([sys.executable, servers, kind]) as proc:
            assert proc.stdout is not None
            async for line in TextReceiveStream(proc.stdout):
                url = line.strip()
                break
            section = "\n".join(
                [
                    "[mcp_servers.web]",
                    f'url = "{url}"',
                    *([] if kind == "http" else ['transport = "sse"']),
                    'headers = {Authorization = "env:HERMES_TEST_MCP_TOKEN"}',
                ]
            )
            configure(home, fake, section + "\n")
            try:
                async with mcp_runtime(home) as (runtime, client):
                    session = await runtime.create_session(ws)
                    assert client.problems(session) == []
                    ctx = session.context.for_call("c1")
                    result = await session.registry.call("web__add", {"a": 5, "b": 6}, ctx)
                    assert (result.is_error, result.text) == (False, "11")
                    sent = await session.registry.call(
                        "web__header", {"name": "Authorization"}, ctx
                    )
                    assert sent.text == "[REDACTED]"  # it arrived, and it never leaves
                    await session.close()
            finally:
                proc.terminate()


@pytest.mark.anyio
async def test_a_handshake_era_server_works_and_its_list_changes_refresh_the_tools(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(home, fake, server("old", "legacy", pid_file))
    logs = io.StringIO()
    configure_logging(stream=logs)
    try:
        with anyio.fail_after(60):
            async with mcp_runtime(home) as (runtime, client):
                session = await runtime.create_session(ws)
                [old] = client.connections(session)[0].servers
                assert old.protocol == "2025-11-25"
                assert old.registered == ["old__ping", "old__grow"]
                ctx = session.context.for_call("c1")
                assert (await session.registry.call("old__ping", {}, ctx)).text == "pong"
                refreshed = old.refreshed
                assert (await session.registry.call("old__grow", {}, ctx)).text == "grown"
                await refreshed.wait()
                assert "old__fresh" in session.registry
                await session.close()
            assert_gone(pid_file, 1)
    finally:
        configure_logging()
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    server_logs = [(x["server"], x["data"]) for x in lines if x["event"] == "mcp_server_log"]
    assert server_logs == [("old", "called ping"), ("old", "called grow")]
