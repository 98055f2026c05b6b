"""Skills on disk: the format, discovery from the four roots (bad skills reported and
skipped), precedence, and reading a skill confined to its folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.skills_helpers import write_skill
from tools import ToolError
from tools.skills import SkillFormatError, discover, parse, skill_roots
from tools.skills.files import body, listing, read_text, relative_parts
from tools.skills.format import Front, render


def test_the_front_matter_is_checked_field_by_field() -> None:
    front, text = parse(
        "---\nname: pdf-tools\ndescription: >-\n  Fill PDF forms.\n  Use for PDFs.\n"
        "license: MIT\ncompatibility: needs poppler\nmetadata:\n  version: 1.0\n"
        "allowed-tools: Bash(git:*) Read\nargument-hint: FILE\nextra: kept out\n---\n\n# Steps\n",
        "pdf-tools",
    )
    assert front == Front(
        name="pdf-tools",
        description="Fill PDF forms. Use for PDFs.",
        license="MIT",
        compatibility="needs poppler",
        metadata={"version": "1.0"},
        allowed_tools=("Bash(git:*)", "Read"),
        argument_hint="FILE",
    )
    assert text == "# Steps"
    assert parse(render(front, "# Steps"), "pdf-tools") == (front, "# Steps")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter", "must start with a '---' line"),
        ("---\nname: a\n", "not closed"),
        ("---\n- a\n---\n", "must be a YAML mapping"),
        ("---\nname: [a\n---\n", "not valid YAML (line 3)"),
        ("---\ndescription: x\n---\n", "name is missing"),
        ("---\nname: Bad_Name\ndescription: x\n---\n", "lowercase letters, digits and hyphens"),
        ("---\nname: -a\ndescription: x\n---\n", "no leading, trailing or doubled"),
        ("---\nname: a--b\ndescription: x\n---\n", "no leading, trailing or doubled"),
        ("---\nname: " + "a" * 65 + "\ndescription: x\n---\n", "at most 64"),
        ("---\nname: other\ndescription: x\n---\n", "differs from its folder's name 'a'"),
        ("---\nname: a\n---\n", "description is missing"),
        ("---\nname: a\ndescription: ''\n---\n", "description is empty"),
        ("---\nname: a\ndescription: " + "d" * 1025 + "\n---\n", "at most 1024"),
        ("---\nname: a\ndescription: x\ncompatibility: " + "c" * 501 + "\n---\n", "at most 500"),
        ("---\nname: a\ndescription: x\nmetadata: [1]\n---\n", "metadata must be a map"),
        ("---\nname: a\ndescription: x\nmetadata: {k: {n: 1}}\n---\n", "metadata must be a map"),
        ("---\nname: a\ndescription: x\nallowed-tools: {a: 1}\n---\n", "allowed-tools must"),
        ("---\nname: a\ndescription: !!python/object:os.system x\n---\n", "must be a string"),
        ("---\nname: a\ndescription: yes\n---\n", "description must be a string, not bool"),
    ],
)
def test_a_bad_skill_file_is_named_precisely(text: str, problem: str) -> None:
    with pytest.raises(SkillFormatError, match=None) as caught:
        parse(text, "a")
    assert problem in str(caught.value)


def test_an_alias_bomb_does_not_get_past_the_field_checks() -> None:
    lines = ["name: a", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 30)]
    bomb = "---\n" + "\n".join([*lines, "description: *a29"]) + "\n---\n"
    with pytest.raises(SkillFormatError, match="description must be a string"):
        parse(bomb, "a")


@pytest.fixture
def four_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A home, a user home and a workspace with skills in all four roots, bad ones too."""
    home, user, ws = tmp_path / "hermes", tmp_path / "user", tmp_path / "ws"
    monkeypatch.setenv("HOME", str(user))
    write_skill(home / "skills", "deploy", "Deploy the user's way.")
    write_skill(home / "skills", "Bad_Folder")
    write_skill(home / "skills", "wrong", front="name: right\ndescription: x\n")
    write_skill(user / ".claude" / "skills", "review", "Review code (Claude Code's).")
    write_skill(user / ".claude" / "skills", "nodesc", front="name: nodesc\n")
    write_skill(ws / ".agents" / "skills", "deploy", "Deploy the project's way.")
    write_skill(ws / ".agents" / "skills", "release", "Cut a release.")
    write_skill(ws / ".claude" / "skills", "lint", "Lint the project.")
    (ws / ".claude" / "skills" / "empty").mkdir()
    (ws / ".claude" / "skills" / "README.md").write_text("not a skill\n")
    outside = write_skill(tmp_path / "elsewhere", "linked", "Reached through a link.")
    (ws / ".agents" / "skills" / "linked").symlink_to(outside)
    sneaky = write_skill(ws / ".agents" / "skills", "sneaky", "x")
    (sneaky / "SKILL.md").unlink()
    (sneaky / "SKILL.md").symlink_to(outside / "SKILL.md")
    return home, ws


def test_discovery_reads_the_four_roots_and_skips_bad_skills(four_roots: tuple[Path, Path]) -> None:
    home, ws = four_roots
    roots = skill_roots(home, [ws])
    assert [r.label for r in roots] == ["hermes", "claude", "agents (project)", "claude (project)"]
    found = discover(roots)
    assert found.names == ("deploy", "lint", "release", "review")
    deploy = found.get("deploy")
    assert deploy is not None and deploy.description == "Deploy the user's way."
    assert deploy.root.scope == "user" and deploy.root.writable
    assert [s.description for s in found.shadowed] == ["Deploy the project's way."]
    problems = {
        p.path.name if p.path.name != "SKILL.md" else p.path.parent.name: p.message
        for p in found.problems
    }
    assert set(problems) == {"Bad_Folder", "wrong", "nodesc", "empty", "linked", "sneaky"}
    assert "lowercase" in problems["Bad_Folder"]
    assert "differs from its folder's name" in problems["wrong"]
    assert problems["nodesc"] == "description is missing"
    assert problems["empty"] == "no SKILL.md"
    assert "symlink" in problems["linked"] and "symbolic link" in problems["sneaky"]


def test_a_missing_root_is_no_problem(tmp_path: Path) -> None:
    found = discover(skill_roots(tmp_path / "none", [tmp_path / "ws"], user_home=tmp_path))
    assert found.skills == () and found.problems == ()


def test_a_changed_skill_is_read_again(tmp_path: Path) -> None:
    roots = skill_roots(tmp_path / "h", [], user_home=tmp_path)
    write_skill(tmp_path / "h" / "skills", "one", "First.")
    assert discover(roots).skills[0].description == "First."
    write_skill(tmp_path / "h" / "skills", "one", "Second, longer.")
    assert discover(roots).skills[0].description == "Second, longer."


def test_reading_a_skill_stays_inside_its_folder(tmp_path: Path) -> None:
    folder = write_skill(tmp_path / "h" / "skills", "guide", "A guide.", "Step 1.\nStep 2.")
    (folder / "references").mkdir()
    (folder / "references" / "api.md").write_text("the API\n")
    (folder / "references" / "escape.md").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("outside\n")
    (folder / "refs").symlink_to(tmp_path)
    (folder / ".env").write_text("KEY=1\n")
    (folder / "id_rsa").write_text("key\n")
    os.link(tmp_path / "secret.txt", folder / "hard.txt")
    skill = discover(skill_roots(tmp_path / "h", [], user_home=tmp_path)).get("guide")
    assert skill is not None
    assert body(skill) == "Step 1.\nStep 2."
    assert listing(skill) == ["hard.txt", "id_rsa", "references/api.md"]
    assert read_text(skill, relative_parts("references/api.md")) == "the API\n"
    for raw in ("../../secret.txt", "/etc/passwd", "references/../../x", ".env", ""):
        with pytest.raises(ToolError, match=r"skill's folder|invalid path"):
            relative_parts(raw)
    for raw, why in (
        ("references/escape.md", "symbolic link"),
        ("refs/secret.txt", "symlinks are not followed"),
        ("id_rsa", "sensitive file name"),
        ("hard.txt", "hard link"),
        ("missing.md", "has no file"),
    ):
        with pytest.raises(ToolError, match=why):
            read_text(skill, relative_parts(raw))


def test_a_root_that_cannot_be_read_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "skills").write_text("a file where the root should be\n")
    write_skill(tmp_path / "ws" / ".agents" / "skills", "kept", "Still found.")
    found = discover(skill_roots(tmp_path / "h", [tmp_path / "ws"], user_home=tmp_path))
    assert found.names == ("kept",)


def test_a_key_in_a_skill_never_leaves_in_its_instructions(tmp_path: Path) -> None:
    from tests.keys import KEY_A
    from tools.skills.files import invocation

    write_skill(tmp_path / "h" / "skills", "deploy", "Deploy.", f"export TOKEN={KEY_A}")
    skill = discover(skill_roots(tmp_path / "h", [], user_home=tmp_path)).get("deploy")
    assert skill is not None
    text = invocation(skill, body(skill), [])
    assert KEY_A not in text and "export TOKEN=" in text


def test_symlinked_skill_folders_are_followed_where_they_cannot_escape(tmp_path: Path) -> None:
    """As skill installers lay them out: one folder, linked into each agent's root."""
    user, ws = tmp_path / "user", tmp_path / "ws"
    store = write_skill(tmp_path / "store", "pdf", "Fill PDF forms.", "Use pdftk.")
    (store / "forms.md").write_text("the forms\n")
    (user / ".claude" / "skills").mkdir(parents=True)
    (user / ".claude" / "skills" / "pdf").symlink_to(store)
    shared = write_skill(ws / ".agents" / "skills", "lint", "Lint it.")
    (ws / ".claude" / "skills").mkdir(parents=True)
    (ws / ".claude" / "skills" / "lint").symlink_to(shared)  # inside the workspace
    (ws / ".claude" / "skills" / "away").symlink_to(store)  # out of it
    (ws / ".claude" / "skills" / "file").symlink_to(shared / "SKILL.md")
    found = discover(skill_roots(None, [ws], user_home=user))
    assert found.names == ("lint", "pdf") and found.shadowed == ()  # the same lint, once
    pdf = found.get("pdf")
    assert pdf is not None and pdf.folder == store.resolve()
    assert body(pdf) == "Use pdftk." and listing(pdf) == ["forms.md"]
    assert read_text(pdf, relative_parts("forms.md")) == "the forms\n"
    problems = {p.path.name: p.message for p in found.problems}
    assert "out of the workspace" in problems["away"]
    assert "not a folder" in problems["file"]
