"""``delegate_task``: concurrency and queueing, distinct credentials, the shared fallback
chain, failure isolation, the parent's approver, and the depth limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.agent import ChildUpdate, ModelSwitch, ToolCallEnd, ToolCallStart, TurnEnd
from hermes_mcp.testing import FakeProvider, fail, hold, rate_limited, reply
from tests.agent_helpers import (
    call,
    calls,
    delegate,
    first_user_message,
    new_home,
    new_workspace,
    run_turn,
    session_rig,
)
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B, KEY_C, KEY_D
from tests.tools_helpers import RecordingApprover


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def task(n: int) -> dict[str, Any]:
    return {"goal": f"count the lines of part {n}", "context": f"part {n} is in p{n}.txt"}


def stored_results(rig: Any, call_id: str = "call_delegate") -> list[dict[str, Any]]:
    rows = rig.db.query("SELECT structured FROM messages WHERE tool_call_id = ?", (call_id,))
    return list(json.loads(rows[0]["structured"])["results"])


def tool_names(body: dict[str, Any] | None) -> set[str]:
    assert body is not None
    return {t["function"]["name"] for t in body.get("tools", [])}


@pytest.mark.anyio
async def test_eight_tasks_run_four_at_a_time_a_fifth_only_when_one_finishes(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Must show: 8 tasks, max_concurrency 4: all complete, never more than 4 at once, and
    a queued task starts only when a running one finishes (each completion is held until
    the test lets it go), each result naming its model."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    tasks = [task(n) for n in range(8)]
    fake.script(
        KEY_A,
        delegate(*tasks),
        *[hold(f"child {i}", reply(f"part done ({i})")) for i in range(8)],
        reply("all eight parts counted"),
    )
    delegation = {"max_concurrency": 4, "max_depth": 1}

    async def let_them_finish_one_by_one() -> None:
        await fake.wait_in_flight(4)
        for i in range(8):
            # the parent's request and every child started so far
            assert len(fake.requests) == min(5 + i, 9)
            fake.release(f"child {i}")  # the i-th child to start finishes...
            if i < 4:  # ...and a queued one takes its place
                await fake.wait_until(
                    lambda n=6 + i: len(fake.requests) == n and fake.in_flight == 4
                )
            else:
                await fake.wait_until(lambda n=7 - i: fake.in_flight == n)

    async with session_rig(home, ws, delegation=delegation) as rig:
        async with anyio.create_task_group() as tg:
            tg.start_soon(let_them_finish_one_by_one)
            events, end = await run_turn(rig.session, "count every part")
        results = stored_results(rig)

    assert (end.stop_reason, end.text) == ("end_turn", "all eight parts counted")
    start = next(i for i, e in enumerate(events) if isinstance(e, ToolCallStart))
    finish = next(i for i, e in enumerate(events) if isinstance(e, ToolCallEnd))
    assert all(e.type == "child" for e in events[start + 1 : finish])

    child_requests = fake.requests[1:-1]
    assert len(child_requests) == 8 and fake.max_in_flight == 4

    assert [r["task"] for r in results] == list(range(8))
    assert all(r["status"] == "completed" and r["exit_reason"] == "end_turn" for r in results)
    assert {r["model"] for r in results} == {"primary:gpt-4o"}
    assert all(r["summary"].startswith("part done") for r in results)
    assert all(r["usage"]["input_tokens"] == 10 and r["duration_s"] > 0 for r in results)
    # Each child starts fresh: its goal and context verbatim as its first message.
    firsts = {first_user_message(r.body) for r in child_requests}
    assert firsts == {f"{t['goal']}\n\n{t['context']}" for t in tasks}
    # Depth limit 1: the parent may delegate, its children may not.
    assert "delegate_task" in tool_names(fake.requests[0].body)
    assert all("delegate_task" not in tool_names(r.body) for r in child_requests)

    updates = [e for e in events if isinstance(e, ChildUpdate)]
    assert all(u.call_id == "call_delegate" for u in updates)
    assert sorted(u.task for u in updates if u.status == "started") == list(range(8))
    done = [u for u in updates if u.status == "done"]
    assert len(done) == 8 and all(isinstance(u.event, TurnEnd) for u in done)


@pytest.mark.anyio
async def test_four_children_hold_four_distinct_keys(tmp_path: Path, fake: FakeProvider) -> None:
    """Must show: with 4 credentials and 4 children, 4 distinct keys are in flight."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    keys = [KEY_A, KEY_B, KEY_C, KEY_D]
    home.write({"primary": {"url": fake.openai_base_url, "keys": keys}}, "primary:gpt-4o")
    fake.script(KEY_A, delegate(*[task(n) for n in range(4)]))
    for key in keys:
        fake.script(key, hold("go", reply(f"done with {key[:12]}")))
    fake.script(KEY_A, reply("finished"))
    async with session_rig(home, ws) as rig:
        with anyio.fail_after(30):
            async with rig.session.turn("split it") as turn:
                await fake.wait_keys_in_flight(4)
                assert fake.in_flight == 4
                fake.release("go")
                end = await turn.wait()
        results = stored_results(rig)
    assert end.stop_reason == "end_turn" and fake.keys_in_flight_max() == 4
    assert {fake.count(key=k) for k in (KEY_B, KEY_C, KEY_D)} == {1}
    assert all(r["status"] == "completed" for r in results)


@pytest.mark.anyio
async def test_children_go_to_the_fallback_the_parent_found(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Must show: a primary whose single key answers 429, a fallback configured: every child
    is served by the fallback and the primary sees one request in total."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("backup:gpt-4o-mini",),
    )
    fake.set_default(KEY_A, rate_limited())
    fake.script(FALLBACK_KEY, delegate(*[task(n) for n in range(4)]))
    fake.set_default(FALLBACK_KEY, reply("done on the fallback"))
    async with session_rig(home, ws) as rig:
        events, end = await run_turn(rig.session, "split it")
        results = stored_results(rig)
    assert end.stop_reason == "end_turn"
    assert fake.count(key=KEY_A) == 1
    assert fake.count(key=FALLBACK_KEY) == 6  # parent twice, four children
    assert [r["model"] for r in results] == ["backup:gpt-4o-mini"] * 4
    assert all(r["status"] == "completed" for r in results)
    first = events[0]
    assert isinstance(first, ModelSwitch) and (first.reason, first.action) == (
        "rate_limit",
        "fallback",
    )
    child_switches = [
        u.event for u in events if isinstance(u, ChildUpdate) and isinstance(u.event, ModelSwitch)
    ]
    assert len(child_switches) == 4
    assert all(s.action == "skip" and "rate_limit" in s.reason for s in child_switches)


@pytest.mark.anyio
async def test_a_failing_child_fails_its_task_not_the_batch(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "broken": {"url": fake.openai_base_url, "keys": [KEY_B]},
        },
        "primary:gpt-4o",
    )
    fake.set_default(KEY_B, fail(400, {"error": {"message": "unsupported parameter"}}))
    tasks = [
        {"goal": "fine"},
        {"goal": "bad request", "model": "broken:m1"},
        {"goal": "no such provider", "model": "nowhere:m"},
        {"goal": "no such toolset", "toolsets": ["spells"]},
    ]
    fake.script(KEY_A, delegate(*tasks), reply("child ok"), reply("reported"))
    async with session_rig(home, ws, delegation={"max_concurrency": 1}) as rig:
        _, end = await run_turn(rig.session, "try them")
        results = stored_results(rig)
    assert (end.stop_reason, end.text) == ("end_turn", "reported")
    assert [r["status"] for r in results] == ["completed", "failed", "failed", "failed"]
    assert results[0]["summary"] == "child ok"
    assert "bad_request" in results[1]["error"] and results[1]["exit_reason"] == "error"
    assert "nowhere" in results[2]["error"]
    assert "spells" in results[3]["error"] and results[3]["session_id"] is None
    summary = fake.requests[-1].body
    assert summary is not None and "1/4 tasks completed" in summary["messages"][-1]["content"]


@pytest.mark.anyio
async def test_a_childs_risky_action_goes_to_the_parents_approver(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    fake.script(
        KEY_A,
        delegate({"goal": "clean up"}),
        calls(call("terminal", "t1", command="rm -rf build")),
        reply("I was not allowed to remove build"),
        reply("the child could not clean up"),
    )
    approver = RecordingApprover(allowed=False)
    async with session_rig(home, ws, mode="ask", approver=approver) as rig:
        events, end = await run_turn(rig.session, "clean")
    assert end.stop_reason == "end_turn"
    assert [(r.tool, r.command, r.call_id) for r in approver.requests] == [
        ("terminal", "rm -rf build", "t1")
    ]
    child_end = next(
        u.event for u in events if isinstance(u, ChildUpdate) and isinstance(u.event, ToolCallEnd)
    )
    assert child_end.status == "denied" and "not approved" in child_end.output


@pytest.mark.anyio
async def test_no_delegation_at_depth_zero(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    fake.script(KEY_A, reply("alone"))
    async with session_rig(home, ws, delegation={"max_depth": 0}) as rig:
        _, end = await run_turn(rig.session, "hi")
    assert end.stop_reason == "end_turn"
    names = tool_names(fake.requests[0].body)
    assert "delegate_task" not in names and "read_file" in names


@pytest.mark.anyio
async def test_a_child_that_times_out_fails_its_task_only(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    tasks = [{"goal": "too slow", "timeout_s": 0.3}, {"goal": "quick"}]
    fake.script(KEY_A, delegate(*tasks), hold("never"), reply("quick done"), reply("reported"))
    async with session_rig(home, ws, delegation={"max_concurrency": 1}) as rig:
        _, end = await run_turn(rig.session, "both")
        results = stored_results(rig)
    assert end.stop_reason == "end_turn"
    assert [(r["status"], r["exit_reason"]) for r in results] == [
        ("timeout", "max_duration"),
        ("completed", "end_turn"),
    ]
    assert "agent.max_duration_s" in results[0]["error"]
    await fake.wait_disconnect()
