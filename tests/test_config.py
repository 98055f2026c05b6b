"""Config errors name the file, the key and what is wrong; credentials resolve and dedupe."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_mcp.config import ModelRef, load_settings
from hermes_mcp.errors import ConfigError
from tests.keys import KEY_A, LITERAL_KEY

GOOD = """
[model]
default = "local:qwen3:8b"
fallbacks = ["gem:gemini-2.5-pro"]

[providers.local]
wire = "openai"
base_url = "http://127.0.0.1:8080/v1/"
credentials = ["env:HERMES_TEST_KEY_A", "env:HERMES_TEST_KEY_A_AGAIN", "{literal}"]
strategy = "round_robin"

[providers.gem]
wire = "openai"
base_url = "http://127.0.0.1:8081/v1"
credentials = ["none"]
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={"HERMES_MCP_HOME": str(tmp_path), **(env or {})})
    assert info.value.file == str(path)
    return info.value


def test_good_config_resolves_and_dedupes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERMES_TEST_KEY_A", KEY_A)
    monkeypatch.setenv("HERMES_TEST_KEY_A_AGAIN", KEY_A)
    path = tmp_path / "config.toml"
    path.write_text(GOOD.replace("{literal}", LITERAL_KEY))
    settings = load_settings(path, env={"HERMES_MCP_HOME": str(tmp_path)})
    assert settings.chain == [ModelRef("local", "qwen3:8b"), ModelRef("gem", "gemini-2.5-pro")]
    creds = settings.credentials["local"]
    assert creds[0].label == "env:HERMES_TEST_KEY_A"
    assert len(creds) == 2  # the same secret listed twice counts once
    assert creds[1].label.startswith("literal#") and LITERAL_KEY not in creds[1].label
    assert settings.config.providers["local"].base_url == "http://127.0.0.1:8080/v1"
    assert settings.db_path == tmp_path / "state.db"


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (
            (
                'wire = "openai"\nbase_url = "http://127.0.0.1:8080',
                'wire = "grpc"\nbase_url = "http://127.0.0.1:8080',
            ),
            "providers.local.wire",
            "grpc",
        ),
        (
            ('default = "local:qwen3:8b"', 'default = "qwen3"'),
            "model.default",
            "'<provider>:<model>'",
        ),
        (
            ('fallbacks = ["gem:', 'fallbacks = ["nope:'),
            "model.fallbacks[0]",
            "no [providers.nope]",
        ),
        (
            ('strategy = "round_robin"', 'strategy = "round_robin"\ncolour = "blue"'),
            "providers.local.colour",
            "unknown key",
        ),
        (("[model]", "[model]\ntimeout = 3"), "model.timeout", "unknown key"),
    ],
)
def test_errors_name_file_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str, words: str
) -> None:
    text = GOOD.replace("{literal}", LITERAL_KEY).replace(*edit)
    assert text != GOOD.replace("{literal}", LITERAL_KEY)
    err = load(tmp_path, text, {"HERMES_TEST_KEY_A": KEY_A, "HERMES_TEST_KEY_A_AGAIN": KEY_A})
    assert err.key == key
    assert words in str(err)


def test_missing_env_var_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERMES_TEST_KEY_A", raising=False)
    err = load(tmp_path, GOOD.replace("{literal}", LITERAL_KEY))
    assert err.key == "providers.local.credentials[0]"
    assert "HERMES_TEST_KEY_A is not set" in str(err)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    err = load(tmp_path, "[model\n")
    assert "not valid TOML" in str(err)
    with pytest.raises(ConfigError, match="no config file"):
        load_settings(tmp_path / "absent.toml", env={})


def test_config_path_from_env(tmp_path: Path) -> None:
    from hermes_mcp.config import config_path

    assert config_path({"HERMES_MCP_HOME": str(tmp_path)}) == tmp_path / "config.toml"
    assert config_path({"HERMES_MCP_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"


def test_model_ref_splits_at_first_colon() -> None:
    assert ModelRef.parse("local:qwen3:8b") == ModelRef("local", "qwen3:8b")
    for bad in ("nocolon", "Upper:model", "p:", ":m"):
        with pytest.raises(ValueError):
            ModelRef.parse(bad)


def test_a_config_that_still_sets_the_retired_job_log_events_loads(tmp_path: Path) -> None:
    """``[mcp] job_log_events`` kept a per-job event log nobody read; it is gone, and a
    config file written for it still loads (the key is accepted and ignored)."""
    path = tmp_path / "config.toml"
    path.write_text("[mcp]\njob_log_events = 500\nmax_jobs = 3\n")
    settings = load_settings(path, env={"HERMES_MCP_HOME": str(tmp_path)})
    assert settings.config.mcp.max_jobs == 3
    assert "job_log_events" not in settings.config.mcp.model_dump()
