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
]
