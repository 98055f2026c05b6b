"""Sessions survive ``kill -9``: a process killed mid-stream or mid-tool leaves every
completed message and tool result in SQLite, a new process loads the session and
``run --session`` continues it; two processes appending to different sessions at once
both complete, each session whole and in order."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream

from hermes_mcp.agent.events import ToolCallStart
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.state import open_database
from hermes_mcp.state.sessions import load_session
from hermes_mcp.testing import FakeProvider, hold, reply, stream
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, KEY_B, seen
from tests.routing import HERMES, Home, hermes

Event = dict[str, Any]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    providers = {
        "pa": {"url": fake.openai_base_url, "keys": [KEY_A]},
        "pb": {"url": fake.openai_base_url, "keys": [KEY_B]},
    }
    home.write(providers, "pa:gpt-4o")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + '[policy]\nmode = "auto"\n')
    (home.path / "b.toml").write_text(config.read_text().replace("pa:gpt-4o", "pb:gpt-4o"))


async def events_until(proc: anyio.abc.Process, done: Callable[[Event], bool]) -> list[Event]:
    """Read ``run --json`` lines until one matches ``done`` (or stdout ends)."""
    assert proc.stdout is not None
    events: list[Event] = []
    pending = ""
    async for chunk in TextReceiveStream(proc.stdout):
        pending += seen(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            events.append(json.loads(line))
            if done(events[-1]):
                return events
    return events


async def kill_when(home: Home, ws: Path, prompt: str, done: Callable[[Event], bool]) -> None:
    """Start ``run --json PROMPT`` and ``kill -9`` it once an event matches ``done``."""
    async with await anyio.open_process(
        [HERMES, "run", "--json", prompt], env=home.process_env, cwd=ws
    ) as proc:
        events = await events_until(proc, done)
        assert events and done(events[-1]), events
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL


async def the_only_session(home: Home) -> dict[str, Any]:
    """A new process lists the sessions (there is one) and loads it."""
    listed = await hermes(home, "sessions", "list", "--json")
    assert listed.code == 0
    [session] = listed.json()["sessions"]
    shown = await hermes(home, "sessions", "show", session["id"], "--json")
    assert shown.code == 0
    loaded: dict[str, Any] = shown.json()
    return loaded


async def continue_session(home: Home, ws: Path, session_id: str) -> list[Event]:
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "run", "--session", session_id, "--json", "go on"],
            env=home.process_env,
            cwd=ws,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in seen(proc.stdout.decode()).splitlines()]


async def replay(home: Home, session_id: str) -> list[Any]:
    """The session's events as ``session/load`` replays them (the store's replay)."""
    db = open_database(home.settings().db_path)
    try:
        return [event async for event in SessionStore(db).replay(session_id)]
    finally:
        db.close()


def sent(fake: FakeProvider) -> list[tuple[str, str | None, str]]:
    """(role, tool_call_id, content) of the last request's conversation."""
    body = fake.requests[-1].body
    assert body is not None
    return [
        (m["role"], m.get("tool_call_id"), m.get("content") or "")
        for m in body["messages"]
        if m["role"] != "system"
    ]


@pytest.mark.anyio
async def test_kill_9_mid_stream_keeps_every_completed_message(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="hello.py")),
        stream(chunks=["It prints ", "hel", "lo."], delay_s=60),  # killed after its first chunk
        reply("picked up where we were"),
    )
    with anyio.fail_after(30):
        await kill_when(home, ws, "what does hello.py do?", lambda e: e["type"] == "text_delta")
        loaded = await the_only_session(home)
        session_id = loaded["session"]["id"]
        messages = loaded["messages"]
        assert [(m["role"], m["tool_call_id"]) for m in messages] == [
            ("user", None),
            ("assistant", None),
            ("tool", "r1"),  # the answer being streamed was in flight: lost
        ]
        assert 'print("hello")' in messages[2]["content"]
        assert [t["stop_reason"] for t in loaded["turns"]] == [None]  # it never ended

        events = await continue_session(home, ws, session_id)
    assert events[-1]["text"] == "picked up where we were"
    assert events[-1]["session_id"] == session_id
    conversation = sent(fake)
    assert [(role, call_id) for role, call_id, _ in conversation] == [
        ("user", None),
        ("assistant", None),
        ("tool", "r1"),
        ("user", None),
    ]
    assert 'print("hello")' in conversation[2][2] and conversation[3][2] == "go on"


@pytest.mark.anyio
async def test_kill_9_mid_tool_keeps_the_results_and_stands_in_for_the_lost_one(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    command = "echo $$ > shell.pid; echo started; sleep 60"
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="hello.py")),
        calls(call("terminal", "t1", command=command)),
        reply("carried on"),
    )
    try:
        with anyio.fail_after(30):
            await kill_when(
                home,
                ws,
                "look, then wait",
                lambda e: e["type"] == "tool_call_progress" and "started" in e["text"],
            )
            loaded = await the_only_session(home)
            messages = loaded["messages"]
            assert [(m["role"], m["tool_call_id"]) for m in messages] == [
                ("user", None),
                ("assistant", None),
                ("tool", "r1"),
                ("assistant", None),  # its terminal call never returned
            ]
            assert messages[3]["tool_calls"][0]["arguments"] == {"command": command}
            # What the editor was shown (the call started) is what a load replays.
            replayed = await replay(home, loaded["session"]["id"])
            starts = [e for e in replayed if isinstance(e, ToolCallStart)]
            assert [(e.call_id, e.name) for e in starts] == [
                ("r1", "read_file"),
                ("t1", "terminal"),
            ]
            assert starts[1].arguments == {"command": command}
            events = await continue_session(home, ws, loaded["session"]["id"])
    finally:
        pidfile = ws / "shell.pid"  # the shell and its sleep outlived the killed process
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
    assert events[-1]["stop_reason"] == "end_turn"
    conversation = sent(fake)
    assert [(role, call_id) for role, call_id, _ in conversation] == [
        ("user", None),
        ("assistant", None),
        ("tool", "r1"),
        ("assistant", None),
        ("tool", "t1"),
        ("user", None),
    ]
    assert 'print("hello")' in conversation[2][2]
    assert conversation[4][2].startswith("[no result:")


def steps(name: str) -> list[Any]:
    """Four tool-call iterations (one with two calls), then an answer; the first request
    waits at the gate so that both processes are mid-turn before either goes on."""

    def echo(n: str) -> dict[str, Any]:
        return call("terminal", f"{name}{n}", command=f"echo {name}-{n}")

    return [
        hold("go", then=calls(echo("1"))),
        calls(echo("2")),
        calls(echo("3a"), echo("3b")),
        calls(echo("4")),
        reply(f"{name} done"),
    ]


def expected(name: str) -> list[tuple[str, str]]:
    """(role, text): the user's task, each call batch (call ids), each result (call id
    and the command's output), the answer."""
    rows = [("user", f"task {name}")]
    for batch in (["1"], ["2"], ["3a", "3b"], ["4"]):
        rows.append(("assistant", ",".join(f"{name}{n}" for n in batch)))
        rows += [("tool", f"{name}{n} {name}-{n}") for n in batch]
    rows.append(("assistant", f"{name} done"))
    return rows


@pytest.mark.anyio
async def test_two_processes_append_to_their_own_sessions_at_once(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, *steps("alpha"))
    fake.script(KEY_B, *steps("bravo"))
    ends: dict[str, Event] = {}
    configs = {"alpha": home.path / "config.toml", "bravo": home.path / "b.toml"}

    async def run(name: str) -> None:
        env = {**home.process_env, "HERMES_MCP_CONFIG": str(configs[name])}
        async with await anyio.open_process(
            [HERMES, "run", "--json", f"task {name}"], env=env, cwd=ws
        ) as proc:
            events = await events_until(proc, lambda e: e["type"] == "turn_end")
            assert await proc.wait() == 0
        ends[name] = events[-1]

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "alpha")
            tg.start_soon(run, "bravo")
            await fake.wait_in_flight(2, timeout=20)  # both turns are under way
            fake.release("go")

    db = open_database(home.path / "state.db")
    try:
        records = {name: load_session(db, end["session_id"]) for name, end in ends.items()}
    finally:
        db.close()
    for name, record in records.items():
        assert ends[name]["stop_reason"] == "end_turn"
        assert record is not None and record.info.turn_count == 1
        got: list[tuple[str, str]] = []
        for m in record.messages:
            if m.role == "assistant" and m.tool_calls:
                got.append(("assistant", ",".join(c["id"] for c in m.tool_calls)))
            elif m.role == "tool":
                got.append(("tool", f"{m.tool_call_id} {m.content.strip().splitlines()[0]}"))
            else:
                got.append((m.role, m.content))
        assert got == expected(name)
        assert (record.info.input_tokens, record.info.output_tokens) == (50, 25)
    users = [r.messages[0].id for r in records.values() if r is not None]
    answers = [m.id for r in records.values() if r is not None for m in r.messages[1:]]
    assert max(users) < min(answers)  # both were appending at the same time


@pytest.mark.anyio
async def test_a_session_runs_one_turn_at_a_time_across_processes(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Two ``run --session ID`` at once once both ran and interleaved one transcript
    (turns 3, 4, 3, 4). The second now ends at once, exit 2, naming the busy session; a
    lease left by a killed process is taken over."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        reply("one"),
        hold("first", then=reply("two")),
        stream(chunks=["thr", "ee"], delay_s=60),  # killed mid-stream, holding the lease
        reply("four"),
    )
    with anyio.fail_after(60):
        started = await anyio.run_process(
            [HERMES, "run", "--json", "begin"], env=home.process_env, cwd=ws, check=False
        )
        assert started.returncode == 0, started.stderr.decode()
        session_id = json.loads(started.stdout.decode().splitlines()[-1])["session_id"]
        command = [HERMES, "run", "--session", session_id, "--json", "second"]
        async with await anyio.open_process(command, env=home.process_env, cwd=ws) as first:
            await fake.wait_in_flight(1, timeout=30)  # its turn is running
            busy = await hermes(home, "run", "--session", session_id, "interleave")
            assert busy.code == 2, busy.stderr
            assert f"session {session_id} is already running a turn" in busy.stderr
            assert f"pid {first.pid}" in busy.stderr
            fake.release("first")
            assert await first.wait() == 0
        async with await anyio.open_process(
            [HERMES, "run", "--session", session_id, "--json", "third"],
            env=home.process_env,
            cwd=ws,
        ) as third:
            events = await events_until(third, lambda e: e["type"] == "text_delta")
            assert events[-1]["text"] == "thr"
            third.kill()
            assert await third.wait() == -signal.SIGKILL
        events = await continue_session(home, ws, session_id)  # the dead one's lease
    assert events[-1]["text"] == "four"
    loaded = await the_only_session(home)
    prompts = [m["content"] for m in loaded["messages"] if m["role"] == "user"]
    assert prompts == ["begin", "second", "third", "go on"]
