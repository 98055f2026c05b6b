"""The one translation from the agent's events to ACP session updates: pure, no I/O.

A live turn and ``session/load``'s replay feed the same :class:`UpdateMapper` (one per
ACP session), so the editor sees a replayed session exactly as it saw it live:

- ``text_delta`` / ``thought_delta`` → ``agent_message_chunk`` / ``agent_thought_chunk``;
  a replayed ``user_message`` → ``user_message_chunk`` (text, then a link per resource).
- ``tool_call_start`` → ``tool_call`` (kind, title, raw input, locations from the path
  argument); ``tool_call_progress`` → ``tool_call_update`` whose content is the output
  so far (ACP replaces the content list on every update, so output is accumulated here,
  keeping the last :data:`OUTPUT_CAP` characters); a call whose command runs in an
  editor terminal carries the terminal instead and its output is the editor's to show;
  ``tool_call_end`` → the final status (``denied`` and ``cancelled`` are ``failed`` in
  ACP, with the reason in the content and ``rawOutput.status``), the diff of a file
  change, locations and raw output. A call made by an ``execute_code`` script is a
  tool call of its own whose ``_meta.hermes.parentToolCallId`` names the script's call.
- ``plan`` → ``plan``; ``usage`` → ``usage_update`` (context used and window, the
  session's cost, token counts in ``_meta``); ``model_switch`` → a visible note in the
  message (which model, why); ``child`` → an update of the parent's ``delegate_task``
  call listing each delegated task's progress.

:func:`outcome` turns a ``turn_end`` into the prompt's answer: an ACP stop reason (with
a note for a budget that ended the turn) or a JSON-RPC error carrying the provider, the
failure class and the recovery time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, assert_never, cast, get_args

from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    ContentToolCallContent,
    Cost,
    FileEditToolCallContent,
    PlanEntry,
    PlanEntryPriority,
    PlanEntryStatus,
    ResourceContentBlock,
    StopReason,
    TerminalToolCallContent,
    TextContentBlock,
    ToolCallLocation,
    ToolCallProgress,
    ToolCallStart,
    ToolKind,
    UsageUpdate,
    UserMessageChunk,
)

from hermes_mcp.agent.events import (
    ChildUpdate,
    Event,
    ModelSwitch,
    PlanUpdate,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    TurnEnd,
    UserMessage,
)
from hermes_mcp.agent.events import ToolCallProgress as Progress
from hermes_mcp.agent.events import ToolCallStart as Start
from hermes_mcp.agent.events import UsageUpdate as Usage
from tools import FileDiff

SessionUpdate = (
    AgentMessageChunk
    | AgentThoughtChunk
    | UserMessageChunk
    | ToolCallStart
    | ToolCallProgress
    | AgentPlanUpdate
    | UsageUpdate
)
ToolContent = ContentToolCallContent | FileEditToolCallContent | TerminalToolCallContent

#: Characters of a command's output one ``tool_call_update`` carries (the last ones).
OUTPUT_CAP = 16_000
_KINDS: frozenset[str] = frozenset(get_args(ToolKind))
_STATUSES: frozenset[str] = frozenset(get_args(PlanEntryStatus))
_PRIORITIES: frozenset[str] = frozenset(get_args(PlanEntryPriority))


def _text(text: str) -> TextContentBlock:
    return TextContentBlock(type="text", text=text)


def _content(text: str) -> ContentToolCallContent:
    return ContentToolCallContent(type="content", content=_text(text))


def message(text: str) -> AgentMessageChunk:
    return AgentMessageChunk(session_update="agent_message_chunk", content=_text(text))


def diff_content(diff: FileDiff) -> FileEditToolCallContent:
    """An edit as ACP shows it (a tool call's result, or a permission request's)."""
    return FileEditToolCallContent(
        type="diff", path=str(diff.path), old_text=diff.old_text, new_text=diff.new_text
    )


def capped(text: str, cap: int = OUTPUT_CAP) -> str:
    """The end of ``text`` when it is longer than ``cap``, the cut marked."""
    if len(text) <= cap:
        return text
    return f"[... {len(text) - cap:,} characters not shown ...]\n" + text[-cap:]


@dataclass
class _Call:
    name: str
    output: str = ""
    terminal: str | None = None


@dataclass
class _Children:
    lines: dict[int, str] = field(default_factory=dict)


@dataclass
class UpdateMapper:
    """Per-session translation state: the tool calls in flight (their output so far, an
    editor terminal) and the delegated tasks under each ``delegate_task`` call."""

    cwd: Path
    output_cap: int = OUTPUT_CAP
    _calls: dict[str, _Call] = field(default_factory=dict)
    _children: dict[str, _Children] = field(default_factory=dict)

    def updates(self, event: Event) -> list[SessionUpdate]:
        """The session updates one event becomes (often one, sometimes none)."""
        match event:
            case TextDelta(text=text):
                return [message(text)] if text else []
            case ThoughtDelta(text=text):
                if not text:
                    return []
                return [
                    AgentThoughtChunk(session_update="agent_thought_chunk", content=_text(text))
                ]
            case UserMessage():
                return user_chunks(event)
            case Start():
                return [self._start(event)]
            case Progress():
                return self._progress(event)
            case ToolCallEnd():
                return [self._end(event)]
            case PlanUpdate():
                return [plan(event)]
            case Usage():
                used = usage(event)
                return [used] if used is not None else []
            case ModelSwitch():
                return [switch_note(event)]
            case ChildUpdate():
                update = self._child(event)
                return [update] if update is not None else []
            case TurnEnd():
                return []  # the prompt's answer, see outcome()
            case _:
                assert_never(event)

    def attach_terminal(self, call_id: str, terminal_id: str) -> ToolCallProgress:
        """The command of ``call_id`` runs in the editor's terminal ``terminal_id``: show
        it in the call (the editor streams its output from now on)."""
        call = self._calls.setdefault(call_id, _Call("terminal"))
        call.terminal = terminal_id
        return ToolCallProgress(
            session_update="tool_call_update",
            tool_call_id=call_id,
            status="in_progress",
            content=[TerminalToolCallContent(type="terminal", terminal_id=terminal_id)],
        )

    def forget(self) -> None:
        """Drop per-call state (a turn ended; calls left open were cut off)."""
        self._calls.clear()
        self._children.clear()

    # -- tool calls ------------------------------------------------------------------------

    def _start(self, event: Start) -> ToolCallStart:
        self._calls[event.call_id] = _Call(event.name)
        kind = event.kind if event.kind in _KINDS else "other"
        path = event.arguments.get("path")
        locations = None
        if isinstance(path, str) and path:
            locations = [ToolCallLocation(path=str(self.cwd / path))]
        return ToolCallStart(
            session_update="tool_call",
            tool_call_id=event.call_id,
            title=event.title,
            kind=cast(ToolKind, kind),
            status="in_progress",
            locations=locations,
            raw_input=event.arguments,
            field_meta=parent_meta(event.parent_call_id),
        )

    def _progress(self, event: Progress) -> list[SessionUpdate]:
        call = self._calls.setdefault(event.call_id, _Call(""))
        if call.terminal is not None:
            return []  # the editor shows its own terminal's output
        call.output = (call.output + event.text)[-(self.output_cap * 2) :]
        update = ToolCallProgress(
            session_update="tool_call_update",
            tool_call_id=event.call_id,
            status="in_progress",
            content=[_content(capped(call.output, self.output_cap))],
        )
        return [update]

    def _end(self, event: ToolCallEnd) -> ToolCallProgress:
        call = self._calls.pop(event.call_id, None)
        self._children.pop(event.call_id, None)
        content: list[ToolContent] = []
        if call is not None and call.terminal is not None:
            content.append(TerminalToolCallContent(type="terminal", terminal_id=call.terminal))
        if event.diff is not None:
            content.append(diff_content(event.diff))
        if event.output:
            text = capped(event.output, self.output_cap)
            if event.status in ("denied", "cancelled"):
                text = f"[{event.status}] {text}"
            content.append(_content(text))
        raw: dict[str, Any] = {"status": event.status, "output": capped(event.output)}
        if event.structured is not None:
            raw["structured"] = event.structured
        locations = [
            ToolCallLocation(path=str(loc.path), line=loc.line) for loc in event.locations
        ] or None
        return ToolCallProgress(
            session_update="tool_call_update",
            tool_call_id=event.call_id,
            status="completed" if event.status == "completed" else "failed",
            content=content,
            locations=locations,
            raw_output=raw,
            field_meta=parent_meta(event.parent_call_id),
        )

    def _child(self, event: ChildUpdate) -> ToolCallProgress | None:
        if event.call_id is None:
            return None
        children = self._children.setdefault(event.call_id, _Children())
        goal = event.goal if len(event.goal) <= 80 else event.goal[:79] + "…"
        children.lines[event.task] = f"{event.task + 1}. {goal}: {child_status(event)}"
        text = "\n".join(children.lines[i] for i in sorted(children.lines))
        return ToolCallProgress(
            session_update="tool_call_update",
            tool_call_id=event.call_id,
            status="in_progress",
            content=[_content(text)],
        )


def parent_meta(parent_call_id: str | None) -> dict[str, Any] | None:
    """A call made by an ``execute_code`` script names that call (ACP has no nesting)."""
    return None if parent_call_id is None else {"hermes": {"parentToolCallId": parent_call_id}}


def child_status(event: ChildUpdate) -> str:
    match event.status, event.event:
        case "started", _:
            return "started"
        case "done", TurnEnd(stop_reason=reason):
            return f"done ({reason})"
        case "done", _:
            return "done"
        case _, Start(title=title):
            return f"running {title}"
        case _, ToolCallEnd(name=name, status=status):
            return f"{name} {status}"
        case _, None:
            return "working"
        case _, inner:
            return inner.type.replace("_", " ")


def user_chunks(event: UserMessage) -> list[SessionUpdate]:
    out: list[SessionUpdate] = []
    if event.text:
        out.append(UserMessageChunk(session_update="user_message_chunk", content=_text(event.text)))
    for part in event.parts:
        uri = part.get("uri")
        if part.get("type") in ("resource", "resource_link", "image") and isinstance(uri, str):
            name = str(part.get("name") or uri.rsplit("/", 1)[-1] or uri)
            link = ResourceContentBlock(
                type="resource_link", uri=uri, name=name, mime_type=part.get("mime_type")
            )
            out.append(UserMessageChunk(session_update="user_message_chunk", content=link))
    return out


def plan(event: PlanUpdate) -> AgentPlanUpdate:
    entries = []
    for entry in event.entries:
        status = str(entry.get("status", "pending"))
        priority = str(entry.get("priority", "medium"))
        entries.append(
            PlanEntry(
                content=str(entry.get("content", "")),
                status=cast(PlanEntryStatus, status if status in _STATUSES else "pending"),
                priority=cast(PlanEntryPriority, priority if priority in _PRIORITIES else "medium"),
            )
        )
    return AgentPlanUpdate(session_update="plan", entries=entries)


def usage(event: Usage) -> UsageUpdate | None:
    """Context used and size (only when the serving model's window is known), the
    session's running cost, and the tokens in ``_meta``."""
    if event.context_window is None:
        return None
    used = event.usage.input_tokens + event.usage.output_tokens
    cost = event.session_cost_usd if event.session_cost_usd is not None else event.cost_usd
    totals = event.session_usage.to_json() if event.session_usage is not None else None
    meta = {
        "hermes": {
            "call": event.usage.to_json(),
            "session": totals,
            "costUsd": event.cost_usd,
            "model": f"{event.provider}:{event.model}",
        }
    }
    return UsageUpdate(
        session_update="usage_update",
        used=min(used, event.context_window),
        size=event.context_window,
        cost=None if cost is None else Cost(amount=cost, currency="USD"),
        field_meta=meta,
    )


def switch_note(event: ModelSwitch) -> AgentMessageChunk:
    """The router moved on: a line in the answer, and the facts in ``_meta``."""
    verb = {"rotate": "rotated credentials on", "skip": "skipped"}.get(event.action, "left")
    text = f"_[{verb} {event.from_} → {event.to}: {event.reason}]_\n\n"
    if event.from_ == event.to:
        text = f"_[{event.to}: {event.reason}, {event.action}]_\n\n"
    chunk = message(text)
    chunk.field_meta = {"hermes": {"modelSwitch": event.to_json()}}
    return chunk


# -- the end of a turn ----------------------------------------------------------------------

#: JSON-RPC error codes of a prompt that could not be answered.
PROVIDER_FAILED = -32001  # the router found no route: data names provider, class, retry_at
NOT_CONFIGURED = -32000  # ACP's "authentication required": run the setup (authMethods)

_STOPS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "max_iterations": "max_turn_requests",
    "refusal": "refusal",
    "cancelled": "cancelled",
    "max_duration": "end_turn",
    "max_cost": "end_turn",
}
_BUDGETS = {"max_duration": "time", "max_cost": "cost", "max_iterations": "model-request"}


@dataclass(frozen=True)
class Answer:
    stop_reason: StopReason
    note: str | None = None  # a message to show before answering (which budget ended it)


@dataclass(frozen=True)
class Failure:
    code: int
    message: str
    data: dict[str, Any]


def outcome(end: TurnEnd) -> Answer | Failure:
    if end.stop_reason == "error":
        error = dict(end.error or {})
        cls = error.get("class")
        data = {
            "provider": error.get("provider"),
            "class": cls,
            "retryAt": error.get("retry_at"),
            "message": error.get("message") or end.message,
            "attempts": error.get("attempts", []),
            "sessionId": end.session_id,
        }
        text = end.message or str(error.get("message") or "the turn failed")
        code = NOT_CONFIGURED if cls == "config" else PROVIDER_FAILED
        return Failure(code, text, data)
    stop = _STOPS.get(end.stop_reason, "end_turn")
    budget = _BUDGETS.get(end.stop_reason)
    note = None
    if budget is not None:
        why = end.message or end.stop_reason
        note = f"\n\n_[stopped: the turn's {budget} budget ({end.stop_reason}) ran out: {why}]_"
    elif end.message and end.stop_reason != "cancelled":
        note = f"\n\n_[{end.message}]_"  # e.g. images left out for a model without vision
    return Answer(stop, note)
