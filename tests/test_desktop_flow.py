"""The README's desktop path end to end (issue 24, blocker 1): ``hermes-mcp setup`` with a
key variable set, ``hermes-mcp install claude-desktop`` into a fresh HOME, then the exact
command from Claude Desktop's file, started as Claude Desktop starts it (only ``HOME``
and ``PATH``), answers ``agent_run`` through the loopback fake. The key is in no client
config file, in no config file of ours, and in no log line; ``install`` says what to do
when the desktop server could not find a key."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from hermes_mcp.testing import FakeProvider, reply
from hermes_mcp.zero_config import KEY_VARIABLES
from tests.keys import KEY_A, seen
from tests.routing import HERMES

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@dataclass
class Desk:
    """A fresh HOME and the terminal environment a new user has: a key variable set, the
    provider pointed at the fake, this checkout's hermes-mcp first on PATH."""

    home: Path
    env: dict[str, str]

    async def hermes(self, *args: str) -> tuple[int, str, str]:
        with anyio.fail_after(30):
            done = await anyio.run_process([HERMES, *args], env=self.env, check=False)
        out, err = seen(done.stdout.decode()), seen(done.stderr.decode())
        return done.returncode, out, err

    @property
    def claude_config(self) -> Path:
        return self.home / ".config" / "Claude" / "claude_desktop_config.json"


def desk(tmp_path: Path, fake: FakeProvider) -> Desk:
    home = tmp_path / "home"
    home.mkdir()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HERMES_", "XDG_")) and k not in KEY_VARIABLES
    }
    env = {
        **inherited,
        "HOME": str(home),
        "PATH": f"{Path(HERMES).parent}{os.pathsep}{os.environ['PATH']}",
        "OPENAI_API_KEY": KEY_A,
        "HERMES_MCP_OPENAI_BASE_URL": fake.openai_base_url,
    }
    return Desk(home, env)


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


async def test_setup_install_then_the_desktop_command_answers_agent_run(
    tmp_path: Path, fake: FakeProvider
) -> None:
    fake.script(KEY_A, reply("done from the fake"))
    user = desk(tmp_path, fake)
    workspace = tmp_path / "project"
    workspace.mkdir()

    code, _, err = await user.hermes("setup")
    assert code == 0, err
    ours = user.home / ".hermes-mcp"
    key_file = ours / "keys" / "OPENAI_API_KEY"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert key_file.read_text().strip() == KEY_A
    config = (ours / "config.toml").read_text()
    assert KEY_A not in config and f'"file:{key_file}"' in config

    code, _, err = await user.hermes("install", "claude-desktop", "--workspace", str(workspace))
    assert code == 0, err
    assert "warning" not in err  # every credential resolves where Claude Desktop starts us
    written = user.claude_config.read_text()
    assert KEY_A not in written
    entry = json.loads(written)["mcpServers"]["hermes"]
    assert "env" not in entry  # nothing to pass: HOME finds ~/.hermes-mcp

    # Claude Desktop's start: the entry's command and args, and only HOME and PATH.
    bare = [f"HOME={user.home}", "PATH=/usr/bin:/bin"]
    bare += [f"{k}={v}" for k, v in entry.get("env", {}).items()]
    params = StdioServerParameters(
        command="/usr/bin/env", args=["-i", *bare, entry["command"], *entry["args"]]
    )
    errlog = tmp_path / "server-stderr.log"
    with errlog.open("w") as log:
        async with Client(stdio_client(params, errlog=log), mode="legacy") as client:
            with anyio.fail_after(60):
                listed = await client.list_tools()
                assert "agent_run" in [t.name for t in listed.tools]
                result = await client.call_tool("agent_run", {"prompt": "say done"})
    assert not result.is_error, text_of(result)
    assert "done from the fake" in text_of(result)
    assert fake.count(key=KEY_A) == 1

    logs = seen(errlog.read_text())
    assert KEY_A not in logs and KEY_A not in json.dumps(result.model_dump(mode="json"))
    for path in (user.claude_config, ours / "config.toml"):
        assert KEY_A not in path.read_text()


async def test_install_says_what_to_do_when_the_desktop_server_finds_no_key(
    tmp_path: Path, fake: FakeProvider
) -> None:
    user = desk(tmp_path, fake)
    workspace = tmp_path / "project"
    workspace.mkdir()

    # No config file: the terminal works from OPENAI_API_KEY; Claude Desktop's server won't.
    code, _, err = await user.hermes("install", "claude-desktop", "--workspace", str(workspace))
    assert code == 0, err
    assert "there is no config file" in err and "OPENAI_API_KEY" in err
    assert "hermes-mcp setup" in err
    assert KEY_A not in err

    # A config naming the variable (setup --env-refs): named, with the file: way out.
    code, _, err = await user.hermes("setup", "--env-refs")
    assert code == 0, err
    code, _, err = await user.hermes("install", "claude-desktop", "--workspace", str(workspace))
    assert code == 0, err
    assert "providers.openai.credentials[0]: environment variable OPENAI_API_KEY is not set" in err
    assert "file:PATH" in err
    assert not (user.home / ".hermes-mcp" / "keys").exists()
