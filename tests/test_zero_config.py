"""Zero-config start (issue 18's Must show): no config file, key variables set → a chain;
``ask`` answered through it, ``doctor`` shows it, ``setup`` writes it and never
overwrites. Providers are pointed at the loopback fake with ``HERMES_MCP_<NAME>_BASE_URL``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.config import load_settings
from hermes_mcp.testing import FakeProvider, daily_quota, reply
from hermes_mcp.zero_config import KEY_VARIABLES, config_data, detect, render_config
from tests.keys import KEY_A, KEY_B, KEY_C
from tests.routing import Home, hermes

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def keyed(tmp_path: Path, fake: FakeProvider, **keys: str) -> Home:
    """A home with no config file and these key variables, every provider at the fake."""
    home = Home(tmp_path)
    for var, value in keys.items():
        home.env[var] = value
    home.env["HERMES_MCP_OPENAI_BASE_URL"] = fake.openai_base_url
    home.env["HERMES_MCP_ANTHROPIC_BASE_URL"] = fake.url
    home.env["HERMES_MCP_OPENROUTER_BASE_URL"] = fake.openai_base_url
    return home


async def test_ask_is_answered_through_openai_from_the_key_alone(
    tmp_path: Path, fake: FakeProvider
) -> None:
    fake.script(KEY_A, reply("Paris."))
    home = keyed(tmp_path, fake, OPENAI_API_KEY=KEY_A)
    ran = await hermes(home, "ask", "--json", "capital of France?")
    assert ran.code == 0, ran.stderr
    answer = ran.json()
    assert (answer["text"], answer["provider"], answer["model"]) == ("Paris.", "openai", "gpt-5.5")
    assert fake.count(key=KEY_A) == 1
    body = fake.requests[0].body
    assert body is not None and body["model"] == "gpt-5.5"
    said = [line for line in ran.stderr.splitlines() if "config.zero" in line]
    assert len(said) == 1 and "openai:gpt-5.5" in said[0] and "hermes-mcp setup" in said[0]
    assert not (tmp_path / "config.toml").exists()  # nothing written behind the user's back


async def test_doctor_shows_the_chain_it_built(tmp_path: Path, fake: FakeProvider) -> None:
    home = keyed(tmp_path, fake, OPENAI_API_KEY=KEY_A)
    ran = await hermes(home, "doctor")
    assert ran.code == 0, ran.stdout + ran.stderr
    first = ran.stdout.splitlines()[0]
    assert first == (
        "ok    config: no config file; chain from the environment: "
        f"openai:gpt-5.5 (OPENAI_API_KEY at {fake.openai_base_url})"
    )
    assert "provider openai: openai at" in ran.stdout


async def test_several_keys_make_a_chain_that_falls_back(
    tmp_path: Path, fake: FakeProvider
) -> None:
    fake.script(KEY_B, daily_quota())
    fake.script(KEY_A, reply("from openai"))
    home = keyed(tmp_path, fake, OPENAI_API_KEY=KEY_A, ANTHROPIC_API_KEY=KEY_B)
    home.env["OPENROUTER_API_KEY"] = KEY_C
    ran = await hermes(home, "ask", "--json", "hi")
    assert ran.code == 0, ran.stderr
    answer = ran.json()
    assert answer["text"] == "from openai"
    routes = [(a["provider"], a["model"], a["action"]) for a in answer["attempts"]]
    assert routes == [
        ("anthropic", "claude-sonnet-5-5", "fallback"),
        ("openai", "gpt-5.5", "served"),
    ]
    doctor = await hermes(home, "doctor")
    assert (
        "anthropic:claude-sonnet-5-5 (ANTHROPIC_API_KEY at "
        f"{fake.url}) → openai:gpt-5.5 (OPENAI_API_KEY at {fake.openai_base_url}) → "
        "openrouter:anthropic/claude-sonnet-5.5" in doctor.stdout
    )


async def test_no_key_and_no_file_is_still_the_config_error(tmp_path: Path) -> None:
    ran = await hermes(Home(tmp_path), "ask", "hi")
    assert ran.code == 2 and "no config file here" in ran.stderr


async def test_a_named_config_file_that_is_missing_is_an_error_even_with_keys(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = keyed(tmp_path, fake, OPENAI_API_KEY=KEY_A)
    home.env["HERMES_MCP_CONFIG"] = str(tmp_path / "elsewhere.toml")
    ran = await hermes(home, "ask", "hi")
    assert ran.code == 2 and "elsewhere.toml" in ran.stderr
    assert fake.count() == 0


async def test_setup_writes_the_chain_and_never_overwrites(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = keyed(tmp_path, fake, OPENAI_API_KEY=KEY_A, GEMINI_API_KEY=KEY_B)
    ran = await hermes(home, "setup")
    assert ran.code == 0, ran.stderr
    written = tmp_path / "config.toml"
    assert ran.stdout == f"wrote {written}: openai:gpt-5.5 → gemini:gemini-3.8-flash\n"
    text = written.read_text()
    assert KEY_A not in text and KEY_B not in text  # references, never the keys
    assert text.startswith("# hermes-mcp configuration")
    data = tomllib.loads(text)
    assert data["model"] == {"default": "openai:gpt-5.5", "fallbacks": ["gemini:gemini-3.8-flash"]}
    assert data["providers"]["openai"] == {
        "wire": "openai",
        "base_url": fake.openai_base_url,
        "credentials": ["env:OPENAI_API_KEY"],
    }
    assert f'base_url = "{fake.openai_base_url}"  # from HERMES_MCP_OPENAI_BASE_URL' in text
    assert data["providers"]["gemini"]["base_url"] == "https://generativelanguage.googleapis.com"

    fake.script(KEY_A, reply("from the file"))
    asked = await hermes(home, "ask", "hi")  # the written file is what runs now
    assert (asked.code, asked.stdout) == (0, "from the file\n")
    assert "config.zero" not in asked.stderr

    written.write_text(text + "# mine\n")
    again = await hermes(home, "setup")
    assert again.code == 2 and "exists" in again.stderr
    assert written.read_text() == text + "# mine\n"


async def test_setup_without_any_key_says_which_to_set(tmp_path: Path) -> None:
    ran = await hermes(Home(tmp_path), "setup")
    assert ran.code == 2 and "OPENAI_API_KEY" in ran.stderr
    assert not (tmp_path / "config.toml").exists()


def test_detection_order_pools_and_overrides() -> None:
    env = {
        "GROQ_API_KEY": "g",
        "GOOGLE_API_KEY": "gk",
        "GEMINI_API_KEY": "ge",
        "OPENROUTER_API_KEY": "  ",  # blank is not set
        "HERMES_MCP_GROQ_BASE_URL": "http://127.0.0.1:9/v1",
    }
    chosen = detect(env)
    assert [c.ref for c in chosen] == ["gemini:gemini-3.8-flash", "groq:openai/gpt-oss-120b"]
    assert chosen[0].variables == ("GEMINI_API_KEY", "GOOGLE_API_KEY")  # one pool
    assert chosen[1].base_url == "http://127.0.0.1:9/v1" and chosen[1].overridden
    data = config_data(chosen)
    assert data["model"] == {
        "default": "gemini:gemini-3.8-flash",
        "fallbacks": ["groq:openai/gpt-oss-120b"],
    }
    assert tomllib.loads(render_config(chosen))["providers"]["gemini"]["credentials"] == [
        "env:GEMINI_API_KEY",
        "env:GOOGLE_API_KEY",
    ]
    assert set(KEY_VARIABLES) >= {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY"}


def test_an_explicit_env_without_keys_gets_no_chain(tmp_path: Path) -> None:
    settings = load_settings(env={"HERMES_MCP_HOME": str(tmp_path)}, required=False)
    assert settings.config.model is None and settings.source is None


def test_openai_reasoning_models_use_the_responses_api_on_openai_itself() -> None:
    from hermes_mcp.zero_config import KNOWN, ChosenProvider

    openai = next(k for k in KNOWN if k.name == "openai")
    direct = ChosenProvider(openai, ("OPENAI_API_KEY",), openai.base_url, False)
    proxied = ChosenProvider(openai, ("OPENAI_API_KEY",), "http://127.0.0.1:9/v1", True)
    assert direct.wire == "responses"  # gpt-5.x: reasoning carried across tool calls
    assert proxied.wire == "openai"  # a proxy surely speaks chat completions
