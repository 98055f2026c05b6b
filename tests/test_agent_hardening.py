"""Defects found in review, each pinned: event arguments scrubbed, one turn at a time per
session, and a stored history repaired into one every provider accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.events import ToolCallStart
from hermes_mcp.agent.session import SessionBusy
from hermes_mcp.agent.transcript import INTERRUPTED, repair
from hermes_mcp.llm.types import Message, ToolCall
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import call, calls, new_home, new_workspace, run_turn, session_rig
from tests.keys import KEY_A


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(tmp_path: Path, fake: FakeProvider) -> tuple[object, Path]:
    home = new_home(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    return home, new_workspace(tmp_path)


def test_repair_drops_a_result_that_answers_no_pending_call() -> None:
    c1 = ToolCall("c1", "terminal", {"command": "sleep 5"})
    stored = [
        Message.user("A"),
        Message.assistant("", (c1,)),
        Message.tool("c1", "terminal", INTERRUPTED),  # B's turn gave it a placeholder
        Message.user("B"),
        Message.assistant("B answer"),
        Message.tool("c1", "terminal", "slow"),  # A's late result
        Message.assistant("A answer"),
    ]
    repaired = repair(stored)
    assert [(m.role, m.tool_call_id) for m in repaired] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("user", None),
        ("assistant", None),
        ("assistant", None),
    ]


@pytest.mark.anyio
async def test_tool_call_start_scrubs_key_shaped_arguments(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = configure(tmp_path, fake)
    key = "sk-proj-ARGUMENTabcdefghijklmnopqrst"
    fake.script(KEY_A, calls(call("read_file", "r1", path=f"{key}.txt")), reply("No such file."))
    async with session_rig(home, ws) as rig:  # type: ignore[arg-type]
        events, end = await run_turn(rig.session, "read it")
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert key not in str(start.to_json()) and "[REDACTED]" in start.arguments["path"]
    assert end.stop_reason == "end_turn"
    # The tool itself got the argument as the model wrote it (the file name it looked for).
    tool_result = fake.requests[-1].body["messages"][-1]["content"]  # type: ignore[index]
    assert "not found" in tool_result.lower() or "no such" in tool_result.lower()


@pytest.mark.anyio
async def test_a_second_turn_on_a_busy_session_is_refused_and_nothing_interleaves(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """One turn at a time, enforced by the session alone: a second turn while one runs
    is refused at once (never queued, never interleaved into the history); after the
    first ends, the next one runs."""
    home, ws = configure(tmp_path, fake)
    fake.script(KEY_A, hold("a", then=reply("A answer")), reply("B answer"))
    async with session_rig(home, ws) as rig:  # type: ignore[arg-type]
        with anyio.fail_after(30):
            async with rig.session.turn("A") as first:
                await fake.wait_in_flight(1)
                with pytest.raises(SessionBusy):
                    await rig.session.run("B")
                with pytest.raises(SessionBusy):
                    async with rig.session.turn("B"):
                        pass
                assert len(fake.requests) == 1
                fake.release("a")
                first_end = await first.wait()
            _, second_end = await run_turn(rig.session, "B")
        history = await rig.store.history(rig.session.id)
    assert (first_end.text, second_end.text) == ("A answer", "B answer")
    assert [(m.role, m.content) for m in history] == [
        ("user", "A"),
        ("assistant", "A answer"),
        ("user", "B"),
        ("assistant", "B answer"),
    ]
