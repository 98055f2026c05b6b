"""The system prompt's sections: project context files (AGENTS.md, CLAUDE.md, the user's
AGENTS.md), the memory notes, and the composition (byte-stable when nothing changed)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.agent import context_files, memory_notes
from hermes_mcp.agent.context_files import MAX_BYTES, read_context_files
from hermes_mcp.agent.prompts import system_prompt
from hermes_mcp.state import Database, open_database


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_project_agents_md_then_claude_md(workspace: Path, home: Path) -> None:
    assert read_context_files(workspace, home) == []
    (workspace / "CLAUDE.md").write_text("use pytest")
    [found] = read_context_files(workspace, home)
    assert (found.scope, found.name, found.text) == ("project", "CLAUDE.md", "use pytest")
    (workspace / "AGENTS.md").write_text("use uv run pytest")
    [found] = read_context_files(workspace, home)
    assert (found.name, found.text) == ("AGENTS.md", "use uv run pytest")


def test_user_file_first_and_both_in_the_prompt(workspace: Path, home: Path) -> None:
    (home / "AGENTS.md").write_text("answer in French")
    (workspace / "AGENTS.md").write_text("run make test")
    files = read_context_files(workspace, home)
    assert [f.scope for f in files] == ["user", "project"]
    prompt = system_prompt(
        workspace, ["read_file"], delegated=False, sections=[context_files.render(files)]
    )
    assert prompt.index("answer in French") < prompt.index("run make test")
    assert prompt.startswith("You are Hermes, a coding agent.")


def test_cut_at_32_kb_with_a_note_and_never_inside_a_character(workspace: Path) -> None:
    text = "é" * (MAX_BYTES // 2) + "tail"  # 2 bytes each: the cut falls after a whole one
    (workspace / "AGENTS.md").write_text("x" + text)
    [found] = read_context_files(workspace, None)
    assert found.cut and found.size == len(("x" + text).encode())
    assert len(found.text.encode()) <= MAX_BYTES and "\ufffd" not in found.text
    section = context_files.render([found])
    assert f"only the first {MAX_BYTES:,} are shown" in section
    small = workspace / "AGENTS.md"
    small.write_text("short")
    [found] = read_context_files(workspace, None)
    assert not found.cut and "only the first" not in context_files.render([found])


def test_a_change_shows_next_time_and_the_same_file_gives_the_same_bytes(
    workspace: Path, home: Path
) -> None:
    (workspace / "AGENTS.md").write_text("first version")

    def prompt() -> str:
        files = read_context_files(workspace, home)
        return system_prompt(
            workspace, ["b", "a"], delegated=False, sections=[context_files.render(files)]
        )

    first = prompt()
    assert prompt() == first
    (workspace / "AGENTS.md").write_text("second version")
    assert "second version" in prompt() and "first version" not in prompt()


def test_a_symlink_out_of_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("not yours")
    (workspace / "AGENTS.md").symlink_to(secret)
    [found] = read_context_files(workspace, None)
    assert found.refused is not None and "leads out of the workspace" in found.refused
    section = context_files.render([found])
    assert "not yours" not in section and "AGENTS.md was not read" in section


def test_a_symlink_to_a_sensitive_file_inside_is_refused(workspace: Path) -> None:
    (workspace / ".env").write_text("TOKEN=abc")
    (workspace / "AGENTS.md").symlink_to(workspace / ".env")
    [found] = read_context_files(workspace, None)
    assert found.refused is not None and "sensitive" in found.refused and found.text == ""


def test_the_state_directory_and_the_config_file_are_refused(workspace: Path) -> None:
    state = workspace / ".hermes"  # a state directory inside the workspace
    state.mkdir()
    (state / "keys").write_text("k")
    (workspace / "AGENTS.md").symlink_to(state / "keys")
    [found] = read_context_files(workspace, state)
    assert found.refused is not None and "state directory" in found.refused
    config = workspace / "hermes.toml"
    config.write_text("[policy]")
    (workspace / "AGENTS.md").unlink()
    (workspace / "AGENTS.md").symlink_to(config)
    [found] = read_context_files(workspace, None, config)
    assert found.refused is not None and "config file" in found.refused


def test_a_private_key_and_a_second_hard_link_are_refused(workspace: Path) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"
    (workspace / "AGENTS.md").write_text(key)
    [found] = read_context_files(workspace, None)
    assert found.refused == "it holds a private key"
    (workspace / "AGENTS.md").unlink()
    (workspace / "notes.txt").write_text("hello")
    os.link(workspace / "notes.txt", workspace / "AGENTS.md")
    [found] = read_context_files(workspace, None)
    assert found.refused is not None and "hard link" in found.refused


def test_the_user_file_is_never_read_through_a_symlink(home: Path, workspace: Path) -> None:
    target = home / "elsewhere.md"
    target.write_text("followed")
    (home / "AGENTS.md").symlink_to(target)
    [found] = read_context_files(workspace, home)
    assert found.scope == "user" and found.refused is not None and found.text == ""


def test_a_fifo_is_not_opened(workspace: Path) -> None:
    os.mkfifo(workspace / "AGENTS.md")
    [found] = read_context_files(workspace, None)  # returns at once: never blocks
    assert found.refused is not None


def test_key_shaped_text_is_redacted(workspace: Path) -> None:
    (workspace / "AGENTS.md").write_text("deploy with AIza" + "Q" * 35)
    [found] = read_context_files(workspace, None)
    assert "AIza" not in found.text and "[REDACTED]" in found.text


def test_the_prompt_without_sections_is_unchanged(workspace: Path) -> None:
    prompt = system_prompt(workspace, ["b", "a"], delegated=False)
    assert prompt.endswith("Tools available: a, b.")
    assert system_prompt(workspace, [], delegated=False, sections=["", ""]) == system_prompt(
        workspace, [], delegated=False
    )


# -- memory ------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "state" / "state.db")
    yield database
    database.close()


def _note(db: Database, content: str, scope: str = "global", at: float | None = None) -> None:
    now = time.time() if at is None else at
    with db.write() as conn:
        conn.execute(
            "INSERT INTO memory (scope, content, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (scope, content, now, now),
        )


def test_memory_newest_first_with_the_workspace_own(db: Database, workspace: Path) -> None:
    _note(db, "old global", at=100.0)
    _note(db, "this workspace", scope=f"workspace:{workspace}", at=200.0)
    _note(db, "another workspace", scope="workspace:/elsewhere", at=300.0)
    _note(db, "new global", at=400.0)
    snapshot = memory_notes.take_snapshot(db, workspace)
    assert [n.content for n in snapshot.notes] == ["new global", "this workspace", "old global"]
    section = memory_notes.render(snapshot)
    assert section.startswith("# Memory") and "not shown" not in section
    assert "another workspace" not in section


def test_memory_is_bounded_with_a_note(db: Database, workspace: Path) -> None:
    for i in range(memory_notes.MAX_NOTES + 7):
        _note(db, f"note {i}", at=float(i))
    snapshot = memory_notes.take_snapshot(db, workspace)
    assert len(snapshot.notes) == memory_notes.MAX_NOTES and snapshot.left_out == 7
    assert snapshot.notes[0].content == f"note {memory_notes.MAX_NOTES + 6}"
    assert "(7 older notes are not shown" in memory_notes.render(snapshot)
    big = "y" * 3000
    for i in range(5):
        _note(db, big, at=1000.0 + i)
    snapshot = memory_notes.take_snapshot(db, workspace)
    assert sum(len(n.content) for n in snapshot.notes) <= memory_notes.MAX_CHARS
    assert snapshot.left_out == snapshot.total - len(snapshot.notes) > 0


def test_no_notes_no_section(db: Database, workspace: Path) -> None:
    assert memory_notes.render(memory_notes.take_snapshot(db, workspace)) == ""
    assert memory_notes.render(memory_notes.take_snapshot(None, workspace)) == ""


def test_a_reading_is_stale_once_a_file_changes(workspace: Path, home: Path) -> None:
    """A live session reads the files again only when stat says something changed."""
    (workspace / "AGENTS.md").write_text("first")
    reading = context_files.read(workspace, home)
    assert "first" in reading.section and not reading.stale()
    (workspace / "AGENTS.md").write_text("second, longer")
    assert reading.stale()
    reading = context_files.read(workspace, home)
    assert "second" in reading.section and not reading.stale()
    (home / "AGENTS.md").write_text("mine")  # a file appearing counts too
    assert reading.stale()
    reading = context_files.read(workspace, home)
    (workspace / "other.md").write_text("elsewhere")
    (workspace / "AGENTS.md").unlink()
    (workspace / "AGENTS.md").symlink_to(workspace / "other.md")  # retargeted
    assert reading.stale()
    assert "elsewhere" in context_files.read(workspace, home).section
    assert context_files.ContextRead.UNREAD.stale()
