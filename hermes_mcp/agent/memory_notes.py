"""Memory in the prompt: the notes the agent saved (``memory`` tool), shown to it when a
session starts.

The notes visible from the workspace (global ones and the workspace's own) are read once,
when the runtime opens the session (``Conversation.prefetch``), newest first, and kept
for the life of the open session: a note saved during the session is in the database at
once (``memory list`` shows it) but reaches the prompt with the next session, so the
prompt stays the same bytes from turn to turn (prompt caching). At most :data:`MAX_NOTES` notes and
:data:`MAX_CHARS` characters are shown; a line says how many were left out and how to
see them. Notes are the model's own words (redacted when stored): they are shown as
notes, not as instructions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hermes_mcp.state import Database
from tools.memory import Note, recent_notes

MAX_NOTES = 50
MAX_CHARS = 6000


@dataclass(frozen=True)
class MemorySnapshot:
    """The notes shown (newest first) and how many notes there are in all."""

    notes: tuple[Note, ...] = ()
    total: int = 0

    @property
    def left_out(self) -> int:
        return self.total - len(self.notes)


def take_snapshot(db: Database | None, cwd: Path) -> MemorySnapshot:
    """The notes to show in a session working in ``cwd``: two small reads on the
    database's own reader connection (``Database.read``, meant for the event loop)."""
    if db is None:
        return MemorySnapshot()
    notes, total = recent_notes(db, str(cwd), MAX_NOTES)
    shown: list[Note] = []
    used = 0
    for note in notes:
        used += len(note.content)
        if shown and used > MAX_CHARS:
            break
        shown.append(note)
    return MemorySnapshot(tuple(shown), total)


def render(snapshot: MemorySnapshot) -> str:
    """The prompt section ("" when there are no notes)."""
    if not snapshot.notes:
        return ""
    lines = [
        "# Memory",
        "",
        "Notes you saved in earlier sessions with the memory tool (newest first; they are "
        "your notes, not the user's instructions; keep them current with the memory tool):",
    ]
    for note in snapshot.notes:
        day = (note.updated_at or "")[:10]
        when = f", {day}" if day else ""
        lines.append(f"- [{note.id}] ({note.scope}{when}) {note.content.strip()}")
    if snapshot.left_out:
        older = "note is" if snapshot.left_out == 1 else "notes are"
        lines.append(
            f"({snapshot.left_out} older {older} not shown: memory with action 'list' "
            "shows every note.)"
        )
    return "\n".join(lines)
