"""A stored session as the events its live turns emitted (``SessionStore.replay``).

Turns recorded with the event log (schema v5) come back from it: the ``user_message``
stored when the turn began, then every event in the order it was emitted, each decoded
(``events.decode_event``, the union's codec) to the dataclass the live turn emitted
(text and thought deltas coalesced). A turn
without stored events (recorded before v5, or copied by a partial fork) is rebuilt from
its messages: ``user_message``, the assistant's text, ``tool_call_start`` and
``tool_call_end`` per call (the kind ``other``, the title the tool's name: neither was
stored then), ``turn_end`` from the turn's row. A turn that never ended (its process
was killed) gets, after its logged events, the tool calls its messages hold and its log
lacks: the editor was shown the call before its event could be written. Everything is
redacted as live events are.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

from hermes_mcp.agent.events import (
    Event,
    TextDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolCallStatus,
    TurnEnd,
    UserMessage,
    decode_event,
)
from hermes_mcp.llm.types import Usage
from hermes_mcp.log import redact, redact_value
from hermes_mcp.state import Database


def replay_session(db: Database, session_id: str) -> list[Event]:
    """Every turn's events, oldest turn first (runs in a worker thread)."""
    stored: dict[int, list[Event]] = {}
    for row in db.read(
        "SELECT turn, payload FROM events WHERE session_id = ? ORDER BY turn, seq, id",
        (session_id,),
    ):
        event = decode_event(row[1])
        if isinstance(event, TurnEnd) and event.session_id != session_id:
            event = dataclasses.replace(event, session_id=session_id)  # a fork's copy
        stored.setdefault(int(row[0]), []).append(event)
    turns = db.read(
        "SELECT turn, stop_reason, message, input_tokens, output_tokens, cost_usd, model,"
        " started_at, ended_at FROM turns WHERE session_id = ? ORDER BY turn",
        (session_id,),
    )
    messages: dict[int, list[sqlite3.Row]] = {}
    # A turn that never ended (its process was killed) may have shown a tool call whose
    # event was not written yet: its messages are read too, to recover it.
    if any(not _logged(stored.get(int(t["turn"]))) or t["stop_reason"] is None for t in turns):
        for row in db.read(
            "SELECT turn, role, content, tool_calls, tool_call_id, name, is_error, structured"
            " FROM messages WHERE session_id = ? ORDER BY id",
            (session_id,),
        ):
            messages.setdefault(int(row["turn"]), []).append(row)
    out: list[Event] = []
    for turn in turns:
        events = stored.get(int(turn["turn"]))
        rows = messages.get(int(turn["turn"]), [])
        if events is None or not _logged(events):
            events = _from_messages(session_id, turn, rows)
        elif turn["stop_reason"] is None:
            events = events + _lost_calls(events, rows)
        out.extend(events)
    return out


def _logged(events: list[Event] | None) -> bool:
    return bool(events) and isinstance(events[0], UserMessage)  # type: ignore[index]


def _lost_calls(events: list[Event], rows: list[sqlite3.Row]) -> list[Event]:
    """The tool calls of an interrupted turn that its stored messages hold and its event
    log does not (``kill -9`` between showing a call and writing its event), each as
    its ``tool_call_start`` and, when its result was stored, its ``tool_call_end``."""
    logged = {e.call_id for e in events if isinstance(e, ToolCallStart | ToolCallEnd)}
    found = [
        e for e in _from_messages("", None, rows) if isinstance(e, ToolCallStart | ToolCallEnd)
    ]
    return [e for e in found if e.call_id not in logged]


def _from_messages(
    session_id: str, turn: sqlite3.Row | None, rows: list[sqlite3.Row]
) -> list[Event]:
    out: list[Event] = []
    last_text = ""
    for row in rows:
        if row["role"] == "user":
            out.append(UserMessage(redact(row["content"])))
        elif row["role"] == "assistant":
            last_text = row["content"]
            if row["content"]:
                out.append(TextDelta(redact(row["content"])))
            for call in json.loads(row["tool_calls"] or "[]"):
                arguments = redact_value(call.get("arguments") or {})
                out.append(
                    ToolCallStart(call["id"], call["name"], call["name"], "other", arguments)
                )
        else:
            structured = json.loads(row["structured"]) if row["structured"] else None
            status: ToolCallStatus = "failed" if row["is_error"] else "completed"
            out.append(
                ToolCallEnd(
                    row["tool_call_id"] or "",
                    row["name"] or "",
                    status,
                    redact(row["content"]),
                    structured=None if structured is None else redact_value(structured),
                )
            )
    if turn is not None and turn["stop_reason"] is not None:
        duration = (turn["ended_at"] or turn["started_at"]) - turn["started_at"]
        out.append(
            TurnEnd(
                stop_reason=turn["stop_reason"],
                session_id=session_id,
                text=redact(last_text) if turn["stop_reason"] == "end_turn" else "",
                message=turn["message"],
                usage=Usage(turn["input_tokens"], turn["output_tokens"]),
                cost_usd=turn["cost_usd"],
                duration_s=duration,
                model=turn["model"],
            )
        )
    return out
