"""The README stands on its own (a clone has no ../shared): no link outside the
repository, and its `[agent]`, `[delegation]` and `[policy]` block states the real
defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from hermes_mcp.config import AgentSection, DelegationSection, PolicySection

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_sends_nobody_outside_the_repository() -> None:
    assert "../shared" not in README.read_text()


def test_the_agent_sections_are_documented_with_their_defaults() -> None:
    text = README.read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    documented = next(tomllib.loads(b) for b in blocks if "[delegation]" in b)
    # A key whose default is "not set" (None) cannot be written in TOML: it is shown
    # commented out.
    agent = {k: v for k, v in AgentSection().model_dump().items() if v is not None}
    assert documented["agent"] == agent
    assert "# compaction_model" in text
    assert documented["delegation"] == DelegationSection().model_dump()
    assert documented["policy"] == PolicySection().model_dump()
