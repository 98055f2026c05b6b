"""The README stands on its own (a clone has no ../shared): no link outside the
repository, and its `[agent]`, `[skills]`, `[delegation]` and `[policy]` block states the real
defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from hermes_mcp.config import AgentSection, DelegationSection, PolicySection, SkillsSection

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_sends_nobody_outside_the_repository() -> None:
    assert "../shared" not in README.read_text()


def test_the_agent_sections_are_documented_with_their_defaults() -> None:
    text = README.read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    documented = next(tomllib.loads(b) for b in blocks if "[delegation]" in b)
    assert documented["agent"] == AgentSection().model_dump()
    assert documented["delegation"] == DelegationSection().model_dump()
    assert documented["policy"] == PolicySection().model_dump()
    assert documented["skills"] == SkillsSection().model_dump()
