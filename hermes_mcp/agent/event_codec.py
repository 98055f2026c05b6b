"""Events to JSON and back: what the session's event log stores and replay rebuilds.

``encode`` is ``event.to_json()`` run through the redaction every event leaving the
process gets (live events are redacted at their source already; this is the same
function applied once more, so a stored row never holds more than the live event).
``decode`` is its inverse: ``decode(encode(e)) == e`` for every event type, timings
aside (``turn_end.duration_s`` is stored rounded to milliseconds, as ``to_json`` gives it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hermes_mcp.agent.events import (
    ChildUpdate,
    ContextCompacted,
    Event,
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
from hermes_mcp.llm.types import Usage
from hermes_mcp.log import redact_value
from tools import FileDiff, Location

_USAGE_KEYS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def encode(event: Event) -> dict[str, Any]:
    encoded: dict[str, Any] = redact_value(event.to_json())
    return encoded


def _usage(data: dict[str, Any] | None) -> Usage:
    data = data or {}
    return Usage(*(int(data.get(key) or 0) for key in _USAGE_KEYS))


def _diff(data: dict[str, Any] | None) -> FileDiff | None:
    if data is None:
        return None
    return FileDiff(Path(data["path"]), data["old_text"], data["new_text"], data["unified"])


def decode(data: dict[str, Any]) -> Event:
    """The event ``data`` (``encode``'s output) describes. ValueError for an unknown type."""
    kind = data.get("type")
    if kind == "user_message":
        return UserMessage(data["text"], tuple(data.get("parts") or ()))
    if kind == "text_delta":
        return TextDelta(data["text"])
    if kind == "thought_delta":
        return ThoughtDelta(data["text"])
    if kind == "tool_call_start":
        return ToolCallStart(
            data["call_id"], data["name"], data["title"], data["kind"], data["arguments"]
        )
    if kind == "tool_call_progress":
        return ToolCallProgress(data["call_id"], data["text"])
    if kind == "tool_call_end":
        return ToolCallEnd(
            data["call_id"],
            data["name"],
            data["status"],
            data["output"],
            _diff(data.get("diff")),
            tuple(Location(Path(loc["path"]), loc.get("line")) for loc in data["locations"]),
            data.get("structured"),
        )
    if kind == "plan":
        return PlanUpdate(tuple(data["entries"]))
    if kind == "usage":
        session_usage = data.get("session_usage")
        return UsageUpdate(
            _usage(data),
            data.get("cost_usd"),
            data["provider"],
            data["model"],
            data["credential"],
            data.get("context_window"),
            None if session_usage is None else _usage(session_usage),
            data.get("session_cost_usd"),
        )
    if kind == "model_switch":
        return ModelSwitch(data["from"], data["to"], data["reason"], data["action"])
    if kind == "child":
        inner = data.get("event")
        return ChildUpdate(
            data.get("call_id"),
            int(data["task"]),
            data["goal"],
            data.get("session_id"),
            data["status"],
            None if inner is None else decode(inner),
        )
    if kind == "turn_end":
        return TurnEnd(
            stop_reason=data["stop_reason"],
            session_id=data["session_id"],
            text=data.get("text", ""),
            message=data.get("message"),
            usage=_usage(data.get("usage")),
            cost_usd=data.get("cost_usd"),
            iterations=int(data.get("iterations", 0)),
            duration_s=float(data.get("duration_s", 0.0)),
            model=data.get("model"),
            error=data.get("error"),
            compactions=tuple(_compacted(c) for c in data.get("compactions") or ()),
        )
    if kind == "compaction":
        return _compacted(data)
    raise ValueError(f"not an event type: {kind!r}")


def _compacted(data: dict[str, Any]) -> ContextCompacted:
    return ContextCompacted(
        int(data["tokens_before"]),
        int(data["tokens_after"]),
        int(data.get("elided", 0)),
        bool(data.get("summarized", False)),
        "manual" if data.get("reason") == "manual" else "auto",
    )


class EventLog:
    """A turn's events as they are emitted, waiting for the next store write.

    Consecutive text deltas (and thought deltas) are coalesced into one event: replay
    gives the text in one piece, not the provider's chunking. Each store write of the
    turn (assistant message, tool result, turn end) takes what is pending, in the same
    transaction: the log is as durable as the messages.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._seq = 0  # the order of emission (writes of one turn may commit out of order)

    def add(self, event: Event) -> None:
        data = encode(event)
        last = self._pending[-1][1] if self._pending else None
        if (
            last is not None
            and data["type"] in ("text_delta", "thought_delta")
            and last["type"] == data["type"]
        ):
            last["text"] += data["text"]
            return
        self._seq += 1
        self._pending.append((self._seq, data))

    def take(self) -> list[tuple[int, dict[str, Any]]]:
        """The pending events as ``(seq, data)``, oldest first; the log is left empty."""
        taken, self._pending = self._pending, []
        return taken
