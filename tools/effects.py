"""What a tool call touches, as an editor shows it: the kind of action (ACP's tool kinds),
the diff of an edit and the places it went. Shared by tool results (``registry.py``) and
approval requests (``approval.py``), which re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ToolKind = Literal["read", "edit", "delete", "move", "search", "execute", "think", "fetch", "other"]


@dataclass(frozen=True)
class FileDiff:
    """An edit, as the ACP edge shows it: ``old_text`` is ``None`` for a new file."""

    path: Path
    old_text: str | None
    new_text: str
    unified: str


@dataclass(frozen=True)
class Location:
    """A place the tool touched, so an editor can follow along."""

    path: Path
    line: int | None = None
