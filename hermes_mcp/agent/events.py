"""What a turn emits (DESIGN.md, "Agent, sessions, delegation, cancellation").

Every event is a frozen dataclass with a ``type`` (the name ``run --json`` prints) and
``to_json()``. In the order a turn emits them: per model call, ``model_switch`` for
each move of the router (rotation, fallback, skip), emitted the moment it moves, before
the next route answers; then ``thought_delta``/``text_delta`` as the answer streams,
then ``usage``; per tool call ``tool_call_start``, any ``tool_call_progress``, exactly
one ``tool_call_end`` (also when the turn is cancelled: status ``cancelled``), then
``plan`` after the ``todo`` tool; ``child`` for a delegated task's progress; and last,
exactly once, ``turn_end``. Replay (``SessionStore.replay``) gives back the same events,
each turn opened by a ``user_message``, consecutive deltas coalesced
(``event_codec.py``). Text, arguments, outputs and diffs are redacted at the source:
what an edge sends is what the store keeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hermes_mcp.llm.types import Usage
from tools import FileDiff, Location

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "max_iterations",
    "max_duration",
    "max_cost",
    "refusal",
    "cancelled",
    "error",
]

STOP_REASONS: tuple[StopReason, ...] = (
    "end_turn",
    "max_tokens",
    "max_iterations",
    "max_duration",
    "max_cost",
    "refusal",
    "cancelled",
    "error",
)


ToolCallStatus = Literal["completed", "failed", "cancelled", "denied"]


@dataclass(frozen=True)
class UserMessage:
    """The user's own prompt, as replay shows it (a live turn does not emit it: the edge
    already has it). ``parts`` describe what is not text: ``{"type": "image",
    "media_type"}``, ``{"type": "resource", "uri", "mime_type"}`` (its text is in
    ``text``), ``{"type": "resource_link", "uri", "name"}``."""

    text: str
    parts: tuple[dict[str, Any], ...] = ()
    type: Literal["user_message"] = field(default="user_message", init=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "parts": list(self.parts)}


@dataclass(frozen=True)
class TextDelta:
    text: str
    type: Literal["text_delta"] = field(default="text_delta", init=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True)
class ThoughtDelta:
    text: str
    type: Literal["thought_delta"] = field(default="thought_delta", init=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True)
class ToolCallStart:
    call_id: str
    name: str
    title: str
    kind: str  # the ACP kind: read, edit, execute, fetch, search, think, other, ...
    arguments: dict[str, Any]
    type: Literal["tool_call_start"] = field(default="tool_call_start", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "call_id": self.call_id,
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "arguments": self.arguments,
        }


@dataclass(frozen=True)
class ToolCallProgress:
    call_id: str
    text: str  # e.g. a chunk of a command's output (already redacted)
    type: Literal["tool_call_progress"] = field(default="tool_call_progress", init=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "call_id": self.call_id, "text": self.text}


@dataclass(frozen=True)
class ToolCallEnd:
    """Every started call ends with one: ``completed``, ``failed`` (an error result),
    ``denied`` (the policy or the person said no) or ``cancelled`` (the turn was).
    ``structured`` is the tool's structured result (a command's exit code, delegated
    tasks' results, ...), redacted like ``output``."""

    call_id: str
    name: str
    status: ToolCallStatus
    output: str  # what the model reads
    diff: FileDiff | None = None
    locations: tuple[Location, ...] = ()
    structured: dict[str, Any] | None = None
    type: Literal["tool_call_end"] = field(default="tool_call_end", init=False)

    def to_json(self) -> dict[str, Any]:
        diff = None
        if self.diff is not None:
            diff = {
                "path": str(self.diff.path),
                "old_text": self.diff.old_text,
                "new_text": self.diff.new_text,
                "unified": self.diff.unified,
            }
        return {
            "type": self.type,
            "call_id": self.call_id,
            "name": self.name,
            "status": self.status,
            "output": self.output,
            "diff": diff,
            "locations": [{"path": str(loc.path), "line": loc.line} for loc in self.locations],
            "structured": self.structured,
        }


@dataclass(frozen=True)
class PlanUpdate:
    entries: tuple[dict[str, Any], ...]  # {content, status, priority}, ACP's plan entries
    type: Literal["plan"] = field(default="plan", init=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "entries": list(self.entries)}


@dataclass(frozen=True)
class UsageUpdate:
    """One model call's tokens and cost, and who served it; ``context_window`` is the
    serving model's window when known (``usage.input_tokens`` is the context used), and
    ``session_usage``/``session_cost_usd`` the session's running totals after it (a
    delegated child's tokens included)."""

    usage: Usage
    cost_usd: float | None
    provider: str
    model: str
    credential: str  # fingerprint
    context_window: int | None = None
    session_usage: Usage | None = None
    session_cost_usd: float | None = None
    type: Literal["usage"] = field(default="usage", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            **self.usage.to_json(),
            "cost_usd": self.cost_usd,
            "provider": self.provider,
            "model": self.model,
            "credential": self.credential,
            "context_window": self.context_window,
            "session_usage": None if self.session_usage is None else self.session_usage.to_json(),
            "session_cost_usd": self.session_cost_usd,
        }


@dataclass(frozen=True)
class ModelSwitch:
    """The router left ``from_`` for ``to`` (``provider:model``) because of ``reason``:
    a failure class, or why a route was skipped. ``action``: rotate, fallback or skip."""

    from_: str
    to: str
    reason: str
    action: str
    type: Literal["model_switch"] = field(default="model_switch", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "from": self.from_,
            "to": self.to,
            "reason": self.reason,
            "action": self.action,
        }


ChildStatus = Literal["started", "progress", "done"]


@dataclass(frozen=True)
class ChildUpdate:
    """A delegated task's progress, attached to the parent's ``delegate_task`` call.

    ``status``: ``started`` (no event), ``progress`` (``event`` is one of the child's own
    events; text and thought deltas only when the caller asked for them, e.g.
    ``Session.delegate(..., deltas=True)``), ``done`` (``event`` is its ``turn_end``).
    """

    call_id: str | None
    task: int
    goal: str
    session_id: str | None
    status: ChildStatus
    event: Event | None = None
    type: Literal["child"] = field(default="child", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "call_id": self.call_id,
            "task": self.task,
            "goal": self.goal,
            "session_id": self.session_id,
            "status": self.status,
            "event": None if self.event is None else self.event.to_json(),
        }


@dataclass(frozen=True)
class ContextCompacted:
    """The conversation was compacted to fit the serving model's context window
    (``agent/compaction.py``), before a model call (``reason`` ``auto``) or by
    ``/compact`` (``manual``): estimated tokens before and after, old tool outputs
    elided, and whether a model-written summary replaced the older turns. The
    transcript keeps every message; replay shows this event where it happened."""

    tokens_before: int
    tokens_after: int
    elided: int = 0
    summarized: bool = False
    reason: Literal["auto", "manual"] = "auto"
    type: Literal["compaction"] = field(default="compaction", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "elided": self.elided,
            "summarized": self.summarized,
            "reason": self.reason,
        }

    @property
    def text(self) -> str:
        """What an edge tells the person."""
        how = "older turns summarised" if self.summarized else "old tool outputs elided"
        return f"context compacted: {self.tokens_before:,} → {self.tokens_after:,} tokens ({how})"


@dataclass(frozen=True)
class TurnEnd:
    """The last event of a turn, and what ``run_turn`` returns.

    ``text`` is the final answer (the last model call's text; empty when the turn did
    not end with an answer). ``message`` says why a turn ended other than ``end_turn``
    (which budget, the route's error, a cancellation). ``error`` is set when a model
    request failed: ``{"provider", "class", "message", "retry_at", "attempts"}``, the
    attempts being every step of the failed walk (``Attempt.to_json()``).
    """

    stop_reason: StopReason
    session_id: str
    text: str = ""
    message: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    iterations: int = 0
    duration_s: float = 0.0
    model: str | None = None  # "provider:model" that served the last call
    error: dict[str, Any] | None = None
    compactions: tuple[ContextCompacted, ...] = ()  # those of this turn
    type: Literal["turn_end"] = field(default="turn_end", init=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "stop_reason": self.stop_reason,
            "session_id": self.session_id,
            "text": self.text,
            "message": self.message,
            "usage": self.usage.to_json(),
            "cost_usd": self.cost_usd,
            "iterations": self.iterations,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "error": self.error,
            "compactions": [c.to_json() for c in self.compactions],
        }


Event = (
    UserMessage
    | TextDelta
    | ThoughtDelta
    | ToolCallStart
    | ToolCallProgress
    | ToolCallEnd
    | PlanUpdate
    | UsageUpdate
    | ModelSwitch
    | ChildUpdate
    | ContextCompacted
    | TurnEnd
)

#: Where a turn sends its events. Awaiting it is the backpressure: a slow consumer
#: slows the turn down.
Emit = Callable[[Event], Awaitable[None]]
