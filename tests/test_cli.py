"""The command line against the fake provider (issue 2's Must show): its entry point in process
(tests/routing.py `hermes`), and as real processes where the process is the point."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from hermes_mcp import __version__
from hermes_mcp.testing import FakeProvider, daily_quota, rate_limited, reply, unauthorized
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B, seen
from tests.routing import Home, hermes, hermes_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def chain(home: Home, fake: FakeProvider, keys: list[str], *, fallback: bool = True) -> None:
    providers = {"primary": {"url": fake.openai_base_url, "keys": keys}}
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
    home.write(providers, "primary:gpt-4o", ("backup:gpt-4o-mini",) if fallback else ())


def when(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.mark.anyio
async def test_version(tmp_path: Path) -> None:
    ran = await hermes(Home(tmp_path), "--version")
    assert ran.code == 0 and ran.stdout.strip() == f"hermes-mcp {__version__}"


@pytest.mark.anyio
async def test_plain_ask_prints_only_the_answer(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, reply("Paris."))
    ran = await hermes_process(home, "ask", "capital", "of", "France?")  # the real stdout
    assert (ran.code, ran.stdout) == (0, "Paris.\n")
    body = fake.requests[0].body
    assert body is not None and body["messages"][-1]["content"] == "capital of France?"


@pytest.mark.anyio
async def test_daily_quota_on_a_single_credential_is_never_hit_again(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """One request to the primary; a second process sends zero; a process already running
    before the 429 sends zero on its next request; `providers` shows it cooling ~a day."""
    home = Home(tmp_path)
    chain(home, fake, [KEY_A])
    async with await anyio.open_process(
        [sys.executable, "-m", "tests.router_driver"], env=home.process_env, cwd=ROOT
    ) as running:
        assert running.stdin is not None and running.stdout is not None
        lines = TextReceiveStream(running.stdout)
        buffer = ""

        async def answer(prompt: str | None) -> dict[str, object]:
            nonlocal buffer
            assert running.stdin is not None
            if prompt is not None:
                await running.stdin.send(f"{prompt}\n".encode())
            with anyio.fail_after(30):
                while "\n" not in buffer:
                    buffer += await lines.receive()
            line, buffer = buffer.split("\n", 1)
            return dict(json.loads(seen(line)))

        assert await answer(None) == {"ready": True}
        assert (await answer("before"))["provider"] == "primary"

        fake.script(KEY_A, daily_quota(retry_after=86400))
        first = await hermes(home, "ask", "--json", "hi")
        assert first.code == 0, first.stderr
        out = first.json()
        assert (out["provider"], out["text"]) == ("backup", "from the fallback")
        assert [(a["provider"], a["error_class"], a["action"]) for a in out["attempts"]] == [
            ("primary", "quota_exhausted", "fallback"),
            ("backup", None, "served"),
        ]
        assert fake.count(key=KEY_A) == 2  # the driver's first request, then the 429

        second = await hermes(home, "ask", "--json", "hi")
        assert second.json()["provider"] == "backup"
        assert fake.count(key=KEY_A) == 2  # a second process: zero requests

        later = await answer("after")
        assert later["provider"] == "backup"
        assert fake.count(key=KEY_A) == 2  # the process that was already running: zero
        await running.stdin.aclose()
        with anyio.fail_after(30):
            await running.wait()

    listed = await hermes(home, "providers", "--json")
    assert listed.code == 0
    rows = {r["provider"]: r for r in listed.json()}
    primary = rows["primary"]
    assert primary["state"] == "cooling" and primary["last_class"] == "quota_exhausted"
    assert primary["label"] == "env:HERMES_TEST_PRIMARY_0"
    assert 86000 < when(primary["cooldown_until"]) - when(primary["last_error_at"]) <= 86400
    assert rows["backup"]["state"] == "available"


@pytest.mark.anyio
async def test_second_credential_answers_a_429_without_waiting(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A, KEY_B])
    # A router that waited for Retry-After would not answer within the test's limit.
    fake.script(KEY_A, rate_limited(retry_after=3600))
    ran = await hermes(home, "ask", "--json", "hi")
    out = ran.json()
    assert out["provider"] == "primary" and out["credential"] != out["attempts"][0]["credential"]
    assert [a["action"] for a in out["attempts"]] == ["rotate", "served"]
    first, second = fake.requests
    assert (first.key, second.key) == (KEY_A, KEY_B)


@pytest.mark.anyio
async def test_no_fallback_exits_1_naming_provider_class_and_retry_at(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A], fallback=False)
    fake.script(KEY_A, daily_quota(retry_after=86400))
    for _ in range(2):  # the 429 itself, then the cooled credential: no request at all
        ran = await hermes(home, "ask", "--json", "hi")
        assert ran.code == 1
        error = ran.json()["error"]
        assert (error["provider"], error["class"]) == ("primary", "quota_exhausted")
        assert when(error["retry_at"]) > datetime.now().timestamp() + 86000
    assert fake.count(key=KEY_A) == 1
    assert ran.json()["attempts"][0]["action"] == "skip"
    plain = await hermes(home, "ask", "hi")
    assert plain.code == 1 and plain.stdout == ""
    assert "primary" in plain.stderr and "quota_exhausted" in plain.stderr


@pytest.mark.anyio
async def test_providers_reset_clears_a_dead_mark(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, unauthorized())
    assert (await hermes(home, "ask", "hi")).code == 0
    rows = (await hermes(home, "providers", "--json")).json()
    dead = next(r for r in rows if r["provider"] == "primary")
    assert dead["state"] == "dead" and dead["last_class"] == "auth"
    reset = await hermes(home, "providers", "--reset", dead["credential"], "--json")
    assert reset.code == 0
    assert next(r for r in reset.json() if r["provider"] == "primary")["state"] == "available"
    assert (await hermes(home, "ask", "--json", "hi")).json()["provider"] == "primary"
    unknown = await hermes(home, "providers", "--reset", "00000000")
    assert unknown.code == 2 and "00000000" in unknown.stderr


@pytest.mark.anyio
async def test_config_errors_exit_2_naming_file_and_key(tmp_path: Path) -> None:
    home = Home(tmp_path)
    (tmp_path / "config.toml").write_text(
        '[model]\ndefault = "p:m"\n[providers.p]\nwire = "openai"\n'
        'base_url = "http://127.0.0.1:1/v1"\ncredentials = ["env:HERMES_TEST_UNSET"]\n'
    )
    ran = await hermes(home, "ask", "--json", "hi")
    assert ran.code == 2
    error = ran.json()["error"]
    assert error["class"] == "config"
    assert str(tmp_path / "config.toml") in error["message"]
    assert "providers.p.credentials[0]" in error["message"]
    assert "HERMES_TEST_UNSET" in error["message"]
    usage = await hermes(home, "ask")
    assert usage.code == 2 and usage.stdout == ""


@pytest.mark.anyio
async def test_providers_plain_table_shows_labels_not_secrets(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A, KEY_B])
    ran = await hermes(home, "providers")
    assert ran.code == 0
    assert "env:HERMES_TEST_PRIMARY_0" in ran.stdout and "available" in ran.stdout


@pytest.mark.anyio
async def test_a_malformed_model_or_a_config_that_is_not_utf8_exit_2(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    chain(home, fake, [KEY_A])
    for bad in ("nocolon", "Bad:x", "primary:"):
        ran = await hermes(home, "ask", "--json", "--model", bad, "hi")
        assert ran.code == 2, ran.stderr
        error = ran.json()["error"]
        assert error["class"] == "usage" and "--model" in error["message"]
    (tmp_path / "config.toml").write_bytes(b'[model]\ndefault = "caf\xe9:x"\n')
    ran = await hermes(home, "ask", "--json", "hi")
    assert ran.code == 2
    assert "not UTF-8" in ran.json()["error"]["message"]
    assert str(tmp_path / "config.toml") in ran.json()["error"]["message"]
