"""The pure translation from events to ACP session updates, and the other pure pieces of
the edge (prompt content, the turn's outcome), without a process."""

from __future__ import annotations

from pathlib import Path

import pytest
from acp.schema import (
    BlobResourceContents,
    EmbeddedResourceContentBlock,
    ImageContentBlock,
    ResourceContentBlock,
    TextContentBlock,
    TextResourceContents,
)

from acp_adapter.content import RESOURCE_MAX_CHARS, ContentRefused, command_text, to_parts
from acp_adapter.mapping import (
    NOT_CONFIGURED,
    PROVIDER_FAILED,
    Answer,
    Failure,
    UpdateMapper,
    outcome,
)
from hermes_mcp.agent.events import (
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
    UserMessage,
)
from hermes_mcp.agent.prompt import ImagePart, ResourceLink, ResourcePart, TextPart
from hermes_mcp.llm.types import Usage
from tools import FileDiff, Location

CWD = Path("/work/project")


def test_text_thoughts_and_user_messages() -> None:
    m = UpdateMapper(CWD)
    (chunk,) = m.updates(TextDelta("hi"))
    assert (chunk.session_update, chunk.content.text) == ("agent_message_chunk", "hi")
    (thought,) = m.updates(ThoughtDelta("hmm"))
    assert thought.session_update == "agent_thought_chunk"
    assert m.updates(TextDelta("")) == [] and m.updates(ThoughtDelta("")) == []
    parts = ({"type": "resource_link", "uri": "file:///a.py", "name": "a.py"},)
    user = m.updates(UserMessage("look", parts))
    assert [u.session_update for u in user] == ["user_message_chunk"] * 2
    assert user[1].content.uri == "file:///a.py"


def test_a_tool_call_from_start_to_end_with_output_accumulated_and_capped() -> None:
    m = UpdateMapper(CWD, output_cap=10)
    (start,) = m.updates(
        ToolCallStart("c1", "read_file", "read_file: a.py", "read", {"path": "a.py"})
    )
    assert (start.session_update, start.kind, start.status) == ("tool_call", "read", "in_progress")
    assert start.locations[0].path == "/work/project/a.py" and start.raw_input == {"path": "a.py"}
    (odd,) = m.updates(ToolCallStart("c2", "mystery", "mystery", "nonsense", {}))
    assert odd.kind == "other"
    (first,) = m.updates(ToolCallProgress("c1", "0123456"))
    (second,) = m.updates(ToolCallProgress("c1", "789abcdef"))
    # ACP replaces content on each update: the second carries the output so far, capped.
    assert first.content[0].content.text == "0123456"
    assert (
        second.content[0].content.text.endswith("6789abcdef")
        and "not shown" in second.content[0].content.text
    )
    diff = FileDiff(CWD / "a.py", "old\n", "new\n", "-old\n+new\n")
    (end,) = m.updates(
        ToolCallEnd(
            "c1", "write_file", "completed", "wrote", diff, (Location(CWD / "a.py", 3),), {"n": 1}
        )
    )
    assert end.status == "completed" and [c.type for c in end.content] == ["diff", "content"]
    assert (end.content[0].old_text, end.content[0].new_text) == ("old\n", "new\n")
    assert end.locations[0].line == 3 and end.raw_output["structured"] == {"n": 1}
    (denied,) = m.updates(ToolCallEnd("c2", "mystery", "denied", "no"))
    assert denied.status == "failed" and denied.raw_output["status"] == "denied"
    assert "[denied]" in denied.content[0].content.text


def test_an_editor_terminal_replaces_streamed_output() -> None:
    m = UpdateMapper(CWD)
    m.updates(ToolCallStart("t1", "terminal", "terminal: ls", "execute", {"command": "ls"}))
    attached = m.attach_terminal("t1", "term-1")
    assert attached.content[0].terminal_id == "term-1"
    assert m.updates(ToolCallProgress("t1", "a.py\n")) == []
    (end,) = m.updates(ToolCallEnd("t1", "terminal", "completed", "a.py\n[exit code 0]"))
    assert [c.type for c in end.content] == ["terminal", "content"]


def test_plan_usage_switch_and_children() -> None:
    m = UpdateMapper(CWD)
    (plan,) = m.updates(
        PlanUpdate(
            (
                {"content": "a", "status": "in_progress", "priority": "high"},
                {"content": "b", "status": "odd"},
            )
        )
    )
    assert [(e.status, e.priority) for e in plan.entries] == [
        ("in_progress", "high"),
        ("pending", "medium"),
    ]
    used = UsageUpdate(Usage(100, 20), 0.01, "p", "m", "abcd1234", 1000, Usage(300, 60), 0.03)
    (usage,) = m.updates(used)
    assert (usage.used, usage.size, usage.cost.amount) == (120, 1000, 0.03)
    assert usage.field_meta["hermes"]["session"]["input_tokens"] == 300
    assert m.updates(UsageUpdate(Usage(1, 1), None, "p", "m", "x")) == []  # window unknown
    (note,) = m.updates(ModelSwitch("a:x", "b:y", "rate_limit", "fallback"))
    assert "a:x → b:y: rate_limit" in note.content.text
    assert note.field_meta["hermes"]["modelSwitch"]["to"] == "b:y"
    m.updates(ChildUpdate("d1", 0, "first task", "s1", "started"))
    inner = ToolCallStart("k", "terminal", "terminal: make", "execute", {})
    (child,) = m.updates(ChildUpdate("d1", 1, "second task", "s2", "progress", inner))
    assert child.tool_call_id == "d1"
    assert (
        child.content[0].content.text
        == "1. first task: started\n2. second task: running terminal: make"
    )


def test_outcomes_map_budgets_refusals_and_failures() -> None:
    assert outcome(TurnEnd("end_turn", "s")) == Answer("end_turn")
    vision = outcome(TurnEnd("end_turn", "s", message="images left out: no vision"))
    assert (
        isinstance(vision, Answer) and vision.note is not None and "images left out" in vision.note
    )
    assert outcome(TurnEnd("cancelled", "s", message="cancelled by the client")) == Answer(
        "cancelled"
    )
    assert outcome(TurnEnd("refusal", "s")) == Answer("refusal")
    assert outcome(TurnEnd("cancelled", "s")) == Answer("cancelled")
    assert outcome(TurnEnd("max_tokens", "s")) == Answer("max_tokens")
    iterations = outcome(TurnEnd("max_iterations", "s", message="50 model requests"))
    assert isinstance(iterations, Answer) and iterations.stop_reason == "max_turn_requests"
    cost = outcome(TurnEnd("max_cost", "s", message="$5.00 spent"))
    assert isinstance(cost, Answer) and cost.stop_reason == "end_turn"
    assert cost.note is not None and "cost budget" in cost.note and "$5.00" in cost.note
    duration = outcome(TurnEnd("max_duration", "s"))
    assert (
        isinstance(duration, Answer)
        and duration.note is not None
        and "time budget" in duration.note
    )
    error = {
        "provider": "p",
        "class": "quota_exhausted",
        "message": "daily",
        "retry_at": "2026-12-02T00:00:00Z",
    }
    failed = outcome(TurnEnd("error", "s", message="p: quota_exhausted: daily", error=error))
    assert isinstance(failed, Failure) and failed.code == PROVIDER_FAILED
    assert (failed.data["provider"], failed.data["class"], failed.data["retryAt"]) == (
        "p",
        "quota_exhausted",
        "2026-12-02T00:00:00Z",
    )
    config = outcome(TurnEnd("error", "s", error={"class": "config", "message": "no [model]"}))
    assert isinstance(config, Failure) and config.code == NOT_CONFIGURED


def test_prompt_content_becomes_parts_and_oversized_resources_are_refused() -> None:
    blocks = [
        TextContentBlock(type="text", text="look"),
        ImageContentBlock(type="image", data="aGVsbG8=", mime_type="image/png"),
        ResourceContentBlock(type="resource_link", uri="file:///a.py", name="a.py"),
        EmbeddedResourceContentBlock(
            type="resource", resource=TextResourceContents(uri="file:///b.py", text="x = 1")
        ),
    ]
    assert to_parts(blocks) == [
        TextPart("look"),
        ImagePart("image/png", "aGVsbG8=", None),
        ResourceLink("file:///a.py", "a.py", None),
        ResourcePart("file:///b.py", "x = 1", None),
    ]
    huge = TextResourceContents(uri="file:///big", text="x" * (RESOURCE_MAX_CHARS + 1))
    with pytest.raises(ContentRefused, match=r"file:///big.*over the"):
        to_parts([EmbeddedResourceContentBlock(type="resource", resource=huge)])
    blob = BlobResourceContents(uri="file:///c.bin", blob="AAAA")
    with pytest.raises(ContentRefused, match="binary"):
        to_parts([EmbeddedResourceContentBlock(type="resource", resource=blob)])
    assert command_text([TextContentBlock(type="text", text=" /cost ")]) == "/cost"
    assert command_text([TextContentBlock(type="text", text="not /cost")]) is None


def test_a_scripts_calls_name_their_execute_code_call_in_meta() -> None:
    m = UpdateMapper(CWD)
    (parent,) = m.updates(ToolCallStart("c1", "execute_code", "execute_code", "execute", {}))
    assert parent.field_meta is None
    start = ToolCallStart("c1.1", "read_file", "read_file: a.txt", "read", {"path": "a.txt"}, "c1")
    (child,) = m.updates(start)
    assert child.tool_call_id == "c1.1" and child.session_update == "tool_call"
    assert child.field_meta == {"hermes": {"parentToolCallId": "c1"}}
    dumped = child.model_dump(by_alias=True, exclude_none=True)
    assert dumped["_meta"] == {"hermes": {"parentToolCallId": "c1"}}
    (end,) = m.updates(ToolCallEnd("c1.1", "read_file", "completed", "one", parent_call_id="c1"))
    assert end.status == "completed" and end.field_meta == {"hermes": {"parentToolCallId": "c1"}}
