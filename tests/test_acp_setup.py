"""``hermes-acp --setup``: asks which provider and key variable, writes a starter config
that the runtime loads, never overwrites one."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hermes_mcp.config import load_settings
from tests.acp_client import HERMES_ACP
from tests.agent_helpers import new_home


async def setup(env: dict[str, str], answers: str) -> tuple[int, str]:
    with anyio.fail_after(30):
        ran = await anyio.run_process(
            [HERMES_ACP, "--setup"], input=answers.encode(), env=env, check=False
        )
    return ran.returncode, ran.stdout.decode()


@pytest.mark.anyio
async def test_setup_writes_a_starter_config_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = new_home(tmp_path)
    env = home.process_env
    code, out = await setup(env, "2\nMY_OPENAI_KEY\n")
    assert code == 0 and "wrote" in out and "MY_OPENAI_KEY is not set" in out
    config = home.path / "config.toml"
    text = config.read_text()
    assert '"env:MY_OPENAI_KEY"' in text and 'default = "openai:gpt-4o"' in text
    monkeypatch.setenv("MY_OPENAI_KEY", "not-a-real-key")
    settings = load_settings(config, env={"HERMES_MCP_HOME": str(home.path)})
    assert [str(ref) for ref in settings.chain] == ["openai:gpt-4o"]

    code, out = await setup(env, "1\n\n")
    assert code == 0 and "already exists; not overwritten" in out
    assert config.read_text() == text

    (tmp_path / "other").mkdir()
    other = new_home(tmp_path / "other")
    bad, out = await setup(other.process_env, "9\n")
    assert bad == 2 and not (other.path / "config.toml").exists()
    silent, _ = await setup(other.process_env, "")
    assert silent == 2 and not (other.path / "config.toml").exists()
