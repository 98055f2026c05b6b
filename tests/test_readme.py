"""The README stands on its own (a clone has no ../shared): no link outside the
repository, its `[agent]`, `[skills]`, `[delegation]` and `[policy]` block states the
real defaults, and each client snippet is exactly what `hermes-mcp install CLIENT` writes."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from pathlib import Path

from hermes_mcp.config import AgentSection, DelegationSection, PolicySection, SkillsSection
from hermes_mcp.install.clients import CLIENTS
from hermes_mcp.install.command import _claude_line

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
    assert documented["skills"] == SkillsSection().model_dump()


# -- each client snippet is what `hermes-mcp install CLIENT` writes (issue 24, item 10) --


def _snippets() -> dict[str, dict[str, object]]:
    """Each JSON snippet's ``hermes`` entry, by the install client it is for (told apart
    by its container, and for Cursor by its ``${workspaceFolder}``)."""
    found: dict[str, dict[str, object]] = {}
    for block in re.findall(r"```json\n(.*?)```", README.read_text(), re.S):
        try:
            data = json.loads(block)
        except ValueError:
            continue  # JSON lines (logs, events): not a client's file
        if not isinstance(data, dict):
            continue
        for container, entries in data.items():
            if not isinstance(entries, dict):
                continue
            entry = entries.get("hermes")
            if not isinstance(entry, dict) or "serve" not in entry.get("args", []):
                continue  # JetBrains' entry starts hermes-acp: no install client writes it
            client = {"servers": "vscode", "agent_servers": "zed"}.get(container)
            if container == "mcpServers":
                variable = "${workspaceFolder}" in entry["args"]
                client = "cursor" if variable else "claude-desktop"
            assert client is not None and client not in found, (container, entry)
            found[client] = entry
    return found


def test_each_client_snippet_is_what_install_writes() -> None:
    snippets = _snippets()
    assert set(snippets) == {"claude-desktop", "cursor", "vscode", "zed"}
    for name, shown in snippets.items():
        client = CLIENTS[name]
        args = shown["args"]
        assert isinstance(args, list) and isinstance(shown["command"], str)
        workspace = None
        if client.workspace == "fixed":
            workspace = Path(args[args.index("--workspace") + 1])
        written = client.entry([shown["command"]], workspace, env={})
        assert shown == written, name


def test_the_claude_code_line_is_what_install_prints() -> None:
    (line,) = [m for m in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
               if m.startswith("claude mcp add")]  # fmt: skip
    args = argparse.Namespace(command="install", name="hermes", workspace=None)
    args.server_command = None
    words = shlex.split(line)
    written = _claude_line(args, CLIENTS["claude-code"], {})
    command = written.index("--") + 1
    written[command] = words[command]  # the README shows an example path
    assert words == written
