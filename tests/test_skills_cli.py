"""``hermes-mcp skills list|show NAME [--json]``, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_mcp.cli import main
from tests.skills_helpers import write_skill


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home, ws = tmp_path / "home", tmp_path / "ws"
    monkeypatch.setenv("HERMES_MCP_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    write_skill(home / "skills", "release", "Cut a release.", "1. Tag.")
    (home / "skills" / "release" / "steps.md").write_text("more\n")
    write_skill(ws / ".agents" / "skills", "release", "The project's release.")
    write_skill(ws / ".agents" / "skills", "lint", "Lint it.")
    write_skill(ws / ".claude" / "skills", "broken", front="name: broken\n")
    return ws


def test_list_text_and_json(roots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skills", "--workspace", str(roots)]) == 0
    text = capsys.readouterr().out
    assert "lint     [agents (project)]  Lint it." in text
    assert "release  [hermes]  Cut a release." in text
    assert "skipped " in text and "description is missing" in text
    assert "shadowed " in text
    assert main(["skills", "list", "--json", "--workspace", str(roots)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["skills"]] == ["lint", "release"]
    assert data["skills"][1]["scope"] == "user"
    assert [s["description"] for s in data["shadowed"]] == ["The project's release."]
    assert data["problems"][0]["message"] == "description is missing"


def test_show_and_an_unknown_name(roots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skills", "show", "release", "--workspace", str(roots)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("release: Cut a release.\npath: ") and text.rstrip().endswith("1. Tag.")
    assert "files: steps.md" in text
    assert main(["skills", "show", "release", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["body"], data["files"]) == ("1. Tag.", ["steps.md"])
    assert data["skill"]["root"] == "hermes"
    assert main(["skills", "show", "nope", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error == {"class": "usage", "message": "no skill 'nope'; skills: release"}


def test_doctor_names_each_skipped_and_shadowed_skill(
    roots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hermes_mcp.config import load_settings
    from hermes_mcp.doctor import _skill_checks

    monkeypatch.chdir(roots)
    checks = _skill_checks(load_settings(required=False))
    assert [(c.name, c.ok) for c in checks] == [("skills", True), ("skill", False), ("skill", True)]
    assert checks[0].detail == "2 found: lint, release"
    assert "broken" in checks[1].detail and "description is missing" in checks[1].detail
    assert checks[2].detail.startswith("warning: ") and "shadowed" in checks[2].detail
