"""The MCP edge's pure mapping (no process): tool definitions, results, agent_run's
answer and errors, progress texts, transcripts; and the jobs' activity and route."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from hermes_mcp.agent.events import (
    ChildUpdate,
    Event,
    ModelSwitch,
    TextDelta,
    ToolCallEnd,
    ToolCallStart,
    TurnEnd,
    UsageUpdate,
    UserMessage,
)
from hermes_mcp.agent.jobs import Activity, RouteLog
from hermes_mcp.agent.model import switch_for
from hermes_mcp.config import ModelRef
from hermes_mcp.llm.types import Attempt, Usage
from hermes_mcp.mcp_server import mapping
from hermes_mcp.mcp_server.catalog import Catalog
from tools import ToolResult, build_registry


def _served(provider: str = "backup", model: str = "mini") -> UsageUpdate:
    return UsageUpdate(Usage(input_tokens=9, output_tokens=3), 0.001, provider, model, "3f2a9c1e")


def test_tool_definitions_carry_schemas_and_annotations() -> None:
    for tool in build_registry():
        defined = mapping.tool_definition(tool)
        Draft202012Validator.check_schema(defined.input_schema)
        assert defined.input_schema["type"] == "object"
        assert defined.annotations is not None
        assert defined.annotations.read_only_hint is tool.annotations.read_only
        assert defined.annotations.open_world_hint is tool.annotations.open_world
        assert (defined.output_schema is None) is (tool.output is None)


def test_the_catalog_follows_the_toolsets() -> None:
    only_files = Catalog.build(["files"])
    assert {t.name for t in only_files.listed} == {
        "read_file",
        "write_file",
        "list_dir",
        "patch",
        "search_files",
    }
    with_agent = Catalog.build(["files", "agent"])
    names = {t.name for t in with_agent.listed}
    assert {"agent_run", "delegate_task", "session_search", "providers_status"} <= names
    assert with_agent.needs_disk("read_file") and with_agent.needs_disk("agent_run")
    assert not with_agent.needs_disk("agent_status")


def test_tool_results() -> None:
    ok = mapping.tool_result(ToolResult("done", structured={"n": 1}))
    assert (ok.is_error, ok.structured_content) == (False, {"n": 1})
    failed = mapping.tool_result(ToolResult.error("no such file"))
    assert failed.is_error and failed.structured_content is None


def test_a_served_turn_shows_its_whole_route() -> None:
    route = RouteLog()
    moved = Attempt("primary", "big", "3f2a0000", 429, "quota_exhausted", "fallback", 8.0)
    switch = switch_for(moved, ModelRef("backup", "mini"))
    assert switch is not None
    route.add(switch)
    route.add(_served())
    end = TurnEnd("end_turn", "s1", text="hi", usage=Usage(input_tokens=9, output_tokens=3))
    result = mapping.turn_result(end, route)
    data = result.structured_content
    assert not result.is_error and data is not None
    assert (data["answer"], data["provider"], data["credential"]) == ("hi", "backup", "3f2a9c1e")
    assert [a["action"] for a in data["attempts"]] == ["fallback", "served"]
    assert data["attempts"][0]["error_class"] == "quota_exhausted"
    mapping.AgentRunOutput.model_validate(data)


def test_a_failed_turn_is_an_error_naming_provider_class_and_retry_at() -> None:
    error = {
        "provider": "primary",
        "class": "quota_exhausted",
        "message": "spent",
        "retry_at": "2026-12-02T00:00:00Z",
        "attempts": [{"provider": "primary"}],
    }
    end = TurnEnd("error", "s1", message="spent", error=error)
    result = mapping.turn_result(end, RouteLog())
    assert result.is_error
    body = result.content[0].text  # type: ignore[union-attr]
    assert "primary" in body and "quota_exhausted" in body and "2026-12-02T00:00:00Z" in body
    assert result.structured_content is not None
    assert result.structured_content["attempts"] == [{"provider": "primary"}]


def test_budgets_and_cancellation_say_why() -> None:
    cancelled = mapping.turn_result(TurnEnd("cancelled", "s1", message="cancelled"), RouteLog())
    assert cancelled.is_error and "cancelled" in cancelled.content[0].text  # type: ignore[union-attr]
    cut = mapping.turn_result(TurnEnd("max_tokens", "s1", text="half"), RouteLog())
    assert not cut.is_error and "half" in cut.content[0].text  # type: ignore[union-attr]


def test_progress_texts_and_activity() -> None:
    switch = ModelSwitch("primary:big", "backup:mini", "rate_limit", "fallback")
    assert mapping.progress_text(switch) == "fallback: primary:big → backup:mini (rate_limit)"
    start = ToolCallStart("c1", "read_file", "Read hello.py", "read", {"path": "hello.py"})
    assert mapping.progress_text(start) == "running Read hello.py"
    assert mapping.progress_text(TextDelta("x")) is None
    act = Activity()
    act.update(_served())
    assert (act.iterations, act.model) == (1, "backup:mini")
    act.update(start)
    assert act.text == "running Read hello.py"
    act.update(ChildUpdate("d1", 1, "count files", "c", "started"))
    assert act.text.startswith("child 2 of 2 started")


def test_transcripts_are_markdown() -> None:
    events: list[Event] = [
        UserMessage("what is in hello.py?"),
        ToolCallStart("c1", "read_file", "Read", "read", {"path": "hello.py"}),
        ToolCallEnd("c1", "read_file", "completed", "```print()```"),
        TextDelta("It "),
        TextDelta("prints."),
        TurnEnd("end_turn", "s1", text="It prints."),
    ]
    text = mapping.transcript_markdown("Hello", "s1", events)
    assert text.startswith("# Hello\n")
    assert "## user\n\nwhat is in hello.py?" in text
    assert "`read_file`" in text and "````\n```print()```\n````" in text
    assert "**hermes:**\n\nIt prints." in text


def test_an_interaction_turns_waiting_approvals_into_input_required() -> None:
    import mcp_types as types

    from hermes_mcp.mcp_server.approvals import Ask, Interaction, decision_from
    from tools import ApprovalRequest

    interaction = Interaction("write_file", lambda: None)
    request = ApprovalRequest("write_file", "edit", "write", "write x.txt", risk="a new file")
    interaction.asks["approval-1"] = Ask("approval-1", request)
    result = interaction.input_required()
    assert result.request_state == interaction.token and len(interaction.token) >= 20
    (ask,) = (result.input_requests or {}).values()
    assert isinstance(ask, types.ElicitRequest) and "write x.txt" in ask.params.message
    interaction.answer(
        {"approval-1": types.ElicitResult(action="accept", content={"decision": "allow_always"})}
    )
    decided = interaction.asks["approval-1"].decision
    assert decided is not None and decided.allowed and decided.remember
    assert not decision_from(types.ElicitResult(action="decline")).allowed
    assert not decision_from(
        types.ElicitResult(action="accept", content={"decision": "deny"})
    ).allowed


def test_the_mcp_config_section() -> None:
    import pytest

    from hermes_mcp.config import parse_config
    from hermes_mcp.errors import ConfigError

    config = parse_config({"mcp": {"toolsets": ["files", "agent"], "job_retention_s": 60}}, "c")
    assert (config.mcp.toolsets, config.mcp.job_retention_s) == (["files", "agent"], 60)
    assert parse_config({}, None).mcp.toolsets == [
        "files",
        "terminal",
        "web",
        "memory",
        "planning",
        "agent",
    ]
    with pytest.raises(ConfigError, match=r"mcp\.toolsets.*unknown toolset\(s\) delegation"):
        parse_config({"mcp": {"toolsets": ["delegation"]}}, "c.toml")
    with pytest.raises(ConfigError, match=r"mcp\.progress_interval_s"):
        parse_config({"mcp": {"progress_interval_s": 30}}, "c.toml")


def test_error_texts_are_redacted() -> None:
    from hermes_mcp.log import register_secret
    from tests.keys import KEY_D

    register_secret(KEY_D)
    result = mapping.error_result(f"terminal failed: RuntimeError: token {KEY_D} refused")
    body = result.content[0].text  # type: ignore[union-attr]
    assert KEY_D not in body and "[REDACTED]" in body
