"""Cancellation: during a completion that never finishes, a long ``terminal`` call and
running children, the turn ends ``cancelled`` (it cannot wait for what it started: none of
it ends on its own), nothing it started keeps running, and the next turn in the same
session works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.agent import Event, TurnEnd
from hermes_mcp.agent.session import Session
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import (
    call,
    calls,
    delegate,
    new_home,
    new_workspace,
    run_turn,
    session_rig,
    wait_for,
)
from tests.keys import KEY_A
from tests.tools_helpers import alive, wait_gone


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


async def cancel(turn: Any) -> TurnEnd:
    turn.cancel()
    end: TurnEnd = await turn.wait()
    return end


async def next_turn_works(session: Session) -> None:
    _, end = await run_turn(session, "and now?")
    assert (end.stop_reason, end.text) == ("end_turn", "next turn works")


async def nothing_in_flight(fake: FakeProvider) -> None:
    await fake.wait_until(lambda: fake.in_flight == 0)


@pytest.mark.anyio
async def test_cancel_during_a_slow_completion(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    fake.script(KEY_A, hold("never", reply("too late")), reply("next turn works"))
    async with session_rig(home, ws) as rig:
        with anyio.fail_after(30):
            async with rig.session.turn("slow one") as turn:
                await fake.wait_in_flight(1)
                end = await cancel(turn)
            await fake.wait_disconnect()
        assert (end.stop_reason, end.text) == ("cancelled", "")
        await nothing_in_flight(fake)
        await next_turn_works(rig.session)


@pytest.mark.anyio
async def test_cancel_during_a_long_terminal_call(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    command = "sleep 60 & echo $! > child.pid; echo $$ > shell.pid; echo started; wait"
    fake.script(KEY_A, calls(call("terminal", "t1", command=command)), reply("next turn works"))
    async with session_rig(home, ws) as rig:
        seen: list[Event] = []
        with anyio.fail_after(30):
            async with rig.session.turn("run it") as turn:
                await wait_for(
                    turn, lambda e: e.type == "tool_call_progress" and "started" in e.text, seen
                )
                end = await cancel(turn)
        assert end.stop_reason == "cancelled"
        for pidfile in ("shell.pid", "child.pid"):
            pid = int((ws / pidfile).read_text())
            await wait_gone(pid)
            assert not alive(pid)
        await next_turn_works(rig.session)
    body = fake.requests[-1].body
    assert body is not None
    result = next(m for m in body["messages"] if m.get("tool_call_id") == "t1")
    assert "no result" in result["content"] and "cancelled" in result["content"]


@pytest.mark.anyio
async def test_cancel_reaches_every_child(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    tasks = [{"goal": f"wait {n}"} for n in range(3)]
    fake.script(KEY_A, delegate(*tasks), *[hold("never")] * 3, reply("next turn works"))
    async with session_rig(home, ws) as rig:
        with anyio.fail_after(30):
            async with rig.session.turn("fan out") as turn:
                await fake.wait_in_flight(3)
                end = await cancel(turn)
            await fake.wait_disconnect(count=3)
        assert end.stop_reason == "cancelled"
        rows = rig.db.query(
            "SELECT t.stop_reason FROM turns t JOIN sessions s ON s.id = t.session_id"
            " WHERE s.parent_id = ?",
            (end.session_id,),
        )
        assert [r[0] for r in rows] == ["cancelled"] * 3
        await nothing_in_flight(fake)
        await next_turn_works(rig.session)
