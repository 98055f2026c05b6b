"""`hermes-mcp doctor`: config, state and providers checked; problems named; exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.testing import FakeProvider, reply, unauthorized
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home, hermes


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("backup:gpt-4o-mini",),
    )


@pytest.mark.anyio
async def test_healthy_setup_passes_without_sending_anything(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    ran = await hermes(home, "doctor")
    assert ran.code == 0, ran.stdout
    assert "journal_mode=wal" in ran.stdout
    assert "provider primary: openai at" in ran.stdout
    assert fake.requests == []


@pytest.mark.anyio
async def test_probe_names_the_failing_key_and_changes_no_state(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, unauthorized())
    fake.script(FALLBACK_KEY, reply("ok"))
    ran = await hermes(home, "doctor", "--probe", "--json")
    assert ran.code == 1
    probes = {c["check"]: c for c in ran.json() if c["check"].startswith("probe")}
    assert probes["probe primary:gpt-4o"]["ok"] is False
    assert "auth (401)" in probes["probe primary:gpt-4o"]["detail"]
    assert probes["probe backup:gpt-4o-mini"]["ok"] is True
    body = fake.requests[0].body
    assert body is not None and body["max_tokens"] == 1
    rows = (await hermes(home, "providers", "--json")).json()
    assert {r["state"] for r in rows} == {"available"}


@pytest.mark.anyio
async def test_config_problem_exits_2_with_file_and_key(tmp_path: Path) -> None:
    home = Home(tmp_path)
    (tmp_path / "config.toml").write_text('[model]\ndefault = "nocolon"\n')
    ran = await hermes(home, "doctor")
    assert ran.code == 2
    assert f"{tmp_path / 'config.toml'}: model.default" in ran.stdout


@pytest.mark.anyio
async def test_unusable_state_dir_fails(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    home.env["HERMES_MCP_CONFIG"] = str(tmp_path / "config.toml")
    env_home = Home(blocker, home.env)
    ran = await hermes(env_home, "doctor")
    assert ran.code == 1
    assert "FAIL  state" in ran.stdout


@pytest.mark.anyio
async def test_dead_credential_is_reported(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, unauthorized())
    assert (await hermes(home, "ask", "hi")).code == 0  # the fallback answers; KEY_A is dead
    ran = await hermes(home, "doctor")
    assert ran.code == 1
    assert "FAIL  credential primary: env:HERMES_TEST_PRIMARY_0" in ran.stdout
    assert "providers --reset" in ran.stdout
