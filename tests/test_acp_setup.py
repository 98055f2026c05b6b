"""``hermes-acp --setup``: asks which provider and key variable, writes a starter config
that the runtime loads, never overwrites one."""

from __future__ import annotations

import stat
from pathlib import Path

import anyio
import pytest

from hermes_mcp.config import load_settings
from hermes_mcp.credentials import fingerprint
from tests.acp_client import HERMES_ACP
from tests.agent_helpers import new_home
from tests.keys import KEY_A


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
    # The same models as zero-config and `hermes-mcp setup` (issue 24: it offered older ones).
    assert '"env:MY_OPENAI_KEY"' in text and 'default = "openai:gpt-5.5"' in text
    monkeypatch.setenv("MY_OPENAI_KEY", "not-a-real-key")
    settings = load_settings(config, env={"HERMES_MCP_HOME": str(home.path)})
    assert [str(ref) for ref in settings.chain] == ["openai:gpt-5.5"]

    code, out = await setup(env, "1\n\n")
    assert code == 0 and "already exists; not overwritten" in out
    assert config.read_text() == text

    (tmp_path / "other").mkdir()
    other = new_home(tmp_path / "other")
    bad, out = await setup(other.process_env, "12\n")
    assert bad == 2 and not (other.path / "config.toml").exists()
    silent, _ = await setup(other.process_env, "")
    assert silent == 2 and not (other.path / "config.toml").exists()


@pytest.mark.anyio
async def test_setup_keeps_a_key_that_is_set_in_a_file_the_config_names(tmp_path: Path) -> None:
    home = new_home(tmp_path)
    code, out = await setup({**home.process_env, "OPENAI_API_KEY": KEY_A}, "openai\n\n")
    assert code == 0 and "stored OPENAI_API_KEY" in out and KEY_A not in out
    key_file = home.path / "keys" / "OPENAI_API_KEY"
    text = (home.path / "config.toml").read_text()
    assert f'"file:{key_file}"' in text and KEY_A not in text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    settings = load_settings(home.path / "config.toml", env={}, environ={})  # no variables
    assert [c.fingerprint for c in settings.credentials["openai"]] == [fingerprint(KEY_A)]
