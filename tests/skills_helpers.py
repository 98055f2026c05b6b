"""Writing skill folders for the skills tests."""

from __future__ import annotations

from pathlib import Path


def write_skill(
    root: Path, name: str, description: str = "", body: str = "Do it.", *, front: str = ""
) -> Path:
    """``root/name/SKILL.md`` with a name and description (or ``front`` as given)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    header = front or f"name: {name}\ndescription: {description or f'The {name} skill.'}\n"
    (folder / "SKILL.md").write_text(f"---\n{header}---\n\n{body}\n")
    return folder
