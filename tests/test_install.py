"""``hermes-mcp install`` / ``uninstall`` (the entry point, tests/routing.py) on real files (issue 18's
Must show): no file, an empty object, other servers and unrelated keys kept, an invalid
file refused and untouched, twice is once; the same for Zed's JSONC settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hermes_mcp.install.jsonc import parse
from hermes_mcp.install.merge import BACKUP_SUFFIX
from tests.routing import HERMES, Home, Ran, hermes

pytestmark = pytest.mark.anyio

ZED_SETTINGS = """\
// Zed settings
{
  "theme": "One Dark", // the dark one
  /* agents */
  "agent_servers": {
    "other": {"type": "custom", "command": "/usr/bin/other"},
  },
  "vim_mode": true,
}
"""


def real(path: Path) -> str:
    return os.path.realpath(path)


def home(tmp_path: Path) -> Home:
    """A home whose PATH finds this checkout's ``hermes-mcp`` first."""
    found = Home(tmp_path)
    found.env["PATH"] = f"{Path(HERMES).parent}{os.pathsep}{os.environ['PATH']}"
    return found


async def install(tmp_path: Path, client: str, config: Path, *extra: str) -> Ran:
    workspace = ["--workspace", str(tmp_path)] if client == "claude-desktop" else []
    return await hermes(
        home(tmp_path), "install", client, "--config", str(config), *workspace, *extra
    )


def servers(path: Path, key: str = "mcpServers", *, jsonc: bool = False) -> dict[str, object]:
    data = parse(path.read_text(), jsonc=jsonc).to_python()
    assert isinstance(data, dict)
    found = data[key]
    assert isinstance(found, dict)
    return found


async def test_no_file_is_created_with_our_entry_only(tmp_path: Path) -> None:
    config = tmp_path / "Claude" / "claude_desktop_config.json"
    ran = await install(tmp_path, "claude-desktop", config)
    assert ran.code == 0, ran.stderr
    assert json.loads(config.read_text()) == {
        "mcpServers": {
            "hermes": {
                "command": HERMES,
                "args": ["serve", "--protocol", "mcp", "--workspace", real(tmp_path)],
                "env": {"HERMES_MCP_HOME": str(tmp_path)},
            }
        }
    }
    assert not config.with_name(config.name + BACKUP_SUFFIX).exists()  # nothing to back up
    assert Path(HERMES).is_absolute()


async def test_empty_object_gets_our_entry(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text("{}")
    ran = await install(tmp_path, "claude-desktop", config)
    assert ran.code == 0, ran.stderr
    assert list(servers(config)) == ["hermes"]
    assert config.with_name("c.json" + BACKUP_SUFFIX).read_text() == "{}"


async def test_other_servers_and_unrelated_keys_are_kept_byte_for_byte(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    before = (
        '{\n    "globalShortcut": "Ctrl+Space",\n    "mcpServers": {\n'
        '        "files": {"command": "npx", "args": ["-y", "@x/files"]},\n'
        '        "git": {\n            "command": "uvx",\n            "args": ["mcp-git"]\n        }\n'
        '    },\n    "preferences": {"menuBarEnabled": false}\n}\n'
    )
    config.write_text(before)
    ran = await install(tmp_path, "claude-desktop", config)
    assert ran.code == 0, ran.stderr
    after = config.read_text()
    assert after == before.replace(
        '            "args": ["mcp-git"]\n        }\n',
        '            "args": ["mcp-git"]\n        },\n'
        '        "hermes": {\n'
        f'            "command": "{HERMES}",\n'
        f'            "args": ["serve", "--protocol", "mcp", "--workspace", "{real(tmp_path)}"],\n'
        '            "env": {\n'
        f'                "HERMES_MCP_HOME": "{tmp_path}"\n'
        "            }\n"
        "        }\n",
    )
    data = json.loads(after)
    assert data["globalShortcut"] == "Ctrl+Space"
    assert data["preferences"] == {"menuBarEnabled": False}
    assert list(data["mcpServers"]) == ["files", "git", "hermes"]
    assert config.with_name("c.json" + BACKUP_SUFFIX).read_text() == before

    again = await hermes(home(tmp_path), "uninstall", "claude-desktop", "--config", str(config))
    assert again.code == 0, again.stderr
    assert config.read_text() == before  # uninstall undoes install exactly


async def test_invalid_file_is_refused_and_untouched(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    for text in ('{"mcpServers": {', '{"a": 1,}', "// note\n{}", "[]", '{"mcpServers": []}'):
        config.write_text(text)
        ran = await install(tmp_path, "claude-desktop", config)
        assert ran.code == 2, (text, ran.stdout, ran.stderr)
        assert "left untouched" in ran.stderr and str(config) in ran.stderr
        assert ran.stdout == ""
        assert config.read_text() == text
        assert not config.with_name("c.json" + BACKUP_SUFFIX).exists()


async def test_twice_is_one_entry_and_a_moved_command_is_updated(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"mcpServers": {"other": {"command": "x"}}}')
    assert (await install(tmp_path, "claude-desktop", config)).code == 0
    first = config.read_text()
    second = await install(tmp_path, "claude-desktop", config)
    assert second.code == 0 and "nothing to do" in second.stdout
    assert config.read_text() == first
    assert list(servers(config)) == ["other", "hermes"]
    assert first.count('"hermes"') == 1

    other = tmp_path / "bin" / "hermes-mcp"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    moved = await install(tmp_path, "claude-desktop", config, "--command", str(other))
    assert moved.code == 0 and "updated hermes" in moved.stdout
    assert servers(config)["hermes"]["command"] == str(other)  # type: ignore[index]
    assert config.read_text().count('"hermes"') == 1


async def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{\n  "mcpServers": {}\n}\n')
    ran = await install(tmp_path, "claude-desktop", config, "--dry-run")
    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith(f"--- {config}\n+++ {config}\n")
    assert f'+      "command": "{HERMES}",' in ran.stdout
    assert config.read_text() == '{\n  "mcpServers": {}\n}\n'
    assert not config.with_name("c.json" + BACKUP_SUFFIX).exists()


async def test_a_symlinked_config_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "mcp.json"
    real.parent.mkdir()
    real.write_text('{"mcpServers": {}}')
    link = tmp_path / "mcp.json"
    link.symlink_to(real)
    ran = await install(tmp_path, "cursor", link)
    assert ran.code == 0, ran.stderr
    assert link.is_symlink()
    entry = servers(real)["hermes"]
    assert entry == {
        "command": HERMES,
        "args": ["serve", "--protocol", "mcp", "--workspace", "${workspaceFolder}"],
        "env": {"HERMES_MCP_HOME": str(tmp_path)},
    }


async def test_vscode_entry_keeps_comments(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text('{\n  // my servers\n  "servers": {},\n  "inputs": []\n}\n')
    ran = await install(tmp_path, "vscode", config)
    assert ran.code == 0, ran.stderr
    text = config.read_text()
    assert "// my servers" in text
    assert servers(config, "servers", jsonc=True)["hermes"] == {
        "type": "stdio",
        "command": HERMES,
        "args": ["serve", "--protocol", "mcp"],
        "env": {"HERMES_MCP_HOME": str(tmp_path)},
    }


# --- Zed: settings.json is JSONC; comments and trailing commas are kept ---------------


async def test_zed_no_file_and_empty_object(tmp_path: Path) -> None:
    config = tmp_path / "zed" / "settings.json"
    assert (await install(tmp_path, "zed", config)).code == 0
    assert servers(config, "agent_servers", jsonc=True) == {
        "hermes": {
            "type": "custom",
            "command": HERMES,
            "args": ["serve", "--protocol", "acp"],
            "env": {"HERMES_MCP_HOME": str(tmp_path)},
        }
    }
    config.write_text("{}\n")
    assert (await install(tmp_path, "zed", config)).code == 0
    assert list(servers(config, "agent_servers", jsonc=True)) == ["hermes"]


async def test_zed_keeps_comments_trailing_commas_and_other_agents(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text(ZED_SETTINGS)
    ran = await install(tmp_path, "zed", config)
    assert ran.code == 0, ran.stderr
    after = config.read_text()
    for line in ZED_SETTINGS.splitlines():
        assert line in after.splitlines()  # every line kept, comments included
    data = parse(after, jsonc=True).to_python()
    assert data["theme"] == "One Dark" and data["vim_mode"] is True
    assert list(data["agent_servers"]) == ["other", "hermes"]
    assert '"env": {"HERMES_MCP_HOME"' in after or '"env": {\n' in after
    assert (await install(tmp_path, "zed", config)).stdout.count("nothing to do") == 1
    assert config.read_text() == after  # twice is once

    removed = await hermes(home(tmp_path), "uninstall", "zed", "--config", str(config))
    assert removed.code == 0, removed.stderr
    assert config.read_text() == ZED_SETTINGS


async def test_zed_invalid_settings_are_refused_and_untouched(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    for text in ('{\n  "theme": "One Dark"\n  "vim_mode": true\n}', "{ /* open", '{"a": 1} x'):
        config.write_text(text)
        ran = await install(tmp_path, "zed", config)
        assert ran.code == 2 and "not JSON with comments" in ran.stderr, ran.stderr
        assert config.read_text() == text


async def test_zed_takes_no_workspace(tmp_path: Path) -> None:
    ran = await install(tmp_path, "zed", tmp_path / "s.json", "--workspace", str(tmp_path))
    assert ran.code == 2 and "no --workspace" in ran.stderr


# --- uninstall, claude-code --------------------------------------------------------------


async def test_uninstall_removes_only_ours(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(
        '{"mcpServers": {"a": {"command": "a"}, "hermes": {"command": "old"}, "b": {"command": "b"}}, "x": 1}'
    )
    ran = await hermes(home(tmp_path), "uninstall", "claude-desktop", "--config", str(config))
    assert ran.code == 0, ran.stderr
    assert json.loads(config.read_text()) == {
        "mcpServers": {"a": {"command": "a"}, "b": {"command": "b"}},
        "x": 1,
    }
    again = await hermes(home(tmp_path), "uninstall", "claude-desktop", "--config", str(config))
    assert again.code == 0 and "not in" in again.stdout
    missing = await hermes(
        home(tmp_path), "uninstall", "cursor", "--config", str(tmp_path / "none.json")
    )
    assert missing.code == 0 and not (tmp_path / "none.json").exists()


async def test_claude_code_prints_the_line(tmp_path: Path) -> None:
    ran = await hermes(home(tmp_path), "install", "claude-code")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == (
        f"claude mcp add --scope user --env=HERMES_MCP_HOME={tmp_path} hermes -- "
        f"{HERMES} serve --protocol mcp\n"
    )
    gone = await hermes(home(tmp_path), "uninstall", "claude-code")
    assert gone.stdout == "claude mcp remove --scope user hermes\n"


async def test_claude_code_run_executes_claude(tmp_path: Path) -> None:
    """`--run` runs the line with the `claude` on PATH (here a script that records it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv"
    claude = bindir / "claude"
    claude.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    claude.chmod(0o755)
    runner = home(tmp_path)
    runner.env["PATH"] = f"{bindir}{os.pathsep}{runner.env['PATH']}"
    ran = await hermes(runner, "install", "claude-code", "--run")
    assert ran.code == 0, ran.stderr
    assert record.read_text().splitlines() == [
        "mcp", "add", "--scope", "user", f"--env=HERMES_MCP_HOME={tmp_path}", "hermes", "--",
        HERMES, "serve", "--protocol", "mcp",
    ]  # fmt: skip
