"""Must show (issue 12): sessions with a lifetime in one process. Two sessions keep their
approvals and modes apart and survive a restart; an approver that never answers is a
denial after ``approval_timeout_s``; a cancel during a tool call ends that call as
``cancelled``; 50 sessions run at once without interleaving and leave nothing behind; a
file read answers while another process holds the database's write lock."""

from __future__ import annotations

import gc
import sqlite3
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.events import Event, ToolCallEnd, ToolCallStart, TurnEnd
from hermes_mcp.runtime import Backends
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A
from tests.runtime_helpers import configure, runtime_for
from tests.tools_helpers import RecordingApprover
from tools import ApprovalRequest, Decision


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


class Silent:
    """An approver that never answers."""

    def __init__(self) -> None:
        self.asked = 0

    async def approve(self, request: ApprovalRequest) -> Decision:
        self.asked += 1
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


@pytest.mark.anyio
async def test_two_sessions_keep_approvals_and_modes_apart_and_survive_a_restart(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    todos = [{"content": "check", "status": "pending"}]
    fake.script(
        KEY_A,
        calls(call("terminal", "a1", command="echo one")),
        reply("a done"),
        calls(call("terminal", "b1", command="echo one")),
        reply("b done"),
        calls(call("terminal", "a2", command="echo one"), call("todo", "p1", todos=todos)),
        reply("a again"),
    )
    always, never = RecordingApprover(True, remember=True), RecordingApprover(False)
    async with runtime_for(home) as rt:
        a = await rt.create_session(ws, mode="ask", backends=Backends(approver=always))
        b = await rt.create_session(ws, mode="ask", backends=Backends(approver=never))
        with anyio.fail_after(30):
            assert (await a.run("first")).stop_reason == "end_turn"
            b_events: list[Event] = []

            async def keep(event: Event) -> None:
                b_events.append(event)

            assert (await b.run("first", keep)).stop_reason == "end_turn"
            # b was asked itself (a's "always" is a's only) and said no.
            denied = [e for e in b_events if isinstance(e, ToolCallEnd)]
            assert [e.status for e in denied] == ["denied"]
            assert len(never.requests) == 1
            await a.set_mode("accept_edits")
            await a.set_model("primary:gpt-4o")
            assert b.mode == "ask" and b.model is None
            assert (await a.run("again")).stop_reason == "end_turn"
        # The second "echo one" in a was remembered: not asked again.
        assert len(always.requests) == 1
        assert a.plan and a.plan[0]["content"] == "check"
        ids = (a.id, b.id)
        for session in (a, b):
            await session.close()

    async with runtime_for(home) as rt:
        a2 = await rt.load_session(ids[0])
        b2 = await rt.load_session(ids[1])
        assert (a2.mode, a2.model, a2.plan[0]["content"]) == (
            "accept_edits",
            "primary:gpt-4o",
            "check",
        )
        assert (b2.mode, b2.model, b2.plan) == ("ask", None, [])
        assert a2.totals.usage.input_tokens > 0
        await a2.close()
        await b2.close()


@pytest.mark.anyio
async def test_an_approver_that_never_answers_is_a_denial_that_says_why(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, extra="\n[policy]\napproval_timeout_s = 0.3\n")
    fake.script(KEY_A, calls(call("terminal", "t1", command="echo hi")), reply("went on"))
    silent = Silent()
    async with runtime_for(home) as rt:
        session = await rt.create_session(ws, mode="ask", backends=Backends(approver=silent))
        events: list[Event] = []

        async def keep(event: Event) -> None:
            events.append(event)

        with anyio.fail_after(30):
            end = await session.run("say hi", keep)
        await session.close()
    assert silent.asked == 1
    result = next(e for e in events if isinstance(e, ToolCallEnd))
    assert result.status == "denied"
    assert "no answer within 0.3 s" in result.output and "approval_timeout_s" in result.output
    assert end.stop_reason == "end_turn" and end.text == "went on"


@pytest.mark.anyio
async def test_a_cancel_during_a_tool_call_ends_it_as_cancelled(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, calls(call("terminal", "t1", command="sleep 30")))
    async with runtime_for(home) as rt:
        session = await rt.create_session(ws, mode="auto")
        events: list[Event] = []
        with anyio.fail_after(30):
            async with session.turn("wait") as turn:
                async for event in turn:
                    events.append(event)
                    if isinstance(event, ToolCallStart):
                        turn.cancel()
        replayed = [e async for e in session.replay()]
        await session.close()
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.stop_reason == "cancelled"
    cut = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.call_id, e.status) for e in cut] == [("t1", "cancelled")]
    assert [e.type for e in replayed if isinstance(e, ToolCallEnd)] == ["tool_call_end"]


@pytest.mark.anyio
async def test_fifty_sessions_at_once_end_apart_and_leave_nothing_behind(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    n = 50
    two = calls(
        call("read_file", "r1", path="hello.py"), call("search_files", "r2", pattern="hello")
    )
    # Every first request waits at the gate until all fifty are in: each session then
    # gets the two calls, and every second request an answer.
    fake.script(KEY_A, *[hold("go", two) for _ in range(n)], *[reply("ok") for _ in range(n)])
    refs: list[weakref.ref[object]] = []
    async with runtime_for(home) as rt:
        sessions = [await rt.create_session(ws, mode="auto") for _ in range(n)]
        ends: dict[str, TurnEnd] = {}

        async def one(index: int) -> None:
            async with sessions[index].turn("look") as turn:
                refs.append(weakref.ref(turn))
                ends[sessions[index].id] = await turn.wait()

        async def release() -> None:
            await fake.wait_in_flight(n)
            fake.release("go")

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(release)
                for index in range(n):
                    tg.start_soon(one, index)
        assert {end.stop_reason for end in ends.values()} == {"end_turn"}
        for session in sessions:
            stored = await rt.store.load(session.id)
            assert stored is not None
            roles = [(m.role, m.name) for m in stored.messages]
            # The two reads run together: their results may land in either order.
            assert roles[:2] == [("user", None), ("assistant", None)]
            assert sorted(roles[2:4]) == [("tool", "read_file"), ("tool", "search_files")]
            assert roles[4:] == [("assistant", None)]
            assert {m.turn for m in stored.messages} == {1}
            replayed = [e.type async for e in session.replay()]
            assert replayed[0] == "user_message" and replayed[-1] == "turn_end"
            assert replayed.count("tool_call_end") == 2 and replayed.count("usage") == 2
            refs += [weakref.ref(session), weakref.ref(session.registry)]
            await session.close()
        assert rt.sessions == ()
        sessions.clear()
        del session, stored
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == []


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
sys.stdout.write("locked\\n"); sys.stdout.flush()
sys.stdin.readline()  # holds the write lock until the test says so
conn.execute("COMMIT")
"""


@pytest.mark.anyio
async def test_a_file_read_answers_while_another_process_holds_the_write_lock(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, calls(call("read_file", "r1", path="hello.py")), reply("read it"))
    async with runtime_for(home) as rt:
        session = await rt.create_session(ws, mode="auto")
        holder = await anyio.open_process([sys.executable, "-c", LOCK_HOLDER, str(rt.db.path)])
        try:
            assert holder.stdout is not None and holder.stdin is not None
            with anyio.fail_after(30):
                assert await holder.stdout.receive() == b"locked\n"
            with anyio.fail_after(30):
                async with session.turn("read it") as turn:
                    # The turn has started and waits for the lock to store its prompt...
                    assert session.busy
                    # ...while a read in the same session answers, the lock still held (the
                    # tool call alone: it touches no write path).
                    ctx = session.context.for_call("probe")
                    result = await session.registry.call("read_file", {"path": "hello.py"}, ctx)
                    assert turn.outcome is None and holder.returncode is None
                    await holder.stdin.send(b"commit\n")  # now the turn may go on
                    end = await turn.wait()
            assert not result.is_error and "hello" in result.text
            assert end.stop_reason == "end_turn"
        finally:
            if holder.stdin is not None:  # commits, if the test failed before it said so
                await holder.stdin.aclose()
            with anyio.fail_after(30):
                await holder.wait()
            await holder.aclose()
        await session.close()
    with sqlite3.connect(rt.db.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
