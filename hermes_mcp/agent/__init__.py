"""The agent: one loop, sessions, delegation and the events both edges consume.

Protocol-free: imports neither ``mcp`` nor ``acp``. An edge asks the runtime
(``hermes_mcp.runtime.open_runtime``) for a :class:`~hermes_mcp.agent.session.Session`,
runs a turn with ``async with session.turn(prompt) as turn: async for event in turn``,
maps each event (``events.py``) to its protocol, and calls ``turn.cancel()`` when the
client cancels. Risky actions reach the edge through the ``tools.Approver`` of the
session's backends (delegated children use the same one).

Layout: ``session`` (``Session``: the one object a turn runs on, its lifetime and its
one-turn-at-a-time rule), ``engine`` (the turn itself, private), ``events`` (the event
types, their union and its codec), ``event_log`` (the turn's event log), ``turn_state`` (a turn's
bookkeeping, session totals), ``turn`` (the handle), ``budget``, ``model`` (the model
interface, attempts → ``model_switch``), ``prompt`` (prompt parts), ``store`` /
``transcript`` / ``writer`` / ``replay`` (sessions in SQLite: rows, group commit,
replay), ``delegation`` (``delegate_task``), ``jobs`` (background turns), ``prompts``.
"""

from hermes_mcp.agent.budget import Budget
from hermes_mcp.agent.events import (
    STOP_REASONS,
    ChildUpdate,
    Emit,
    Event,
    ModelSwitch,
    PlanUpdate,
    StopReason,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    ToolCallProgress,
    ToolCallStart,
    TurnEnd,
    UsageUpdate,
)
from hermes_mcp.agent.model import ChatModel, ModelStream
from hermes_mcp.agent.store import SessionInfo, SessionNotFound, SessionStore
from hermes_mcp.agent.turn import Turn

__all__ = [
    "STOP_REASONS",
    "Budget",
    "ChatModel",
    "ChildUpdate",
    "Emit",
    "Event",
    "ModelStream",
    "ModelSwitch",
    "PlanUpdate",
    "SessionInfo",
    "SessionNotFound",
    "SessionStore",
    "StopReason",
    "TextDelta",
    "ThoughtDelta",
    "ToolCallEnd",
    "ToolCallProgress",
    "ToolCallStart",
    "Turn",
    "TurnEnd",
    "UsageUpdate",
]
