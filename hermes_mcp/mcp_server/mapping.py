"""The one translation from our tools, results and events to MCP messages. Pure: no I/O,
no runtime, tested without a process (``tests/test_mcp_mapping.py``).

- :func:`tool_definition`: a registry tool (or an agent tool) → ``types.Tool``, its
  input schema, output schema and annotations from the tool's own metadata;
- :func:`tool_result`: a ``ToolResult`` → ``CallToolResult`` (text, structured, isError);
- :func:`turn_result`: a turn's ``TurnEnd`` plus the route its events showed (``jobs.RouteLog``) →
  ``agent_run``'s result (the answer as text, ``{session_id, answer, stop_reason,
  provider, model, credential, attempts, usage, cost_usd}`` as structured content), or an
  ``isError`` result naming provider, failure class and ``retry_at``;
- :func:`progress_text`: an event → the message of a ``notifications/progress``;
- :func:`transcript_markdown`: replayed events → the Markdown of ``hermes://sessions/{id}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ValidationError

from hermes_mcp.agent.events import (
    ChildUpdate,
    Event,
    ModelSwitch,
    PlanUpdate,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    ToolCallStart,
    TurnEnd,
    UserMessage,
)
from hermes_mcp.agent.jobs import RouteLog
from hermes_mcp.llm.records import AttemptRecord
from hermes_mcp.log import redact
from tools import Tool, ToolAnnotations, ToolResult


def tool_annotations(meta: ToolAnnotations, title: str | None = None) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        title=meta.title or title,
        read_only_hint=meta.read_only,
        destructive_hint=False if meta.read_only else meta.destructive,
        idempotent_hint=meta.idempotent,
        open_world_hint=meta.open_world,
    )


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """MCP wants ``type: object`` at the root of every tool schema."""
    if schema.get("type") != "object":
        schema = {**schema, "type": "object"}
    return schema


def definition(
    name: str,
    description: str,
    args: type[BaseModel],
    meta: ToolAnnotations,
    output: type[BaseModel] | None = None,
) -> types.Tool:
    title = meta.title or name.replace("_", " ")
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=_object_schema(args.model_json_schema()),
        output_schema=None if output is None else _object_schema(output.model_json_schema()),
        annotations=tool_annotations(meta, title),
    )


def tool_definition(tool: Tool[Any]) -> types.Tool:
    return definition(tool.name, tool.description, tool.args, tool.annotations, tool.output)


def text(value: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=value)]


def error_result(message: str, structured: dict[str, Any] | None = None) -> types.CallToolResult:
    """An ``isError`` result; its text is redacted (it may quote an exception)."""
    return types.CallToolResult(
        content=text(redact(message)), structured_content=structured, is_error=True
    )


def tool_result(result: ToolResult) -> types.CallToolResult:
    """A registry tool's result as MCP sends it (already redacted by the registry)."""
    return types.CallToolResult(
        content=text(result.text),
        structured_content=None if result.is_error else result.structured,
        is_error=result.is_error,
    )


def structured_result(summary: str, data: dict[str, Any]) -> types.CallToolResult:
    """A result whose structured content is ``data`` and whose text says ``summary``
    followed by the same data as JSON (for hosts that show only text)."""
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return types.CallToolResult(
        content=text(f"{summary}\n\n{body}" if summary else body), structured_content=data
    )


def validation_message(name: str, exc: ValidationError) -> str:
    """What -32602 says for arguments that do not validate: every field named."""
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{where}: {message.removeprefix('Value error, ')}")
    return f"invalid arguments for {name}: " + "; ".join(problems)


# -- agent_run -------------------------------------------------------------------------------


class UsageOut(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0


class AgentRunOutput(BaseModel):
    session_id: str
    answer: str
    stop_reason: str
    provider: str | None
    model: str | None
    credential: str | None
    attempts: list[AttemptRecord]
    usage: UsageOut
    cost_usd: float | None


def turn_structured(end: TurnEnd, route: RouteLog) -> dict[str, Any]:
    attempts = route.records(end.error.get("attempts") if end.error is not None else None)
    usage = end.usage.to_json()
    return {
        "session_id": end.session_id,
        "answer": end.text,
        "stop_reason": end.stop_reason,
        "provider": route.provider,
        "model": route.model,
        "credential": route.credential,
        "attempts": attempts,
        "usage": {k: usage.get(k, 0) for k in UsageOut.model_fields},
        "cost_usd": end.cost_usd,
    }


def turn_result(end: TurnEnd, route: RouteLog) -> types.CallToolResult:
    """``agent_run``'s answer. A turn that ended in error is an error result naming the
    provider, failure class and ``retry_at``; a budget or a cancellation says which."""
    data = turn_structured(end, route)
    if end.stop_reason == "end_turn":
        return types.CallToolResult(content=text(end.text), structured_content=data)
    if end.stop_reason == "error":
        err = end.error or {}
        parts = [f"the turn failed (session {end.session_id})"]
        if err.get("provider"):
            parts.append(f"provider {err['provider']}")
        if err.get("class"):
            parts.append(f"class {err['class']}")
        if err.get("retry_at"):
            parts.append(f"retry_at {err['retry_at']}")
        detail = err.get("message") or end.message or "unknown error"
        return error_result("; ".join(parts) + f": {detail}", data)
    why = end.message or end.stop_reason
    body = f"{end.text}\n\n" if end.text else ""
    note = f"[the turn ended: {end.stop_reason}: {why}; session {end.session_id}]"
    if end.stop_reason == "max_tokens":  # an answer, cut short: not an error
        return types.CallToolResult(content=text(body + note), structured_content=data)
    return error_result(body + note, data)


# -- progress --------------------------------------------------------------------------------


def progress_text(event: Event) -> str | None:
    """A progress message for events worth one of their own (``None``: not worth it)."""
    match event:
        case ModelSwitch():
            return f"{event.action}: {event.from_} → {event.to} ({event.reason})"
        case ToolCallStart():
            inside = f" (in {event.parent_call_id})" if event.parent_call_id else ""
            return f"running {event.title or event.name}{inside}"
        case ChildUpdate(status="started" | "done"):
            return f"child {event.task + 1} {event.status}: {event.goal[:80]}"
        case _:
            return None


# -- transcripts -------------------------------------------------------------------------------


def _fence(body: str) -> str:
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return f"{ticks}\n{body}\n{ticks}"


def transcript_markdown(title: str, session_id: str, events: Iterable[Event]) -> str:
    """A stored session as Markdown: prompts, answers, tool calls with their results."""
    out = [f"# {title or 'Session'}", "", f"session `{session_id}`", ""]
    answer: list[str] = []

    def flush() -> None:
        if answer:
            out.extend(["**hermes:**", "", "".join(answer).strip(), ""])
            answer.clear()

    for event in events:
        match event:
            case TextDelta(text=delta):
                answer.append(delta)
            case ThoughtDelta():
                pass
            case UserMessage():
                flush()
                out.extend(["## user", "", event.text, ""])
            case ToolCallStart():
                flush()
                args = json.dumps(event.arguments, ensure_ascii=False)
                inside = f" (in `{event.parent_call_id}`)" if event.parent_call_id else ""
                out.extend([f"**tool** `{event.name}` {args}{inside}", ""])
            case ToolCallEnd():
                flush()
                out.extend([f"result ({event.status}):", "", _fence(event.output[:4000]), ""])
            case PlanUpdate():
                flush()
                items = [f"- [{e.get('status', '')}] {e.get('content', '')}" for e in event.entries]
                out.extend(["**plan:**", "", *items, ""])
            case TurnEnd(stop_reason=reason) if reason != "end_turn":
                flush()
                out.extend([f"*turn ended: {reason}: {event.message or ''}*", ""])
            case _:
                flush()
    flush()
    return "\n".join(out).rstrip() + "\n"
