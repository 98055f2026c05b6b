"""The circuit breaker's half-open step: when a credential's cooldown ends, one request
across every process probes it; the others treat it as still cooling until the probe
answers (and, with no route after it, wait for that answer rather than fail)."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.credentials import fingerprint
from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore, StateKey
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.state import open_database
from hermes_mcp.testing import FakeProvider, hold, rate_limited, reply
from tests.keys import FALLBACK_KEY, KEY_A, seen
from tests.routing import Home, hermes, main_in_process, router_for

PROCESSES = 20


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def configure(home: Home, fake: FakeProvider, *, fallback: bool = True) -> None:
    providers = {"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
    home.write(providers, "primary:gpt-4o", ("backup:gpt-4o-mini",) if fallback else ())


async def cooled_and_ended(home: Home, fake: FakeProvider) -> None:
    """The primary's key carries a rate-limit cooldown that has just ended (as a short
    cooldown does, or a daily quota at midnight)."""
    db = open_database(home.path / "state.db")
    try:
        now = time.time()
        key = StateKey("primary", fake.openai_base_url, fingerprint(KEY_A))
        mark = CredentialState("cooling", now - 0.5, "rate_limit", now - 2.5, "Rate limit")
        await CredentialStateStore(db).mark(key, mark)
    finally:
        db.close()


def _ask_in_a_child(env: dict[str, str], results: Any) -> None:
    """A forked process's ``hermes-mcp ask --json hi`` (its entry point, nothing shared
    with the parent but the modules already imported): (exit code, stdout, stderr)."""
    results.put(main_in_process(env, ("ask", "--json", "hi"), one_at_a_time=False))


@pytest.mark.anyio
async def test_when_a_cooldown_ends_20_processes_send_one_probe_in_all(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """20 processes at once, each with its own router and database connection. Forked
    from this one, so they pay no start-up (20 console scripts cost ~30 s of CPU)."""
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, rate_limited(60))  # still refusing
    await cooled_and_ended(home, fake)
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    children = [
        fork.Process(target=_ask_in_a_child, args=(home.process_env, queue))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    with anyio.fail_after(50):
        ran = [await anyio.to_thread.run_sync(queue.get) for _ in children]
        for child in children:
            await anyio.to_thread.run_sync(child.join)
    for _, out, err in ran:  # checked for secrets like every output
        seen(out)
        seen(err)
    assert [code for code, _, _ in ran] == [0] * PROCESSES, [err for _, _, err in ran]
    results = [json.loads(out) for _, out, _ in ran]
    assert fake.count(key=KEY_A) == 1  # one probe in all
    assert all(r["provider"] == "backup" for r in results)
    sent = [r for r in results if r["attempts"][0]["action"] != "skip"]  # type: ignore[index]
    assert len(sent) == 1
    skipped = [r for r in results if r["attempts"][0]["action"] == "skip"]  # type: ignore[index]
    assert len(skipped) == PROCESSES - 1  # straight to the fallback
    # The probe's answer is the new mark: the key cools for its 60 s again.
    listed = await hermes(home, "providers", "--json")
    primary = next(r for r in listed.json() if r["provider"] == "primary")
    assert primary["state"] == "cooling" and primary["last_class"] == "rate_limit"


@pytest.mark.anyio
async def test_a_probe_that_succeeds_puts_the_key_back_in_rotation(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, reply("primary again"))
    await cooled_and_ended(home, fake)
    first = await hermes(home, "ask", "--json", "hi")
    second = await hermes(home, "ask", "--json", "hi")
    assert first.json()["provider"] == second.json()["provider"] == "primary"
    listed = await hermes(home, "providers", "--json")
    primary = next(r for r in listed.json() if r["provider"] == "primary")
    assert primary["state"] == "available"


@pytest.mark.anyio
async def test_with_no_fallback_a_request_waits_for_the_probes_answer(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, fallback=False)
    fake.script(KEY_A, hold("probe", reply("the probe")), reply("after the probe"))
    await cooled_and_ended(home, fake)
    texts: list[str] = []
    async with router_for(home) as router:

        async def ask() -> None:
            texts.append((await router.complete(ChatRequest.of("hi"))).text)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                await fake.wait_in_flight(1)
                tg.start_soon(ask)  # the probe is in flight: this one must wait, not fail
                await anyio.sleep(0.3)  # long enough for a second request to have gone out
                assert fake.count(key=KEY_A) == 1
                fake.release("probe")
    assert sorted(texts) == ["after the probe", "the probe"]
    assert fake.count(key=KEY_A) == 2
