"""Sessions as rows and back: a message becomes a ``messages`` row (its tool calls as
JSON), an answered model call adds to the session's totals and the turn's route, and
:func:`repair` gives every tool call without a result a placeholder, so a reloaded
conversation is one that every provider accepts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from hermes_mcp.agent.prompt import ImagePart, PromptPart, ResourceLink, ResourcePart
from hermes_mcp.llm.types import Image, Message, Replay, ToolCall, Usage
from hermes_mcp.log import redact, redact_value

INTERRUPTED = "[no result: the turn ended before this call finished]"


def insert_message(
    conn: sqlite3.Connection,
    session_id: str,
    turn: int,
    message: Message,
    now: float,
    meta: dict[str, Any] | None = None,
) -> None:
    calls = None
    if message.tool_calls:
        # Stored redacted (as the events show them): a key the model wrote into a call
        # stays out of the database; the next turn's model sees the redacted form.
        calls = json.dumps(
            [
                {"id": c.id, "name": c.name, "arguments": redact_value(c.arguments)}
                for c in message.tool_calls
            ]
        )
    meta = meta or {}
    # The model's own text is stored redacted too (tool results already are): a key it
    # repeats stays out of the database. The user's prompt is stored as given.
    content = redact(message.content) if message.role == "assistant" else message.content
    conn.execute(
        "INSERT INTO messages (session_id, turn, role, content, tool_calls, tool_call_id, name,"
        " is_error, structured, provider, model, input_tokens, output_tokens, cost_usd,"
        " created_at, parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session_id,
            turn,
            message.role,
            content,
            calls,
            message.tool_call_id,
            message.name,
            meta.get("is_error", 0),
            meta.get("structured"),
            meta.get("provider"),
            meta.get("model"),
            meta.get("input_tokens"),
            meta.get("output_tokens"),
            meta.get("cost_usd"),
            now,
            meta.get("parts"),
        ),
    )


def insert_events(
    conn: sqlite3.Connection,
    session_id: str,
    turn: int,
    events: Sequence[tuple[int, dict[str, Any]]],
) -> None:
    conn.executemany(
        "INSERT INTO events (session_id, turn, seq, type, payload) VALUES (?, ?, ?, ?, ?)",
        [(session_id, turn, seq, data["type"], json.dumps(data)) for seq, data in events],
    )


def pack_replay(replay: Replay | None) -> str | None:
    """An assistant turn's replay (the provider's own blocks: thinking signatures, Gemini
    thought signatures, encrypted reasoning) as ``messages.parts`` stores it, so the
    history goes back to the same wire unchanged in a later turn or process too.

    Stored redacted like the message's text; a replay that redaction would change (the
    model repeated a secret in its thinking) is not stored at all: an altered signed block
    is refused, and the turn rebuilt from its (redacted) text and calls is accepted."""
    if replay is None:
        return None
    items = list(replay.items)
    if redact_value(items) != items:
        return None
    return json.dumps([{"type": "replay", "wire": replay.wire, "items": items}])


def replay_of(raw: str | None) -> Replay | None:
    if not raw:
        return None
    for part in json.loads(raw):
        if isinstance(part, dict) and part.get("type") == "replay":
            return Replay(str(part["wire"]), tuple(part.get("items") or ()))
    return None


def pack_parts(parts: Sequence[PromptPart]) -> str | None:
    """A prompt's parts beyond its text, as ``messages.parts`` stores them (``None``: all
    text). Images keep their data: the history sends them again."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ImagePart):
            out.append(
                {"type": "image", "media_type": part.media_type, "data": part.data, "uri": part.uri}
            )
        elif isinstance(part, ResourcePart):
            out.append({"type": "resource", "uri": part.uri, "mime_type": part.mime_type})
        elif isinstance(part, ResourceLink):
            out.append(
                {
                    "type": "resource_link",
                    "uri": part.uri,
                    "name": part.name,
                    "mime_type": part.mime_type,
                }
            )
    return json.dumps(out) if out else None


def images_of(raw: str | None) -> tuple[Image, ...]:
    if not raw:
        return ()
    return tuple(
        Image(p["media_type"], p["data"]) for p in json.loads(raw) if p.get("type") == "image"
    )


def add_totals(
    conn: sqlite3.Connection,
    session_id: str,
    turn: int,
    served: dict[str, str],
    usage: Usage,
    cost_usd: float | None,
    now: float,
) -> None:
    """An answered model call: the session's totals and last model, the turn's route."""
    model = f"{served['provider']}:{served['model']}"
    conn.execute(
        "UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
        " cost_usd = CASE WHEN ? IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + ? END,"
        " model = ?, updated_at = ? WHERE id = ?",
        (usage.input_tokens, usage.output_tokens, cost_usd, cost_usd, model, now, session_id),
    )
    row = conn.execute(
        "SELECT route FROM turns WHERE session_id = ? AND turn = ?", (session_id, turn)
    ).fetchone()
    route: list[dict[str, str]] = json.loads(row["route"] or "[]") if row else []
    if served not in route:
        route.append(served)
    conn.execute(
        "UPDATE turns SET model = ?, route = ? WHERE session_id = ? AND turn = ?",
        (model, json.dumps(route), session_id, turn),
    )


def tool_calls(raw: str | None) -> tuple[ToolCall, ...]:
    if not raw:
        return ()
    return tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in json.loads(raw))


def repair(messages: list[Message]) -> list[Message]:
    """Give every tool call exactly one result: a placeholder right after the results it
    has, and no result that answers no pending call."""
    out: list[Message] = []
    pending: list[ToolCall] = []

    def close_pending() -> None:
        out.extend(Message.tool(c.id, c.name, INTERRUPTED) for c in pending)
        pending.clear()

    for message in messages:
        if message.role == "tool":
            if not any(c.id == message.tool_call_id for c in pending):
                # A result for no pending call (a late result of a call that already got
                # its placeholder): providers reject it, so it is left out.
                continue
            pending[:] = [c for c in pending if c.id != message.tool_call_id]
        else:
            close_pending()
        out.append(message)
        if message.role == "assistant":
            pending.extend(message.tool_calls)
    close_pending()
    return out
