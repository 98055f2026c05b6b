"""Helpers for the MCP client's tests: ``[mcp_servers]`` sections for the servers of
``tests/mcp_servers.py``, a runtime with the MCP client installed, and PID checks."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hermes_mcp.mcp_client import McpClient, install
from hermes_mcp.runtime import Runtime, open_runtime
from hermes_mcp.testing import FakeProvider
from tests.keys import KEY_A
from tests.routing import Home

SERVERS = str(Path(__file__).with_name("mcp_servers.py"))


def server(name: str, kind: str, pid_file: Path, **extra: Any) -> str:
    """A ``[mcp_servers.NAME]`` section running ``tests/mcp_servers.py KIND``."""
    env = {"HERMES_TEST_PID_FILE": str(pid_file), **extra.pop("env", {})}
    lines = [
        f"[mcp_servers.{name}]",
        f"command = {json.dumps(sys.executable)}",
        f"args = {json.dumps([SERVERS, kind])}",
        "env = {" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items()) + "}",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def configure(
    home: Home, fake: FakeProvider, *sections: str, mode: str = "auto", policy: str = ""
) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    config = home.path / "config.toml"
    text = config.read_text() + f'[policy]\nmode = "{mode}"\n{policy}\n'
    config.write_text(text + "".join(sections))


@asynccontextmanager
async def mcp_runtime(home: Home) -> AsyncIterator[tuple[Runtime, McpClient]]:
    async with open_runtime(home.settings()) as runtime:
        yield runtime, install(runtime)


def pids(pid_file: Path) -> list[int]:
    if not pid_file.exists():
        return []
    return [int(line) for line in pid_file.read_text().split()]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def assert_gone(pid_file: Path, expected: int) -> None:
    """``expected`` server processes were started, and none of them runs any more."""
    started = pids(pid_file)
    assert len(started) == expected, started
    assert [p for p in started if alive(p)] == []
