"""The records of stored sessions (schema v3), as the store, the tools and the command
line hand them out; ``to_json()`` is what ``sessions --json`` prints (times ISO-8601 UTC)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from hermes_mcp.errors import iso_utc


@dataclass(frozen=True)
class SessionInfo:
    id: str
    parent_id: str | None
    cwd: str
    title: str
    created_at: float
    updated_at: float
    model: str | None = None  # the last "provider:model" that answered in it
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: no priced call
    forked_from: str | None = None
    turn_count: int = 0
    message_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "cwd": self.cwd,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "model": self.model,
            "turns": self.turn_count,
            "messages": self.message_count,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "cost_usd": self.cost_usd,
            "parent_id": self.parent_id,
            "forked_from": self.forked_from,
        }


@dataclass(frozen=True)
class TurnRecord:
    turn: int
    started_at: float
    ended_at: float | None  # None: still running, or its process died
    stop_reason: str | None
    message: str | None
    model: str | None
    route: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int
    cost_usd: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "stop_reason": self.stop_reason,
            "message": self.message,
            "model": self.model,
            "route": self.route,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True)
class StoredMessage:
    id: int
    turn: int
    role: str  # user | assistant | tool
    content: str
    tool_calls: list[dict[str, Any]]  # assistant: [{id, name, arguments}]
    tool_call_id: str | None  # tool: the call it answers
    name: str | None  # tool: the tool's name
    is_error: bool
    structured: dict[str, Any] | None
    provider: str | None
    model: str | None
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "turn": self.turn,
            "role": self.role,
            "content": self.content,
            "tool_calls": self.tool_calls,
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "is_error": self.is_error,
            "structured": self.structured,
            "provider": self.provider,
            "model": self.model,
            "created_at": iso_utc(self.created_at),
        }


@dataclass(frozen=True)
class CompactionRecord:
    """A compaction: the model's history was summarised up to message ``after_message``
    (the transcript keeps every message; this marks the place)."""

    turn: int
    after_message: int
    tokens_before: int
    tokens_after: int
    summary: str
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "after_message": self.after_message,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "summary": self.summary,
            "created_at": iso_utc(self.created_at),
        }


@dataclass(frozen=True)
class SessionRecord:
    """A whole session: its summary, its turns, its messages and its compactions, in
    order."""

    info: SessionInfo
    turns: list[TurnRecord] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)
    compactions: list[CompactionRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.info.to_json(),
            "turns": [t.to_json() for t in self.turns],
            "messages": [m.to_json() for m in self.messages],
            "compactions": [c.to_json() for c in self.compactions],
        }


@dataclass(frozen=True)
class SessionPage:
    sessions: list[SessionInfo]
    next_cursor: str | None  # None: this was the last page


def turn_record(row: sqlite3.Row) -> TurnRecord:
    return TurnRecord(
        turn=row["turn"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        stop_reason=row["stop_reason"],
        message=row["message"],
        model=row["model"],
        route=json.loads(row["route"] or "[]"),
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=row["cost_usd"],
    )


def stored_message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        turn=row["turn"],
        role=row["role"],
        content=row["content"],
        tool_calls=json.loads(row["tool_calls"] or "[]"),
        tool_call_id=row["tool_call_id"],
        name=row["name"],
        is_error=bool(row["is_error"]),
        structured=json.loads(row["structured"]) if row["structured"] else None,
        provider=row["provider"],
        model=row["model"],
        created_at=row["created_at"],
    )


def compaction_record(row: sqlite3.Row) -> CompactionRecord:
    return CompactionRecord(
        turn=row["turn"],
        after_message=row["after_message"],
        tokens_before=row["tokens_before"],
        tokens_after=row["tokens_after"],
        summary=row["summary"],
        created_at=row["created_at"],
    )
