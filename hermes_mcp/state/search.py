"""Full-text search over stored sessions (FTS5, schema v3).

``messages_fts`` indexes every message's text (user prompts, answers, tool results) and
its tool calls (names and arguments); triggers on ``messages`` keep it in step with every
insert, update and delete, so a message is searchable the moment it is committed.

The query is the user's text made safe for FTS5: each word becomes a quoted term (all
must occur), ``"quoted words"`` stay a phrase, a trailing ``*`` keeps a prefix search.
Hits are ranked by ``bm25`` (tool-call arguments weigh half as much as text), at most
``per_session`` from one session, each with a ``snippet()`` whose matches are wrapped in
``markers``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hermes_mcp.errors import UsageError, iso_utc
from hermes_mcp.state.db import Database
from hermes_mcp.state.sessions import translated, within_clause

_TERMS = re.compile(r'"([^"]*)"|(\S+)')
SNIPPET_TOKENS = 24


@dataclass(frozen=True)
class SearchHit:
    session_id: str
    title: str
    cwd: str
    message_id: int
    turn: int
    role: str  # user | assistant | tool
    name: str | None  # the tool, for a tool result
    snippet: str
    score: float  # bm25: lower is better
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "title": self.title,
            "cwd": self.cwd,
            "message_id": self.message_id,
            "turn": self.turn,
            "role": self.role,
            "name": self.name,
            "snippet": self.snippet,
            "score": self.score,
            "created_at": iso_utc(self.created_at),
        }


def fts_query(text: str) -> str:
    """The FTS5 query for ``text`` (never a syntax error); UsageError when it is empty."""
    terms: list[str] = []
    for phrase, word in _TERMS.findall(text):
        term, prefix = (phrase, False) if phrase else (word, False)
        if not phrase and len(word) > 1 and word.endswith("*"):
            term, prefix = word[:-1], True
        term = term.strip()
        if term:
            terms.append('"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise UsageError("nothing to search for")
    return " ".join(terms)


def search_sessions(
    db: Database,
    text: str,
    *,
    cwd: str | None = None,
    within: Sequence[str] | None = None,
    exclude_session: str | None = None,
    limit: int = 10,
    per_session: int = 3,
    markers: tuple[str, str] = ("**", "**"),
) -> list[SearchHit]:
    """The best ``limit`` matching messages, best first; ``cwd`` keeps one workspace's
    sessions, ``within`` the sessions started in or below any of these directories
    (an empty sequence matches none), ``exclude_session`` leaves one out."""
    if limit < 1 or per_session < 1:
        raise UsageError("limit and per_session must be at least 1")
    where = ["messages_fts MATCH ?"]
    params: list[Any] = [*markers, fts_query(text)]
    if cwd is not None:
        where.append("s.cwd = ?")
        params.append(cwd)
    if within is not None:
        clause, values = within_clause(within)
        where.append(clause)
        params += values
    if exclude_session is not None:
        where.append("m.session_id <> ?")
        params.append(exclude_session)
    sql = f"""
    WITH hits AS MATERIALIZED (
        SELECT m.session_id, s.title, s.cwd, m.id, m.turn, m.role, m.name,
               snippet(messages_fts, -1, ?, ?, '…', {SNIPPET_TOKENS}) AS snippet,
               bm25(messages_fts, 1.0, 0.5) AS score, m.created_at
        FROM messages_fts
        JOIN messages m ON m.id = messages_fts.rowid
        JOIN sessions s ON s.id = m.session_id
        WHERE {" AND ".join(where)}
    )
    SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY score, id DESC) AS nth
        FROM hits
    ) WHERE nth <= ? ORDER BY score, id DESC LIMIT ?"""
    with translated(db):
        rows = db.read(sql, (*params, per_session, limit))
    return [SearchHit(*row[:10]) for row in rows]
