"""``[mcp_servers]`` through the command line (``run`` as a real process): ``hermes-mcp run`` with a
scripted model calling a configured server's tool, ``hermes-mcp doctor`` listing each
server's tools or problem, and another hermes-mcp's ``serve --protocol mcp`` as a server."""

from __future__ import annotations

import importlib.util
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, seen
from tests.mcp_client_helpers import alive, assert_gone, configure, pids, server
from tests.routing import HERMES, Home, Ran
from tests.tools_helpers import wait_gone


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


async def hermes(home: Home, cwd: Path, *args: str) -> Ran:
    with anyio.fail_after(60):
        proc = await anyio.run_process([HERMES, *args], env=home.process_env, cwd=cwd, check=False)
    return Ran(proc.returncode, seen(proc.stdout.decode()), seen(proc.stderr.decode()))


def events(ran: Ran) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ran.stdout.splitlines()]


@pytest.mark.anyio
async def test_run_calls_a_configured_servers_tool_and_the_answer_uses_the_result(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    # mode "ask" with nobody to ask: the read-only tool still runs
    configure(home, fake, server("demo", "demo", pid_file), mode="ask")
    fake.script(
        KEY_A,
        calls(call("demo__add", "c1", a=20, b=22)),
        reply("20 and 22 make 42."),
    )
    ran = await hermes(home, ws, "run", "--json", "add 20 and 22 with the demo server")
    out = events(ran)
    assert ran.code == 0, ran.stderr
    [start] = [e for e in out if e["type"] == "tool_call_start"]
    [end] = [e for e in out if e["type"] == "tool_call_end"]
    assert (start["name"], start["kind"], start["arguments"]) == (
        "demo__add",
        "read",
        {"a": 20, "b": 22},
    )
    assert (end["status"], end["output"]) == ("completed", "42")
    assert out[-1]["text"] == "20 and 22 make 42."

    offered = {t["function"]["name"]: t["function"] for t in fake.requests[0].body["tools"]}  # type: ignore[index]
    assert offered["demo__add"]["parameters"]["required"] == ["a", "b"]
    assert "from the MCP server 'demo'" in offered["demo__add"]["description"]
    answer = fake.requests[1].body["messages"][-1]  # type: ignore[index]
    assert (answer["role"], answer["content"]) == ("tool", "42")

    logs = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    assert {
        "event": "mcp_server_stderr",
        "server": "demo",
        "line": "demo server starting",
    }.items() <= next(log for log in logs if log.get("event") == "mcp_server_stderr").items()
    assert_gone(pid_file, 1)


@pytest.mark.anyio
async def test_run_goes_on_when_a_configured_server_cannot_start(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(
        home,
        fake,
        server("broken", "exit", pid_file),
        server("noisy", "garbage", pid_file, startup_timeout_s=3),
    )
    fake.script(KEY_A, reply("Still here."))
    ran = await hermes(home, ws, "run", "hello")
    assert (ran.code, ran.stdout) == (0, "Still here.\n")  # no server's stdout on ours
    problems = [
        json.loads(line)["problem"]
        for line in ran.stderr.splitlines()
        if '"mcp_server_problem"' in line
    ]
    broken = [p for p in problems if p.startswith("MCP server 'broken'")]
    assert len(broken) == 1 and "cannot start: the token is missing" in broken[0]
    noisy = [p for p in problems if p.startswith("MCP server 'noisy'")]
    assert len(noisy) == 1 and "did not answer its handshake within 3 s" in noisy[0]
    assert "Welcome to the server" not in ran.stdout
    assert_gone(pid_file, 2)


@pytest.mark.anyio
async def test_doctor_lists_each_servers_tools_or_its_problem(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(
        home,
        fake,
        server("demo", "demo", pid_file, tools=["add", "shout", "files.delete", "nosuch"]),
        server("broken", "exit", pid_file),
        server("off", "demo", pid_file, enabled=False),
        policy='deny = ["mcp:demo__shout", "mcp:demo__files.delete", "mcp:demo__rm_*"]',
    )
    ran = await hermes(home, ws, "doctor", "--json")
    checks = {c["check"]: c for c in json.loads(ran.stdout)}
    assert ran.code == 1  # one server is broken
    demo = checks["mcp demo"]
    tools = "3 tool(s) (demo__add, demo__shout, demo__files_delete)"
    assert demo["ok"] and tools in demo["detail"]
    assert "has no tool(s) nosuch (mcp_servers.demo.tools)" in demo["detail"]
    # A rule matching no tool of a connected server is named (a typo protects nothing).
    warned = [c for c in checks.values() if c["check"].startswith("policy deny")]
    assert [c["check"] for c in warned] == ["policy deny mcp:demo__rm_*"]
    assert warned[0]["ok"] and "matches no tool" in warned[0]["detail"]
    assert not checks["mcp broken"]["ok"]
    assert "cannot start: the token is missing" in checks["mcp broken"]["detail"]
    assert checks["mcp off"] == {
        "check": "mcp off",
        "ok": True,
        "detail": "disabled (enabled = false)",
    }
    assert_gone(pid_file, 2)


@pytest.mark.anyio
@pytest.mark.skipif(
    importlib.util.find_spec("hermes_mcp.mcp_server") is None,
    reason="hermes_mcp.mcp_server (serve --protocol mcp, issue 15) is not on this branch yet",
)
async def test_another_hermes_serving_mcp_is_a_server_whose_read_file_is_callable(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    other_home = tmp_path / "other-home"
    other_home.mkdir()
    configure(home, fake)
    (other_home / "config.toml").write_text((home.path / "config.toml").read_text())
    section = "\n".join(
        [
            "[mcp_servers.other]",
            f"command = {json.dumps(HERMES)}",
            'args = ["serve", "--protocol", "mcp"]',
            f"cwd = {json.dumps(str(ws))}",
            "env = {"
            + ", ".join(
                f"{k} = {json.dumps(v)}"
                for k, v in {"HERMES_MCP_HOME": str(other_home), **home.env}.items()
            )
            + "}",
        ]
    )
    config = home.path / "config.toml"
    config.write_text(config.read_text() + section + "\n")
    fake.script(
        KEY_A, calls(call("other__read_file", "c1", path="hello.py")), reply("It prints hello.")
    )
    ran = await hermes(home, ws, "run", "--json", "what does hello.py do?")
    out = events(ran)
    [end] = [e for e in out if e["type"] == "tool_call_end"]
    assert end["name"] == "other__read_file" and end["status"] == "completed", ran.stderr
    assert 'print("hello")' in end["output"]
    assert out[-1]["stop_reason"] == "end_turn"


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
async def test_no_server_outlives_hermes(tmp_path: Path, fake: FakeProvider, how: str) -> None:
    """Ctrl-C: the turn is cancelled, the session closes and stops the server. Killed
    outright: the server sees its stdin close and exits, as MCP servers must."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    pid_file = tmp_path / "pids"
    configure(home, fake, server("demo", "demo", pid_file))
    fake.script(KEY_A, hold("never"))
    with anyio.fail_after(40):
        async with await anyio.open_process(
            [HERMES, "run", "wait"], env=home.process_env, cwd=ws
        ) as proc:
            await fake.wait_in_flight(1, timeout=30)  # servers connect before the turn
            [child] = pids(pid_file)
            assert alive(child)
            proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
            code = await proc.wait()
        assert code == (130 if how == "sigint" else -signal.SIGKILL)
        if how == "sigint":
            assert not alive(child)  # stopped before hermes exited
        await wait_gone(child)  # killed: the child notices its closed stdin on its own
        assert not alive(child)
