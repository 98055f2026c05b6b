"""What a turn emits (DESIGN.md, "Agent, sessions, delegation, cancellation").

Every event is a frozen dataclass whose first field is its ``type`` (the name ``run
--json`` prints); :data:`Event` is their discriminated union, the one place that lists
them, and :data:`EVENTS` (a pydantic ``TypeAdapter`` over it) encodes every event to
JSON under DESIGN.md's names (``event.to_json()``) and decodes it back
(``decode_event``): the event log, replay, ``run --json`` and the edges share it. In
the order a turn emits them: per model call, ``model_switch`` for
each move of the router (rotation, fallback, skip), emitted the moment it moves, before
the next route answers; then ``thought_delta``/``text_delta`` as the answer streams,
then ``usage``; per tool call ``tool_call_start``, any ``tool_call_progress``, exactly
one ``tool_call_end`` (also when the turn is cancelled: status ``cancelled``), then
``plan`` after the ``todo`` tool (the calls an ``execute_code`` script makes are
tool calls too, their ``parent_call_id`` naming the script's call); ``child`` for a
delegated task's progress; and last,
exactly once, ``turn_end``. Replay (``SessionStore.replay``) gives back the same events,
each turn opened by a ``user_message``, consecutive deltas coalesced
(``event_log.py``). Text, arguments, outputs and diffs are redacted at the source:
what an edge sends is what the store keeps.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_serializer,
    model_serializer,
    model_validator,
)

from hermes_mcp.llm.types import Attempt, Usage
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

_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
)


class _Json:
    """What every event shares: its JSON, written by :data:`EVENTS`."""

    def to_json(self) -> dict[str, Any]:
        """The event as JSON under DESIGN.md's names (what ``run --json`` prints)."""
        event: Event = self  # type: ignore[assignment]  # every subclass is one of Event
        data: dict[str, Any] = events_adapter().dump_python(event, mode="json", by_alias=True)
        return data


@dataclass(frozen=True)
class UserMessage(_Json):
    """The user's own prompt, as replay shows it (a live turn does not emit it: the edge
    already has it). ``parts`` describe what is not text: ``{"type": "image",
    "media_type"}``, ``{"type": "resource", "uri", "mime_type"}`` (its text is in
    ``text``), ``{"type": "resource_link", "uri", "name"}``."""

    type: Literal["user_message"] = field(default="user_message", init=False)
    text: str
    parts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class TextDelta(_Json):
    type: Literal["text_delta"] = field(default="text_delta", init=False)
    text: str


@dataclass(frozen=True)
class ThoughtDelta(_Json):
    type: Literal["thought_delta"] = field(default="thought_delta", init=False)
    text: str


@dataclass(frozen=True)
class ToolCallStart(_Json):
    type: Literal["tool_call_start"] = field(default="tool_call_start", init=False)
    call_id: str
    name: str
    title: str
    kind: str  # the ACP kind: read, edit, execute, fetch, search, think, other, ...
    arguments: dict[str, Any]
    parent_call_id: str | None = None  # an ``execute_code`` script's call: that call's id


@dataclass(frozen=True)
class ToolCallProgress(_Json):
    type: Literal["tool_call_progress"] = field(default="tool_call_progress", init=False)
    call_id: str
    text: str  # e.g. a chunk of a command's output (already redacted)


@dataclass(frozen=True)
class ToolCallEnd(_Json):
    """Every started call ends with one: ``completed``, ``failed`` (an error result),
    ``denied`` (the policy or the person said no) or ``cancelled`` (the turn was).
    ``structured`` is the tool's structured result (a command's exit code, delegated
    tasks' results, ...), redacted like ``output``."""

    type: Literal["tool_call_end"] = field(default="tool_call_end", init=False)
    call_id: str
    name: str
    status: ToolCallStatus
    output: str  # what the model reads
    diff: FileDiff | None = None
    locations: tuple[Location, ...] = ()
    structured: dict[str, Any] | None = None
    parent_call_id: str | None = None  # an ``execute_code`` script's call: that call's id


@dataclass(frozen=True)
class PlanUpdate(_Json):
    type: Literal["plan"] = field(default="plan", init=False)
    entries: tuple[dict[str, Any], ...]  # {content, status, priority}, ACP's plan entries


@dataclass(frozen=True)
class UsageUpdate(_Json):
    """One model call's tokens and cost, and who served it; ``context_window`` is the
    serving model's window when known (``usage.input_tokens`` is the context used), and
    ``session_usage``/``session_cost_usd`` the session's running totals after it (a
    delegated child's tokens included)."""

    type: Literal["usage"] = field(default="usage", init=False)
    usage: Usage
    cost_usd: float | None
    provider: str
    model: str
    credential: str  # fingerprint
    context_window: int | None = None
    session_usage: Usage | None = None
    session_cost_usd: float | None = None
    # The call's whole walk (every attempt, the served one last), for the route records
    # of agent_run; not part of the event's JSON.
    attempts: Annotated[tuple[Attempt, ...], Field(exclude=True)] = field(
        default=(), compare=False, repr=False
    )

    # The call's tokens sit at the top level of the JSON, beside ``cost_usd``.
    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {"type": data.pop("type"), **data.pop("usage"), **data}

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        if isinstance(data, dict) and "usage" not in data:
            usage = {key: data.get(key) or 0 for key in _USAGE_KEYS}
            data = {k: v for k, v in data.items() if k not in _USAGE_KEYS} | {"usage": usage}
        return data


@dataclass(frozen=True)
class ModelSwitch(_Json):
    """The router left ``from_`` for ``to`` (``provider:model``) because of ``reason``:
    a failure class, or why a route was skipped. ``action``: rotate, fallback or skip.
    ``attempt`` is the router's record of the attempt that moved (live events only: it
    is not part of the JSON, so a replayed switch has none)."""

    type: Literal["model_switch"] = field(default="model_switch", init=False)
    from_: Annotated[str, Field(alias="from")]
    to: str
    reason: str
    action: str
    attempt: Annotated[Attempt | None, Field(exclude=True)] = field(
        default=None, compare=False, repr=False
    )


ChildStatus = Literal["started", "progress", "done"]


@dataclass(frozen=True)
class ChildUpdate(_Json):
    """A delegated task's progress, attached to the parent's ``delegate_task`` call.

    ``status``: ``started`` (no event), ``progress`` (``event`` is one of the child's own
    events; text and thought deltas only when the caller asked for them, e.g.
    ``delegation.delegate(..., deltas=True)``), ``done`` (``event`` is its ``turn_end``).
    """

    type: Literal["child"] = field(default="child", init=False)
    call_id: str | None
    task: int
    goal: str
    session_id: str | None
    status: ChildStatus
    event: Tagged | None = None


@dataclass(frozen=True)
class TurnEnd(_Json):
    """The last event of a turn, and what ``run_turn`` returns.

    ``text`` is the final answer (the last model call's text; empty when the turn did
    not end with an answer). ``message`` says why a turn ended other than ``end_turn``
    (which budget, the route's error, a cancellation). ``error`` is set when a model
    request failed: ``{"provider", "class", "message", "retry_at", "attempts"}``, the
    attempts being every step of the failed walk (``Attempt.to_json()``).
    """

    type: Literal["turn_end"] = field(default="turn_end", init=False)
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

    @field_serializer("duration_s")
    def _milliseconds(self, duration_s: float) -> float:
        return round(duration_s, 3)


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
    | TurnEnd
)

#: The union tagged by ``type``: how pydantic tells the kinds apart.
Tagged = Annotated[Event, Field(discriminator="type")]


@functools.cache
def events_adapter() -> TypeAdapter[Event]:
    """The codec of every event (built on first use: importing stays cheap)."""
    adapter: TypeAdapter[Event] = TypeAdapter(Tagged)
    return adapter


def decode_event(data: dict[str, Any] | str | bytes) -> Event:
    """The event a ``to_json()`` dict (or its JSON text) describes; pydantic's
    ValidationError (a ValueError) for anything else."""
    if isinstance(data, dict):
        return events_adapter().validate_python(data)
    return events_adapter().validate_json(data)


#: Where a turn sends its events. Awaiting it is the backpressure: a slow consumer
#: slows the turn down.
Emit = Callable[[Event], Awaitable[None]]
