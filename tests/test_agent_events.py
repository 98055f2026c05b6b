"""The agent's event vocabulary (DESIGN.md's names) and its place in the layering: the
agent imports no protocol edge, and ``tools/`` does not import the agent."""

from __future__ import annotations

import ast
import json
from pathlib import Path

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
from hermes_mcp.agent.store import INTERRUPTED, repair
from hermes_mcp.llm.types import Message, ToolCall, Usage
from tools import FileDiff, Location

ROOT = Path(__file__).resolve().parent.parent


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


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_agent_imports_no_protocol_edge_and_tools_do_not_import_the_agent() -> None:
    edges = ("mcp", "acp", "acp_adapter", "hermes_mcp.mcp_server")
    for path in sorted((ROOT / "hermes_mcp" / "agent").glob("*.py")):
        bad = {m for m in _imports(path) if m.split(".")[0] in edges or m.startswith(edges)}
        assert not bad, f"{path.name} imports {bad}"
    for path in sorted((ROOT / "tools").glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith("hermes_mcp.agent")}
        assert not bad, f"tools/{path.name} imports {bad}"
