"""Versioned schema. Each entry migrates from the previous version; never edit a shipped
entry, append a new one (a tuple of statements). ``PRAGMA user_version`` records
where a database stands."""

from __future__ import annotations

#: Every session's totals (tokens, cost, last model) recomputed from its assistant
#: messages: migration 3 back-fills them with it, and a fork re-totals its new session
#: (``state/sessions.py``, with ``WHERE id = ?`` appended).
RETOTAL_SESSIONS = """
UPDATE sessions SET
    input_tokens = (SELECT COALESCE(SUM(m.input_tokens), 0) FROM messages m
                    WHERE m.session_id = sessions.id AND m.role = 'assistant'),
    output_tokens = (SELECT COALESCE(SUM(m.output_tokens), 0) FROM messages m
                     WHERE m.session_id = sessions.id AND m.role = 'assistant'),
    cost_usd = (SELECT SUM(m.cost_usd) FROM messages m
                WHERE m.session_id = sessions.id AND m.role = 'assistant'),
    model = (SELECT m.provider || ':' || m.model FROM messages m
             WHERE m.session_id = sessions.id AND m.provider IS NOT NULL
             ORDER BY m.id DESC LIMIT 1)
"""

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

MIGRATIONS.append(
    # 3: durable sessions: per-session totals (usage, cost, last model) and fork origin,
    # per-turn model and route, and FTS5 full-text search over messages (content and tool
    # calls), kept in step with ``messages`` by triggers. Rows written by v2 are kept and
    # back-filled: totals and turn models from the stored assistant messages, titles
    # trimmed to one line, the search index rebuilt.
    (
        "ALTER TABLE sessions ADD COLUMN model TEXT",  # last "provider:model" that served it
        "ALTER TABLE sessions ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN cost_usd REAL",  # NULL: no priced call yet
        "ALTER TABLE sessions ADD COLUMN forked_from TEXT"
        " REFERENCES sessions(id) ON DELETE SET NULL",
        "ALTER TABLE turns ADD COLUMN model TEXT",  # last "provider:model" of the turn
        "ALTER TABLE turns ADD COLUMN route TEXT",  # JSON [{provider, model, credential}]
        "CREATE INDEX sessions_updated ON sessions(updated_at DESC, id DESC)",
        "CREATE INDEX sessions_cwd_updated ON sessions(cwd, updated_at DESC, id DESC)",
        """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, tool_calls,
        content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
        """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content, tool_calls)
        VALUES (new.id, new.content, new.tool_calls);
    END
    """,
        """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, tool_calls)
        VALUES ('delete', old.id, old.content, old.tool_calls);
    END
    """,
        """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, tool_calls ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, tool_calls)
        VALUES ('delete', old.id, old.content, old.tool_calls);
        INSERT INTO messages_fts (rowid, content, tool_calls)
        VALUES (new.id, new.content, new.tool_calls);
    END
    """,
        "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
        RETOTAL_SESSIONS,
        """
    UPDATE turns SET
        model = (SELECT m.provider || ':' || m.model FROM messages m
                 WHERE m.session_id = turns.session_id AND m.turn = turns.turn
                 AND m.provider IS NOT NULL ORDER BY m.id DESC LIMIT 1),
        route = (SELECT json_group_array(json_object('provider', r.provider, 'model', r.model,
                                                     'credential', NULL))
                 FROM (SELECT m.provider, m.model, MIN(m.id) AS first FROM messages m
                       WHERE m.session_id = turns.session_id AND m.turn = turns.turn
                       AND m.provider IS NOT NULL
                       GROUP BY m.provider, m.model ORDER BY first) r)
    """,
        """
    UPDATE sessions SET title = CASE
        WHEN length(trim(replace(replace(title, char(13), ' '), char(10), ' '))) > 80
        THEN rtrim(substr(trim(replace(replace(title, char(13), ' '), char(10), ' ')), 1, 79))
             || '…'
        ELSE trim(replace(replace(title, char(13), ' '), char(10), ' '))
    END
    """,
    ),
)

# 4: what a session chose and keeps across restarts: its policy mode, its model (an
# override of [model] default; the fallbacks still follow) and its toolsets (a JSON
# list). NULL means "as the config says".
MIGRATIONS.append(
    (
        "ALTER TABLE sessions ADD COLUMN mode TEXT",
        "ALTER TABLE sessions ADD COLUMN model_override TEXT",
        "ALTER TABLE sessions ADD COLUMN toolsets TEXT",
    )
)

# 5: what replay needs. ``events``: every event a turn emitted, in order, as JSON
# (redacted like the live events; consecutive text or thought deltas coalesced), the
# user's prompt as a ``user_message`` first. ``messages.parts``: a user message's parts
# beyond its text (images with their data, resources, links), JSON, for the history.
MIGRATIONS.append(
    (
        """
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        turn        INTEGER NOT NULL,
        seq         INTEGER NOT NULL,           -- order of emission within the turn
        type        TEXT NOT NULL,
        payload     TEXT NOT NULL               -- JSON: the event's to_json(), redacted
    )
    """,
        "CREATE INDEX events_session ON events(session_id, turn, seq)",
        "ALTER TABLE messages ADD COLUMN parts TEXT",
    )
)

# 6: a context boundary: ``/reset`` starts a fresh conversation for the model in the
# same session (its history begins after message ``context_from``) while the stored
# transcript, and so replay, keeps everything.
MIGRATIONS.append(("ALTER TABLE sessions ADD COLUMN context_from INTEGER NOT NULL DEFAULT 0",))
