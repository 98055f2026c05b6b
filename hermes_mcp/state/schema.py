"""Versioned schema. Each entry migrates from the previous version; never edit a shipped
entry, append a new one (a tuple of statements). ``PRAGMA user_version`` records
where a database stands."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: credential cooldowns and dead marks, and the memory tool's notes.
    (
        """
    CREATE TABLE credential_state (
        provider        TEXT NOT NULL,
        endpoint        TEXT NOT NULL,
        credential      TEXT NOT NULL,          -- fingerprint
        model           TEXT NOT NULL DEFAULT '',  -- '' when the provider limits per key
        state           TEXT NOT NULL CHECK (state IN ('cooling', 'dead')),
        cooldown_until  REAL,                   -- epoch seconds, NULL for dead
        last_class      TEXT NOT NULL,
        last_error_at   REAL NOT NULL,
        message         TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (provider, endpoint, credential, model)
    )
    """,
        """
    CREATE TABLE memory (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        scope       TEXT NOT NULL DEFAULT 'global',
        content     TEXT NOT NULL,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    )
    """,
    ),
    # 2: agent sessions: their messages (tool calls and results included), appended as
    # they happen, and one row per turn (its stop reason once it has ended).
    (
        """
    CREATE TABLE sessions (
        id          TEXT PRIMARY KEY,
        parent_id   TEXT REFERENCES sessions(id) ON DELETE SET NULL,  -- delegated tasks
        cwd         TEXT NOT NULL,
        title       TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    )
    """,
        "CREATE INDEX sessions_parent ON sessions(parent_id)",
        """
    CREATE TABLE turns (
        session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        turn          INTEGER NOT NULL,         -- 1, 2, ... within the session
        started_at    REAL NOT NULL,
        ended_at      REAL,                     -- NULL: still running, or the process died
        stop_reason   TEXT,
        message       TEXT,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd      REAL,
        PRIMARY KEY (session_id, turn)
    )
    """,
        """
    CREATE TABLE messages (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        turn          INTEGER NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
        content       TEXT NOT NULL DEFAULT '',
        tool_calls    TEXT,                     -- assistant: JSON [{id, name, arguments}]
        tool_call_id  TEXT,                     -- tool: the call this result answers
        name          TEXT,                     -- tool: the tool's name
        is_error      INTEGER NOT NULL DEFAULT 0,
        structured    TEXT,                     -- tool: JSON structured result
        provider      TEXT,                     -- assistant: who served it
        model         TEXT,
        input_tokens  INTEGER,
        output_tokens INTEGER,
        cost_usd      REAL,
        created_at    REAL NOT NULL
    )
    """,
        "CREATE INDEX messages_session ON messages(session_id, id)",
    ),
]
