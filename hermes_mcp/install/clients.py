"""The clients ``hermes-mcp install`` knows: where each keeps its config, its format, and
the entry that starts us.

- ``claude-desktop``: ``$XDG_CONFIG_HOME/Claude/claude_desktop_config.json`` (macOS:
  ``~/Library/Application Support/Claude/``), JSON, ``mcpServers``; with ``--workspace``
  (default: the current directory), as it starts servers in ``/`` and offers no roots.
- ``cursor``: ``~/.cursor/mcp.json`` (or a project's ``.cursor/mcp.json``), JSON,
  ``mcpServers``; ``--workspace ${workspaceFolder}``, which Cursor expands to the project.
- ``vscode``: ``$XDG_CONFIG_HOME/Code/User/mcp.json`` (macOS: ``~/Library/Application
  Support/Code/User/``; or a project's ``.vscode/mcp.json``), JSONC, ``servers`` with
  ``type: stdio``; VS Code offers its workspace folders as roots.
- ``claude-code``: the ``claude mcp add --scope user`` line (or, with ``--config``, a
  project's ``.mcp.json``: JSON, ``mcpServers``); it starts servers in the project.
- ``zed``: ``$XDG_CONFIG_HOME/zed/settings.json`` (``~/.config/zed`` on macOS too),
  JSONC, ``agent_servers`` with ``type: custom``, over ACP: each session names its
  directory.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SERVER_NAME = "hermes"
Protocol = Literal["mcp", "acp"]
# What the entry's `--workspace` is: one the installer chooses, the client's own
# variable for the open project, or none (the client tells the server).
WorkspaceRule = Literal["fixed", "variable", "none"]
# Variables an entry passes on (where hermes keeps its config and state). Never a key:
# a config file names credentials as env:/file: references, never their values.
PASSED_ENV = ("HERMES_MCP_HOME", "HERMES_MCP_CONFIG")


@dataclass(frozen=True)
class Client:
    name: str
    title: str
    container: str  # the top-level key that holds the servers
    jsonc: bool  # the client's file allows comments and trailing commas
    protocol: Protocol
    workspace: WorkspaceRule
    entry_type: str | None = None  # a "type" member the format wants
    variable: str | None = None  # for workspace = "variable"

    def default_path(self, env: Mapping[str, str], platform: str = sys.platform) -> Path:
        home = Path(env.get("HOME") or Path.home())
        macos = platform == "darwin"
        xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
        support = home / "Library" / "Application Support"
        if self.name == "claude-desktop":
            return (support if macos else xdg) / "Claude" / "claude_desktop_config.json"
        if self.name == "cursor":
            return home / ".cursor" / "mcp.json"
        if self.name == "vscode":
            return (support if macos else xdg) / "Code" / "User" / "mcp.json"
        if self.name == "zed":
            return xdg / "zed" / "settings.json"
        if self.name == "claude-code":
            return Path.cwd() / ".mcp.json"  # only with --config; `claude mcp add` otherwise
        raise AssertionError(self.name)

    def entry(
        self, command: list[str], workspace: Path | None, env: Mapping[str, str]
    ) -> dict[str, Any]:
        """Our server's entry: the absolute command, the protocol forced (no detection
        needed), a workspace where the client needs one, and the hermes variables."""
        args = [*command[1:], "serve", "--protocol", self.protocol]
        if workspace is not None:
            args += ["--workspace", str(workspace)]
        elif self.workspace == "variable" and self.variable:
            args += ["--workspace", self.variable]
        entry: dict[str, Any] = {}
        if self.entry_type:
            entry["type"] = self.entry_type
        entry["command"] = command[0]
        entry["args"] = args
        passed = {k: str(Path(env[k]).expanduser().absolute()) for k in PASSED_ENV if env.get(k)}
        if passed or self.name == "zed":
            entry["env"] = passed
        return entry


CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client("claude-desktop", "Claude Desktop", "mcpServers", False, "mcp", "fixed"),
        Client(
            "cursor", "Cursor", "mcpServers", False, "mcp", "variable",
            variable="${workspaceFolder}",
        ),
        Client("vscode", "VS Code", "servers", True, "mcp", "none", entry_type="stdio"),
        Client("claude-code", "Claude Code", "mcpServers", False, "mcp", "none", "stdio"),
        Client("zed", "Zed", "agent_servers", True, "acp", "none", entry_type="custom"),
    )
}  # fmt: skip


def our_command(env: Mapping[str, str] | None = None) -> list[str]:
    """How a client should start us, absolute: the ``hermes-mcp`` on PATH, else the one
    beside this interpreter, else this interpreter running the module."""
    env = os.environ if env is None else env
    found = shutil.which("hermes-mcp", path=env.get("PATH"))
    if found:
        return [os.path.abspath(found)]
    beside = Path(sys.executable).parent / "hermes-mcp"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "hermes_mcp.cli"]
