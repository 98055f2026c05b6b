"""Compaction as a pure step over an in-memory history: the cheap step, the summary, the
cut between units (a call never parts from its result, a turn's prompt stays with its
turn), and a failing summary that drops nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_mcp import cli_sessions
from hermes_mcp.agent import compaction
from hermes_mcp.agent.compaction import compact, needs_compaction
from hermes_mcp.agent.history import SUMMARY_HEAD, History
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.agent.transcript import repair
from hermes_mcp.llm.types import Completion, Message, Result, ToolCall, Usage
from hermes_mcp.state import open_database

BIG = "output line\n" * 400  # ~4,800 characters


def _session(turns: int, *, steps: int = 1, output: str = BIG) -> History:
    """``turns`` turns, each a prompt, ``steps`` tool calls with results, an answer."""
    history = History()
    next_id = 1
    for turn in range(1, turns + 1):
        history.append(Message.user(f"prompt {turn}"), id=next_id, turn=turn)
        next_id += 1
        for step in range(steps):
            call = ToolCall(f"c{turn}_{step}", "read_file", {"path": f"f{turn}_{step}"})
            history.append(Message.assistant("", (call,)), id=next_id, turn=turn)
            history.append(Message.tool(call.id, call.name, output), id=next_id + 1, turn=turn)
            next_id += 2
        history.append(Message.assistant(f"answer {turn}"), id=next_id, turn=turn)
        next_id += 1
    return history


def _valid(messages: list[Message]) -> None:
    """Every call answered right after it, every result answering a call."""
    assert repair(list(messages)) == messages


class Summaries:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.requests: list[str] = []

    async def __call__(self, text: str) -> str | None:
        self.requests.append(text)
        if self.fail:
            raise RuntimeError("no route could answer")
        return f"summary #{len(self.requests)}"


def test_under_the_limit_nothing_to_do() -> None:
    history = _session(1)
    assert not needs_compaction(history, 100, 100_000, 0.8)
    assert not needs_compaction(history, 100, None, 0.8)  # an unknown window: never
    assert needs_compaction(history, 100, 1_000, 0.8)


@pytest.mark.anyio
async def test_the_cheap_step_elides_old_outputs_and_suffices() -> None:
    history = _session(6, output="x" * 2000)
    summaries = Summaries()
    window = 6000
    before = history.tokens
    result = await compact(history, fixed=300, window=window, summarize=summaries)
    assert not result.summarized and result.elided > 0 and summaries.requests == []
    assert result.after < result.before == before + 300
    assert result.after <= window * compaction.TARGET
    messages = history.messages()
    _valid(messages)
    assert len(messages) == 6 * 4  # nothing dropped
    assert messages[-2].content == "x" * 2000  # the most recent output kept verbatim
    assert "elided to save context: 2,000 characters" in messages[2].content


@pytest.mark.anyio
async def test_the_summary_replaces_older_turns_and_keeps_units_whole() -> None:
    history = _session(80)
    summaries = Summaries()
    result = await compact(history, fixed=300, window=6000, summarize=summaries)
    assert result.summarized and result.summary == f"summary #{len(summaries.requests)}"
    assert result.after <= 6000 * compaction.TARGET + 300
    messages = history.messages()
    assert messages[0].role == "user" and messages[0].content.startswith(SUMMARY_HEAD)
    assert messages[-1].content == "answer 80"
    _valid(messages)
    # the boundary is the last message the summary covers; the kept part follows it
    # (and the prompt of the first kept message's turn, when it lies before the boundary)
    first, *rest = history.entries
    assert result.boundary is not None and all((e.id or 0) > result.boundary for e in rest)
    assert first.id is not None and (first.id > result.boundary or first.message.role == "user")
    # the summariser saw the transcript of the older turns, in order
    assert "prompt 1" in summaries.requests[0]
    assert "[tool result read_file]" in summaries.requests[0]


@pytest.mark.anyio
async def test_a_long_single_turn_keeps_its_prompt_whole() -> None:
    history = _session(1, steps=40, output="y" * 3000)
    history.entries[0].message = Message.user("the one prompt " * 10)
    summaries = Summaries()
    result = await compact(history, fixed=200, window=6000, summarize=summaries, force=True)
    assert result.summarized
    messages = history.messages()
    assert messages[0].content.startswith(SUMMARY_HEAD)
    assert messages[1].content == "the one prompt " * 10  # sent whole, after the summary
    assert messages[2].role == "assistant"  # then the kept steps, each with its result
    _valid(messages)
    # the stored rule: the prompt (id 1) lies before the boundary and is kept with its turn
    assert history.entries[0].id == 1 and result.boundary is not None and result.boundary > 1


@pytest.mark.anyio
async def test_a_failed_summary_drops_nothing() -> None:
    history = _session(80)
    count = len(history.messages())
    result = await compact(history, fixed=300, window=6000, summarize=Summaries(fail=True))
    assert not result.summarized and result.failure == "RuntimeError: no route could answer"
    messages = history.messages()
    assert len(messages) == count and history.summary is None
    assert [m.content for m in messages if m.role == "user"] == [
        f"prompt {t}" for t in range(1, 81)
    ]
    assert result.elided > 0  # the cheap step's savings stay
    empty = await compact(history, fixed=300, window=6000, summarize=EmptySummaries())
    assert not empty.summarized and empty.failure == "the model wrote no summary"
    assert len(history.messages()) == count


class EmptySummaries(Summaries):
    async def __call__(self, text: str) -> str | None:
        return "   "


@pytest.mark.anyio
async def test_a_second_compaction_folds_the_first_summary_in() -> None:
    history = _session(80)
    summaries = Summaries()
    await compact(history, fixed=300, window=6000, summarize=summaries)
    first = history.summary
    for turn in range(81, 160):
        history.append(Message.user(f"prompt {turn}"), id=1000 + turn * 4, turn=turn)
        call = ToolCall(f"d{turn}", "read_file", {"path": "x"})
        history.append(Message.assistant("", (call,)), id=1001 + turn * 4, turn=turn)
        history.append(Message.tool(call.id, call.name, BIG), id=1002 + turn * 4, turn=turn)
        history.append(Message.assistant(f"answer {turn}"), id=1003 + turn * 4, turn=turn)
    await compact(history, fixed=300, window=6000, summarize=summaries)
    assert history.summary != first
    assert f"<summary>\n{first}\n</summary>" in summaries.requests[-1] or any(
        f"<summary>\n{first}\n</summary>" in r for r in summaries.requests[1:]
    )
    _valid(history.messages())


@pytest.mark.anyio
async def test_focus_reaches_the_summariser() -> None:
    history = _session(80)
    summaries = Summaries()
    await compact(history, fixed=300, window=6000, summarize=summaries, focus="the parser")
    assert "Pay particular attention to: the parser" in summaries.requests[-1]


def test_transcript_lines_cut_long_outputs_in_the_middle() -> None:
    line = compaction.transcript_line(Message.tool("c", "terminal", "a" * 5000 + "END"))
    assert line.startswith("[tool result terminal]") and line.endswith("END")
    assert "characters left out" in line and len(line) < 2200


def test_estimates_grow_with_text_and_stay_summed() -> None:
    history = _session(3)
    total = history.tokens
    history.append(Message.user("z" * 3500), id=99, turn=4)
    assert history.tokens >= total + 1000
    history.set_message(len(history) - 1, Message.user("z"))
    assert history.tokens < total + 20


# -- stored: the boundary, the kept prompt, the transcript's marker -------------------------


@pytest.mark.anyio
async def test_a_stored_compaction_is_the_history_a_load_reads(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    store = SessionStore(db)
    try:
        sid = await store.create(cwd=str(tmp_path))
        ids: list[int] = []
        for turn in (1, 2):
            number, user_id = await store.open_turn(sid, f"prompt {turn}")
            assert number == turn
            ids.append(user_id)
            for step in range(3):
                call = ToolCall(f"c{turn}{step}", "read_file", {"path": "x"})
                ids.append(
                    await store.append_assistant(
                        sid, turn, Message.assistant("", (call,)), _result()
                    )
                )
                ids.append(
                    await store.append_tool(sid, turn, Message.tool(call.id, call.name, "out"))
                )
        loaded = await store.load_history(sid)
        assert [e.id for e in loaded] == ids and loaded.summary is None
        # a compaction in the middle of turn 2: the summary, turn 2's prompt, the rest
        boundary = ids[9]  # turn 2's first tool result
        await store.compact(sid, 2, boundary=boundary, summary="S", tokens_before=9, tokens_after=3)
        loaded = await store.load_history(sid)
        assert loaded.summary == "S" and [e.id for e in loaded] == [ids[7], *ids[10:]]
        messages = loaded.messages()
        assert messages[0].content.endswith("<summary>\nS\n</summary>")
        assert messages[1].content == "prompt 2"
        _valid(messages)
        assert await store.history(sid) == messages
        record = await store.load(sid)
        assert record is not None and len(record.messages) == len(ids)  # nothing deleted
        [mark] = record.compactions
        assert (mark.after_message, mark.tokens_before, mark.tokens_after) == (boundary, 9, 3)
        shown = cli_sessions._transcript(record)
        assert shown.index("prompt 2") < shown.index("context compacted: 9 → 3 tokens")
        assert shown.count("tool read_file") == 6  # every message still shown
        # /reset drops the summary too
        await store.reset_context(sid)
        loaded = await store.load_history(sid)
        assert loaded.summary is None and len(loaded) == 0
    finally:
        db.close()


def _result() -> Result:
    completion = Completion("", (), "tool_calls", Usage(1, 1), "m")
    return Result(completion, "p", "m", None, (), None)


# -- what the edges show -------------------------------------------------------------------


def test_agent_run_usage_and_the_acp_line_say_a_compaction_happened() -> None:
    from acp_adapter.mapping import UpdateMapper
    from hermes_mcp.agent.events import ContextCompacted, TurnEnd, decode_event
    from hermes_mcp.agent.jobs import RouteLog
    from hermes_mcp.mcp_server import mapping

    event = ContextCompacted(5200, 2100, 3, True)
    end = TurnEnd("end_turn", "s1", "done", compactions=(event,))
    usage = mapping.turn_structured(end, RouteLog())["usage"]
    assert usage["compactions"] == [
        {"tokens_before": 5200, "tokens_after": 2100, "summarized": True}
    ]
    mapping.AgentRunOutput.model_validate(mapping.turn_structured(end, RouteLog()))
    assert decode_event(end.to_json()) == end and decode_event(event.to_json()) == event
    assert event.to_json() == {
        "type": "compaction",
        "tokens_before": 5200,
        "tokens_after": 2100,
        "elided": 3,
        "summarized": True,
        "reason": "auto",
    }
    [update] = UpdateMapper(Path("/ws")).updates(event)
    assert "context compacted: 5,200 → 2,100 tokens" in update.content.text
    assert mapping.progress_text(event) == event.text


@pytest.mark.anyio
async def test_compact_now_summarises_and_a_cancelled_one_drops_nothing(tmp_path: Path) -> None:
    import anyio

    from hermes_mcp.errors import UsageError
    from hermes_mcp.testing.scripted import Say, ScriptedModel
    from tests.agent_helpers import new_home, new_workspace, session_rig

    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    model = ScriptedModel([Say(f"answer {n} " + "words " * 200) for n in range(1, 5)])
    async with session_rig(home, ws, model=model, toolsets=["files"]) as rig:
        session = rig.session
        for n in range(1, 5):
            await session.run(f"question {n}")
        # Cancelled while the summary is being written: nothing changes.
        model.add(Say("too late", delay_s=60))
        failed: list[BaseException] = []

        async def compact() -> None:
            try:
                await session.compact()
            except UsageError as exc:
                failed.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(compact)
                await anyio.wait_all_tasks_blocked()
                assert session.busy and session.cancel()
        assert "cancelled" in str(failed[0])
        kept = await rig.store.load_history(session.id)
        assert kept.summary is None and len(kept) == 8
        # Asked for, with a focus: the older turns summarised, the transcript whole.
        model.add(Say("They asked four questions."))
        done = await session.compact("the questions")
        assert (
            done.summarized and done.reason == "manual" and done.tokens_after < done.tokens_before
        )
        assert "Pay particular attention to: the questions" in str(model.requests[-1].messages[-1])
        history = await rig.store.load_history(session.id)
        assert history.summary == "They asked four questions."
        assert [e.message.content for e in history][-1].startswith("answer 4")
        record = await rig.store.load(session.id)
        assert record is not None and len(record.messages) == 8 and len(record.compactions) == 1
        model.add(Say("fine"))
        await session.run("question 5")  # the next turn starts from the summary
        assert "They asked four questions." in model.requests[-1].messages[1].content
