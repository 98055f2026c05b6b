"""Configurations a new user writes by mistake: each is one clear error (exit 2, one JSON
object with --json) naming the key, listing every problem, and never echoing a secret;
none crashes, hangs or prints a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hermes_mcp.config import load_settings
from hermes_mcp.errors import ConfigError
from tests.keys import KEY_A
from tests.routing import Home, hermes

BASE = """
[model]
default = "fa:gpt-4o"

[providers.fa]
wire = "openai"
base_url = "http://127.0.0.1:9/v1"
credentials = ["env:HERMES_TEST_FA_0"]
"""
ENV = {"HERMES_TEST_FA_0": KEY_A}


def write(tmp_path: Path, text: str) -> Home:
    home = Home(tmp_path, dict(ENV))
    (tmp_path / "config.toml").write_text(text)
    return home


def load(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> ConfigError:
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HERMES_MCP_HOME": str(tmp_path)})
    return caught.value


BAD: list[tuple[str, str, str, str]] = [
    (
        "password in base_url",
        'base_url = "http://127.0.0.1:9/v1"',
        'base_url = "http://alice:hunter2secret@127.0.0.1:9/v1"',
        "user name or password",
    ),
    ("invalid IPv6", 'base_url = "http://127.0.0.1:9/v1"', 'base_url = "http://[::1/v1"', "IPv6"),
    (
        "bad IPv6 host",
        'base_url = "http://127.0.0.1:9/v1"',
        'base_url = "http://[zz]:80/v1"',
        "not a valid URL",
    ),
    ("bad port", 'base_url = "http://127.0.0.1:9/v1"', 'base_url = "http://h:99999/v1"', "Port"),
    ("no host", 'base_url = "http://127.0.0.1:9/v1"', 'base_url = "http://:80/v1"', "no host"),
    ("infinite timeout", 'wire = "openai"', 'wire = "openai"\nread_timeout_s = inf', "finite"),
    ("nan timeout", 'wire = "openai"', 'wire = "openai"\nidle_timeout_s = nan', "finite"),
    ("huge timeout", 'wire = "openai"', 'wire = "openai"\nread_timeout_s = 1e300', "less than"),
]


@pytest.mark.parametrize(("name", "old", "new", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_provider_setting_is_a_config_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str, words: str
) -> None:
    err = load(tmp_path, BASE.replace(old, new), monkeypatch)
    assert err.key is not None and err.key.startswith("providers.fa.")
    assert words in str(err)
    assert "hunter2secret" not in str(err)


@pytest.mark.anyio
@pytest.mark.parametrize("command", [["ask", "--json", "hi"], ["run", "--json", "hi"]])
async def test_a_password_in_base_url_never_reaches_output(
    tmp_path: Path, command: list[str]
) -> None:
    home = write(
        tmp_path, BASE.replace("http://127.0.0.1:9/v1", "http://alice:hunter2secret@127.0.0.1:9/v1")
    )
    for args in (command, ["doctor"], ["doctor", "--probe"]):
        ran = await hermes(home, *args)
        assert ran.code == 2, (args, ran.stdout, ran.stderr)
        assert "hunter2secret" not in ran.stdout + ran.stderr
        assert "Traceback" not in ran.stderr
        assert "providers.fa.base_url" in ran.stdout + ran.stderr
    assert b"hunter2secret" not in _stored(tmp_path)


def _stored(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("state.db*"))


CRASHERS = [
    ("inf timeout", BASE.replace('wire = "openai"', 'wire = "openai"\nread_timeout_s = inf')),
    ("nested TOML", "x = " + "[" * 50_000 + "]" * 50_000 + "\n"),
    ("invalid IPv6", BASE.replace("http://127.0.0.1:9/v1", "http://[::1/v1")),
    ("secret file /dev/zero", BASE.replace("env:HERMES_TEST_FA_0", "file:/dev/zero")),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "text"), CRASHERS, ids=[c[0] for c in CRASHERS])
async def test_what_used_to_crash_or_hang_exits_2_with_one_json_object(
    tmp_path: Path, name: str, text: str
) -> None:
    home = write(tmp_path, text)
    ran = await hermes(home, "ask", "--json", "hi", limit_s=20)
    assert ran.code == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert json.loads(ran.stdout)["error"]["class"] == "config"
    doctor = await hermes(home, "doctor", "--json", limit_s=20)
    assert doctor.code == 2, doctor.stderr
    assert "Traceback" not in doctor.stderr
    assert not json.loads(doctor.stdout)[0]["ok"]


def test_every_problem_is_listed_at_once_with_suggestions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = BASE.replace("base_url", "base_ulr").replace(
        'wire = "openai"', 'wire = "openai"\nstratgy = "random"'
    )
    text += "\n[agent]\nmax_iteratons = 3\n"
    err = load(tmp_path, text, monkeypatch)
    message = str(err)
    assert err.problems[0][1].startswith("unknown key")  # not "base_url missing" first
    assert "providers.fa.base_ulr: unknown key (did you mean 'base_url'?)" in message
    assert "providers.fa.stratgy: unknown key (did you mean 'strategy'?)" in message
    assert "agent.max_iteratons: unknown key (did you mean 'max_iterations'?)" in message
    assert "providers.fa.base_url: Field required" in message
    assert len(err.problems) == 4
    assert "more problem" not in message


def test_an_unknown_provider_name_in_the_chain_suggests_the_nearest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = load(
        tmp_path, BASE.replace('default = "fa:gpt-4o"', 'default = "fb:gpt-4o"'), monkeypatch
    )
    assert err.key == "model.default"
    assert "did you mean 'fa'?" in str(err)


def test_an_empty_variable_is_empty_not_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_TEST_FA_0", "")
    (tmp_path / "config.toml").write_text(BASE)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HERMES_MCP_HOME": str(tmp_path)})
    assert "HERMES_TEST_FA_0 is empty" in str(caught.value)
    monkeypatch.delenv("HERMES_TEST_FA_0")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HERMES_MCP_HOME": str(tmp_path)})
    assert "HERMES_TEST_FA_0 is not set" in str(caught.value)


UNUSED = (
    BASE
    + """
[providers.spare]
wire = "openai"
base_url = "http://127.0.0.1:9/v1"
credentials = ["env:HERMES_TEST_SPARE_UNSET"]
"""
)


def test_a_credential_of_a_provider_no_chain_uses_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_TEST_FA_0", KEY_A)
    monkeypatch.delenv("HERMES_TEST_SPARE_UNSET", raising=False)
    (tmp_path / "config.toml").write_text(UNUSED)
    settings = load_settings(env={"HERMES_MCP_HOME": str(tmp_path)})
    assert settings.credentials["spare"] == []
    assert len(settings.warnings) == 1
    assert "providers.spare.credentials[0]" in settings.warnings[0]
    assert "HERMES_TEST_SPARE_UNSET is not set" in settings.warnings[0]
    # Used by the chain, the same reference is an error.
    (tmp_path / "config.toml").write_text(
        UNUSED.replace('default = "fa:gpt-4o"', 'default = "spare:x"')
    )
    with pytest.raises(ConfigError):
        load_settings(env={"HERMES_MCP_HOME": str(tmp_path)})
