"""``memory``: persistent notes in the SQLite state (the ``memory`` table).

Actions: ``add`` (content), ``replace`` (id, content), ``remove`` (id), ``list``
(optionally filtered by a substring). A note is ``global`` (every workspace sees it) or
``workspace`` (stored under the first workspace root's path; only sessions in that
workspace see it). ``list`` shows both kinds; ``replace`` and ``remove`` only touch
notes visible from here. Content is redacted before it is stored, so a secret pasted
into a note never reaches the database. Database calls run in a worker thread.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hermes_mcp.errors import iso_utc
from hermes_mcp.log import redact
from hermes_mcp.state import Database
from tools.context import ToolContext
from tools.registry import Tool, ToolAnnotations, ToolError, ToolResult

MAX_NOTES = 1000


class MemoryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "replace", "remove", "list"]
    content: str | None = Field(default=None, max_length=4000, description="For add/replace")
    id: int | None = Field(default=None, ge=1, description="For replace/remove")
    scope: Literal["global", "workspace"] = Field(default="global", description="For add")
    query: str | None = Field(default=None, description="For list: substring filter")

    @model_validator(mode="after")
    def _needs(self) -> MemoryArgs:
        if self.action in ("add", "replace") and not (self.content and self.content.strip()):
            raise ValueError(f"content is required for {self.action}")
        if self.action in ("replace", "remove") and self.id is None:
            raise ValueError(f"id is required for {self.action}")
        return self


class Note(BaseModel):
    id: int
    scope: Literal["global", "workspace"]
    content: str
    updated_at: str | None


class MemoryOutput(BaseModel):
    notes: list[Note]


def _note(row: Any) -> Note:
    scope: Literal["global", "workspace"] = "global" if row["scope"] == "global" else "workspace"
    return Note(
        id=row["id"], scope=scope, content=row["content"], updated_at=iso_utc(row["updated_at"])
    )


_COLUMNS = "SELECT id, scope, content, updated_at FROM memory"


def _run(db: Database, args: MemoryArgs, workspace: str) -> tuple[str, list[Note], bool]:
    """(message, notes affected or listed, is_error), in one transaction for changes."""
    visible = ("global", workspace)
    if args.action == "list":
        rows = db.query(f"{_COLUMNS} WHERE scope IN (?, ?) ORDER BY id", visible)
        needle = (args.query or "").lower()
        notes = [_note(row) for row in rows if needle in row["content"].lower()]
        text = "\n".join(f"[{n.id}] ({n.scope}) {n.content}" for n in notes)
        return text or "no notes", notes, False
    now = time.time()
    content = redact(args.content.strip()) if args.content else ""
    with db.write() as conn:
        if args.action == "add":
            scope = "global" if args.scope == "global" else workspace
            count_sql = "SELECT COUNT(*) FROM memory WHERE scope = ?"
            count = conn.execute(count_sql, (scope,)).fetchone()[0]
            if count >= MAX_NOTES:
                return f"memory is full ({MAX_NOTES} notes); remove or replace some first", [], True
            note_id = conn.execute(
                "INSERT INTO memory (scope, content, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (scope, content, now, now),
            ).lastrowid
        elif args.action == "replace":
            note_id = args.id
            conn.execute(
                "UPDATE memory SET content = ?, updated_at = ? WHERE id = ? AND scope IN (?, ?)",
                (content, now, note_id, *visible),
            )
        else:
            found = conn.execute(
                "DELETE FROM memory WHERE id = ? AND scope IN (?, ?)", (args.id, *visible)
            ).rowcount
            if not found:
                return f"no note with id {args.id}", [], True
            return f"Removed note {args.id}", [], False
        row = conn.execute(
            f"{_COLUMNS} WHERE id = ? AND scope IN (?, ?)", (note_id, *visible)
        ).fetchone()
    if row is None:
        return f"no note with id {args.id}", [], True
    verb = "Added" if args.action == "add" else "Replaced"
    return f"{verb} note {row['id']} ({_note(row).scope})", [_note(row)], False


def recent_notes(db: Database, cwd: str, limit: int) -> tuple[list[Note], int]:
    """Up to ``limit`` notes visible from the workspace ``cwd`` (global and its own),
    most recently changed first, and how many there are in all. Blocking."""
    visible = ("global", f"workspace:{cwd}")
    rows = db.read(
        f"{_COLUMNS} WHERE scope IN (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?",
        (*visible, limit),
    )
    total = db.read("SELECT COUNT(*) FROM memory WHERE scope IN (?, ?)", visible)[0][0]
    return [_note(row) for row in rows], int(total)


async def memory(args: MemoryArgs, ctx: ToolContext) -> ToolResult:
    if ctx.db is None:
        raise ToolError("memory is unavailable: no state database in this session")
    workspace = f"workspace:{ctx.cwd}"
    text, notes, failed = await anyio.to_thread.run_sync(_run, ctx.db, args, workspace)
    if failed:
        return ToolResult.error(text)
    return ToolResult(text=text, structured=MemoryOutput(notes=notes).model_dump())


MEMORY_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="memory",
        description=(
            "Persistent notes across sessions: add, replace (by id), remove (by id), list. "
            "Scope 'global' or 'workspace'. Never store secrets."
        ),
        args=MemoryArgs,
        fn=memory,
        toolset="memory",
        output=MemoryOutput,
        annotations=ToolAnnotations(destructive=False, kind="other"),
    ),
)
