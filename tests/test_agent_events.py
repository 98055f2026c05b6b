"""The agent's event vocabulary (DESIGN.md's names), and the codec that stores events for
replay (the layering of the whole tree is ``test_layers.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_mcp.agent import (
    STOP_REASONS,
    ChildUpdate,
    ModelSwitch,
    PlanUpdate,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    ToolCallProgress,
    ToolCallStart,
    TurnEnd,
    UsageUpdate,
)
from hermes_mcp.agent.event_log import EventLog, encode
from hermes_mcp.agent.events import Event, UserMessage, decode_event
from hermes_mcp.agent.store import INTERRUPTED, repair
from hermes_mcp.llm.types import Message, ToolCall, Usage
from tools import FileDiff, Location


def test_every_event_serialises_under_its_design_name() -> None:
    diff = FileDiff(Path("/w/a.py"), "a\n", "b\n", "-a\n+b\n")
    end = TurnEnd("end_turn", "s1", text="done", usage=Usage(3, 2))
    events = [
        TextDelta("hi"),
        ThoughtDelta("hmm"),
        ToolCallStart("c1", "patch", "patch: a.py", "edit", {"path": "a.py"}),
        ToolCallProgress("c1", "working"),
        ToolCallEnd("c1", "patch", "completed", "ok", diff, (Location(Path("/w/a.py"), 1),)),
        PlanUpdate(({"content": "x", "status": "pending", "priority": "medium"},)),
        UsageUpdate(Usage(3, 2), None, "primary", "gpt-4o", "9b1d77e0"),
        ModelSwitch("primary:gpt-4o", "backup:mini", "rate_limit", "fallback"),
        ChildUpdate("c9", 0, "goal", "s2", "done", end),
        end,
    ]
    lines = [json.loads(json.dumps(event.to_json())) for event in events]
    assert [line["type"] for line in lines] == [
        "text_delta",
        "thought_delta",
        "tool_call_start",
        "tool_call_progress",
        "tool_call_end",
        "plan",
        "usage",
        "model_switch",
        "child",
        "turn_end",
    ]
    assert lines[4]["diff"] == {
        "path": "/w/a.py",
        "old_text": "a\n",
        "new_text": "b\n",
        "unified": "-a\n+b\n",
    }
    assert (lines[7]["from"], lines[7]["to"], lines[7]["reason"]) == (
        "primary:gpt-4o",
        "backup:mini",
        "rate_limit",
    )
    assert lines[8]["event"]["type"] == "turn_end"
    assert {"stop_reason", "session_id", "text", "message", "usage", "cost_usd"} <= set(lines[9])
    assert STOP_REASONS == (
        "end_turn",
        "max_tokens",
        "max_iterations",
        "max_duration",
        "max_cost",
        "refusal",
        "cancelled",
        "error",
    )


def test_a_call_without_a_result_gets_a_placeholder_on_reload() -> None:
    a, b = ToolCall("a", "read_file", {}), ToolCall("b", "terminal", {})
    messages = [
        Message.user("go"),
        Message.assistant("", (a, b)),
        Message.tool("a", "read_file", "text"),
        Message.user("again"),
    ]
    repaired = repair(messages)
    assert [(m.role, m.tool_call_id) for m in repaired] == [
        ("user", None),
        ("assistant", None),
        ("tool", "a"),
        ("tool", "b"),
        ("user", None),
    ]
    assert repaired[3].content == INTERRUPTED


def test_every_event_survives_the_codec_field_for_field() -> None:
    diff = FileDiff(Path("/w/a.py"), None, "b\n", "+b\n")
    end = TurnEnd(
        "error",
        "s1",
        message="m",
        usage=Usage(3, 2, 1, 1),
        cost_usd=0.5,
        iterations=2,
        duration_s=1.25,
        model="p:m",
        error={
            "provider": "p",
            "class": "rate_limit",
            "message": "x",
            "retry_at": None,
            "attempts": [{"provider": "p", "action": "fallback"}],
        },
    )
    events: list[Event] = [
        UserMessage("hi", ({"type": "image", "media_type": "image/png", "uri": None},)),
        TextDelta("hi"),
        ThoughtDelta("hmm"),
        ToolCallStart("c1", "patch", "patch: a.py", "edit", {"path": "a.py"}),
        ToolCallProgress("c1", "working"),
        ToolCallEnd(
            "c1", "patch", "denied", "no", diff, (Location(Path("/w/a.py"), 1),), {"exit_code": 1}
        ),
        PlanUpdate(({"content": "x", "status": "pending", "priority": "medium"},)),
        UsageUpdate(Usage(3, 2), 0.1, "primary", "gpt-4o", "9b1d77e0", 128000, Usage(9, 9), 0.3),
        ModelSwitch("primary:gpt-4o", "backup:mini", "rate_limit", "fallback"),
        ChildUpdate("c9", 0, "goal", "s2", "progress", TextDelta("child")),
        end,
    ]
    for event in events:
        assert decode_event(json.loads(json.dumps(encode(event)))) == event
        assert decode_event(json.dumps(encode(event))) == event


FIXTURES = Path(__file__).parent / "fixtures"


def test_an_event_log_stored_before_the_union_still_decodes_to_the_same_json() -> None:
    """Rows of the ``events`` table written by the hand-written codec this union replaced
    (one of every kind, a child's nested events, an error with attempts): each decodes to
    its dataclass and encodes back to exactly what was stored."""
    lines = (FIXTURES / "events_before_union.jsonl").read_text().splitlines()
    decoded = [decode_event(line) for line in lines]
    assert [encode(event) for event in decoded] == [json.loads(line) for line in lines]
    kinds = {event.type for event in decoded}
    assert kinds == {
        "user_message",
        "model_switch",
        "thought_delta",
        "text_delta",
        "usage",
        "tool_call_start",
        "tool_call_progress",
        "tool_call_end",
        "plan",
        "child",
        "turn_end",
    }
    child = next(e for e in decoded if isinstance(e, ChildUpdate) and e.status == "done")
    assert isinstance(child.event, TurnEnd) and child.event.model == "backup:mini"
    usage = next(e for e in decoded if isinstance(e, UsageUpdate))
    assert usage.usage == Usage(120, 30, 10, 5) and usage.session_usage == Usage(240, 60, 10, 5)
    end = next(e for e in decoded if isinstance(e, ToolCallEnd) and e.diff is not None)
    assert end.diff == FileDiff(Path("/w/a.py"), "old\n", "new\n", "--- a\n+++ b\n")


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        decode_event({"type": "no_such_event", "text": "x"})


def test_the_event_log_coalesces_deltas_and_keeps_emission_order() -> None:
    log = EventLog()
    for event in (
        TextDelta("a"),
        TextDelta("b"),
        ThoughtDelta("t"),
        ThoughtDelta("u"),
        TextDelta("c"),
        ToolCallProgress("c1", "x"),
    ):
        log.add(event)
    taken = log.take()
    assert [(seq, d["type"], d.get("text")) for seq, d in taken] == [
        (1, "text_delta", "ab"),
        (2, "thought_delta", "tu"),
        (3, "text_delta", "c"),
        (4, "tool_call_progress", "x"),
    ]
    assert log.take() == []
    log.add(TextDelta("sk-test-alpha-0123456789abcdefABCDEF"))
    assert "sk-test-alpha" not in json.dumps(log.take())
