"""The agent loop against the fake provider through the real router: a multi-step turn
with real tools, events in order, parallel read-only calls, persistence as it happens,
and continuing a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from hermes_mcp.agent import ToolCallEnd, ToolCallStart
from hermes_mcp.testing import FakeProvider, hold, rate_limited, reply, stream
from tests.agent_helpers import (
    as_json_lines,
    call,
    calls,
    new_home,
    new_workspace,
    run_turn,
    session_rig,
    squeeze,
    types,
    wait_for,
)
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home
from tools import Tool, ToolAnnotations, ToolContext, ToolResult, build_registry


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, *, fallback: bool = False) -> None:
    providers: dict[str, dict[str, Any]] = {
        "primary": {"url": fake.openai_base_url, "keys": [KEY_A]}
    }
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
    home.write(providers, "primary:gpt-4o", ("backup:gpt-4o-mini",) if fallback else ())


@pytest.mark.anyio
async def test_multi_step_turn_reads_patches_and_runs_with_events_in_order(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Must show: read a file, patch it, run a command, answer; events in order."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    edit = {"old_text": "hello", "new_text": "hermes"}
    fake.script(
        KEY_A,
        calls(call("read_file", "c1", path="hello.py")),
        calls(call("patch", "c2", path="hello.py", edits=[edit])),
        calls(call("terminal", "c3", command="cat hello.py")),
        stream(chunks=["Done: ", "it prints ", "hermes."], usage=(40, 6)),
    )
    async with session_rig(home, ws) as rig:
        events, end = await run_turn(rig.session, "make hello.py greet hermes")
        history = await rig.store.history(end.session_id)

    assert squeeze(types(events)) == [
        "usage",
        "tool_call_start",
        "tool_call_end",  # read_file
        "usage",
        "tool_call_start",
        "tool_call_end",  # patch
        "usage",
        "tool_call_start",
        "tool_call_progress",
        "tool_call_end",  # terminal
        "text_delta",
        "usage",
        "turn_end",
    ]
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.call_id, s.name, s.kind) for s in starts] == [
        ("c1", "read_file", "read"),
        ("c2", "patch", "edit"),
        ("c3", "terminal", "execute"),
    ]
    ends = {e.call_id: e for e in events if isinstance(e, ToolCallEnd)}
    assert 'print("hello")' in ends["c1"].output and ends["c1"].status == "completed"
    assert ends["c2"].diff is not None and ends["c2"].diff.new_text == 'print("hermes")\n'
    assert ends["c3"].output == 'print("hermes")\n[exit code 0]'
    assert (ws / "hello.py").read_text() == 'print("hermes")\n'

    assert (end.stop_reason, end.text, end.iterations) == ("end_turn", "Done: it prints hermes.", 4)
    assert end.model == "primary:gpt-4o" and end.usage.input_tokens == 70
    # The model saw each tool result before its next call.
    second = fake.requests[1].body
    assert second is not None and second["messages"][-1]["role"] == "tool"
    assert 'print("hello")' in second["messages"][-1]["content"]
    assert [m.role for m in history] == ["user", *["assistant", "tool"] * 3, "assistant"]

    lines = as_json_lines(events)
    assert lines[-1]["type"] == "turn_end" and lines[-1]["stop_reason"] == "end_turn"
    assert lines[-1]["session_id"] == end.session_id
    assert {line["type"] for line in lines} <= {
        "text_delta",
        "usage",
        "tool_call_start",
        "tool_call_progress",
        "tool_call_end",
        "turn_end",
    }
    patch_end = next(line for line in lines if line.get("call_id") == "c2" and "diff" in line)
    assert patch_end["diff"]["path"] == str(ws / "hello.py")


@pytest.mark.anyio
async def test_a_fallback_shows_as_model_switch_before_the_answer(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, fallback=True)
    fake.script(KEY_A, rate_limited(retry_after=30))
    fake.script(FALLBACK_KEY, reply("from the fallback"))
    async with session_rig(home, ws) as rig:
        events, end = await run_turn(rig.session, "hi")
    assert squeeze(types(events)) == ["model_switch", "text_delta", "usage", "turn_end"]
    switch = as_json_lines(events)[0]
    assert switch == {
        "type": "model_switch",
        "from": "primary:gpt-4o",
        "to": "backup:gpt-4o-mini",
        "reason": "rate_limit",
        "action": "fallback",
    }
    assert (end.stop_reason, end.text, end.model) == (
        "end_turn",
        "from the fallback",
        "backup:gpt-4o-mini",
    )


class _Wait(BaseModel):
    name: str


def _rendezvous_registry() -> tuple[Any, dict[str, anyio.Event]]:
    """Two read-only tools that each wait for the other to start: they only finish when
    they run at the same time."""
    started = {"a": anyio.Event(), "b": anyio.Event()}

    async def meet(args: _Wait, ctx: ToolContext) -> ToolResult:
        started[args.name].set()
        other = "b" if args.name == "a" else "a"
        await started[other].wait()
        return ToolResult(text=f"{args.name} met {other}")

    registry = build_registry(["files"])
    registry.register(
        Tool(
            name="meet",
            description="wait for the other",
            args=_Wait,
            fn=meet,
            toolset="files",
            annotations=ToolAnnotations(read_only=True, destructive=False, kind="read"),
        )
    )
    return registry, started


@pytest.mark.anyio
async def test_independent_read_only_calls_run_in_parallel(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    registry, _ = _rendezvous_registry()
    fake.script(
        KEY_A,
        calls(call("meet", "m1", name="a"), call("meet", "m2", name="b")),
        reply("both met"),
    )
    async with session_rig(
        home, ws, tools=[t for t in registry if t.name == "meet"], toolsets=["files"]
    ) as rig:
        events, end = await run_turn(rig.session, "meet")
    assert end.stop_reason == "end_turn"
    outputs = sorted(e.output for e in events if isinstance(e, ToolCallEnd))
    assert outputs == ["a met b", "b met a"]


@pytest.mark.anyio
async def test_messages_are_stored_as_they_happen(tmp_path: Path, fake: FakeProvider) -> None:
    """While a tool call is still running, the user message and the assistant's tool
    call are already in SQLite; the first tool result is there before the second call
    runs."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="hello.py")),
        calls(call("terminal", "t1", command="echo started; sleep 30")),
    )
    async with session_rig(home, ws) as rig:
        seen: list[Any] = []
        with anyio.fail_after(30):
            async with rig.session.turn("look") as turn:
                await wait_for(turn, lambda e: e.type == "tool_call_progress", seen)
                rows = rig.db.query(
                    "SELECT role, tool_call_id FROM messages WHERE session_id = ? ORDER BY id",
                    (turn.session_id,),
                )
                turn.cancel()
                end = await turn.wait()
        history = await rig.store.history(end.session_id)
    assert [(r["role"], r["tool_call_id"]) for r in rows] == [
        ("user", None),
        ("assistant", None),
        ("tool", "r1"),
        ("assistant", None),
    ]
    # The interrupted call got a placeholder result: the conversation stays valid.
    assert history[-1].role == "tool" and history[-1].tool_call_id == "t1"
    assert "no result" in history[-1].content


@pytest.mark.anyio
async def test_a_session_continues_with_its_history(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, reply("first answer"), reply("second answer"))
    async with session_rig(home, ws) as rig:
        _, first = await run_turn(rig.session, "one")
        _, second = await run_turn(rig.session, "two")
        rows = rig.db.query(
            "SELECT turn, stop_reason FROM turns WHERE session_id = ? ORDER BY turn",
            (first.session_id,),
        )
    assert second.session_id == first.session_id and second.text == "second answer"
    body = fake.requests[1].body
    assert body is not None
    sent = [(m["role"], m.get("content")) for m in body["messages"] if m["role"] != "system"]
    assert sent == [("user", "one"), ("assistant", "first answer"), ("user", "two")]
    assert [tuple(r) for r in rows] == [(1, "end_turn"), (2, "end_turn")]


@pytest.mark.anyio
async def test_the_todo_tool_emits_a_plan(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    todos = [{"content": "read", "status": "completed"}, {"content": "write"}]
    fake.script(KEY_A, calls(call("todo", "p1", todos=todos)), reply("planned"))
    async with session_rig(home, ws) as rig:
        events, _ = await run_turn(rig.session, "plan")
    plan = next(line for line in as_json_lines(events) if line["type"] == "plan")
    assert [(e["content"], e["status"]) for e in plan["entries"]] == [
        ("read", "completed"),
        ("write", "pending"),
    ]


@pytest.mark.anyio
async def test_a_held_request_still_lets_events_flow_to_a_slow_consumer(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Backpressure: with a one-event buffer the turn waits for its reader, and every
    event still arrives, in order."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, hold("go", then=stream(chunks=["a", "b", "c", "d"])))
    async with session_rig(home, ws) as rig:
        with anyio.fail_after(30):
            async with rig.session.turn("hi", buffer=0) as turn:
                await fake.wait_in_flight(1)
                fake.release("go")
                events = [event async for event in turn]
    assert types(events) == ["text_delta"] * 4 + ["usage", "turn_end"]
