"""The router's invariants (DESIGN.md 1-7, 9-11) against the fake provider over loopback."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.errors import FailureClass, NoRouteError
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.log import configure_logging
from hermes_mcp.testing import (
    FakeProvider,
    context_overflow,
    daily_quota,
    fail,
    hold,
    malformed,
    model_not_found,
    payment_required,
    rate_limited,
    reply,
    server_error,
    unauthorized,
)
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B, KEY_C, KEY_D
from tests.routing import Clock, Home, Sleeps, router_for

HI = ChatRequest.of("hi")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def chain(home: Home, fake: FakeProvider, keys: list[str], *, fallback: bool = True) -> None:
    providers = {"primary": {"url": fake.openai_base_url, "keys": keys}}
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
    home.write(providers, "primary:gpt-4o", ("backup:gpt-4o-mini",) if fallback else ())


def actions(result_attempts: object) -> list[tuple[str, str | None, str]]:
    return [(a.provider, a.error_class, a.action) for a in result_attempts]  # type: ignore[attr-defined]


# -- the seed's single-credential cases ---------------------------------------------------


@pytest.mark.anyio
async def test_no_pool_falls_back_after_one_request(home: Home, fake: FakeProvider) -> None:
    """A provider with no credentials to rotate ("none": a local server) is no pool."""
    chain(home, fake, ["none"])
    fake.script(None, rate_limited(retry_after=30))
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "backup" and result.text == "from the fallback"
    assert [r.key for r in fake.requests] == [None, FALLBACK_KEY]


@pytest.mark.anyio
async def test_one_credential_available_serves(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A])
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert (result.provider, result.model) == ("primary", "gpt-4o")
    assert fake.count(key=KEY_A) == 1 and fake.count(key=FALLBACK_KEY) == 0
    assert actions(result.attempts) == [("primary", None, "served")]


@pytest.mark.anyio
async def test_single_credential_rate_limit_falls_back_at_once(
    home: Home, fake: FakeProvider
) -> None:
    """Invariant 1: its own 429 sends a single-credential pool straight to the fallback."""
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, rate_limited(retry_after=30))
    sleeps = Sleeps()
    async with router_for(home, sleeps=sleeps) as router:
        result = await router.complete(HI)
        assert result.provider == "backup"
        assert actions(result.attempts) == [
            ("primary", "rate_limit", "fallback"),
            ("backup", None, "served"),
        ]
        # One credential cooling: the next request never touches it.
        again = await router.complete(HI)
    assert again.provider == "backup"
    assert actions(again.attempts)[0] == ("primary", None, "skip")
    assert fake.count(key=KEY_A) == 1 and sleeps.calls == []


@pytest.mark.anyio
async def test_same_secret_twice_counts_as_one(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A, KEY_A])
    fake.set_default(KEY_A, daily_quota())
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "backup"
    assert fake.count(key=KEY_A) == 1


@pytest.mark.anyio
async def test_two_available_rotates_without_waiting(home: Home, fake: FakeProvider) -> None:
    """Invariant 2."""
    chain(home, fake, [KEY_A, KEY_B])
    fake.script(KEY_A, rate_limited(retry_after=30))
    sleeps = Sleeps()
    async with router_for(home, sleeps=sleeps) as router:
        result = await router.complete(HI)
    assert result.provider == "primary" and sleeps.calls == []
    assert actions(result.attempts) == [
        ("primary", "rate_limit", "rotate"),
        ("primary", None, "served"),
    ]
    assert [r.key for r in fake.requests] == [KEY_A, KEY_B]


@pytest.mark.anyio
async def test_many_available_rotates(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A, KEY_B, KEY_C, KEY_D])
    fake.script(KEY_A, payment_required())
    fake.script(KEY_B, unauthorized())
    fake.script(KEY_C, daily_quota())
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "primary"
    assert [r.key for r in fake.requests] == [KEY_A, KEY_B, KEY_C, KEY_D]
    assert [a.error_class for a in result.attempts] == [
        "billing",
        "auth",
        "quota_exhausted",
        None,
    ]


@pytest.mark.anyio
async def test_several_all_cooling_fall_back_without_requests(
    home: Home, fake: FakeProvider
) -> None:
    """Invariant 3: every credential cooling and a fallback exists: fall back now."""
    chain(home, fake, [KEY_A, KEY_B, KEY_C])
    for key in (KEY_A, KEY_B, KEY_C):
        fake.script(key, rate_limited(retry_after=60))
    async with router_for(home) as router:
        first = await router.complete(HI)
        assert first.provider == "backup"
        assert [r.key for r in fake.requests] == [KEY_A, KEY_B, KEY_C, FALLBACK_KEY]
        before = len(fake.requests)
        second = await router.complete(HI)
    assert second.provider == "backup"
    assert [r.key for r in fake.requests[before:]] == [FALLBACK_KEY]


@pytest.mark.anyio
async def test_no_fallback_fails_fast_naming_provider_class_and_time(
    home: Home, fake: FakeProvider
) -> None:
    chain(home, fake, [KEY_A], fallback=False)
    fake.script(KEY_A, daily_quota(retry_after=86400))
    clock = Clock()
    async with router_for(home, clock=clock) as router:
        with pytest.raises(NoRouteError) as first:
            await router.complete(HI)
        with anyio.fail_after(30), pytest.raises(NoRouteError) as second:
            await router.complete(HI)
    for err in (first.value, second.value):
        assert err.provider == "primary"
        assert err.failure_class is FailureClass.QUOTA_EXHAUSTED
        assert err.retry_at == clock.now + 86400
    assert fake.count(key=KEY_A) == 1


# -- hints, sharing, independence, recovery -------------------------------------------------


@pytest.mark.anyio
async def test_cooldowns_follow_hints_and_defaults(home: Home, fake: FakeProvider) -> None:
    """Rate limit: the hint, else 60 s. Daily quota: at least 24 h even when the hint says
    less. Billing: 24 h. Auth: dead."""
    chain(home, fake, [KEY_A, KEY_B, KEY_C, KEY_D])
    fake.script(KEY_A, fail(429, {"error": {"message": "Too many requests"}}))
    fake.script(KEY_B, daily_quota(retry_after=59))
    fake.script(KEY_C, payment_required())
    fake.script(KEY_D, unauthorized())
    clock = Clock()
    async with router_for(home, clock=clock) as router:
        await router.complete(HI)
        pool = router.providers["primary"].pool
        marks = {
            c.secret.get_secret_value(): pool.state(c, "gpt-4o")
            for c in pool.credentials
            if c.secret
        }
    now = clock.now
    assert marks[KEY_A] is not None and marks[KEY_A].cooldown_until == now + 60
    assert marks[KEY_B] is not None and marks[KEY_B].cooldown_until == now + 86400
    assert marks[KEY_C] is not None and marks[KEY_C].cooldown_until == now + 86400
    assert marks[KEY_D] is not None and marks[KEY_D].state == "dead"


@pytest.mark.anyio
async def test_cooldown_is_shared_with_a_running_router(home: Home, fake: FakeProvider) -> None:
    """Invariant 5: a router already running honours a cooldown another one wrote."""
    chain(home, fake, [KEY_A])
    async with router_for(home) as running, router_for(home) as other:
        assert (await running.complete(HI)).provider == "primary"
        fake.script(KEY_A, daily_quota())
        assert (await other.complete(HI)).provider == "backup"
        before = fake.count(key=KEY_A)
        assert (await running.complete(HI)).provider == "backup"
        assert fake.count(key=KEY_A) == before == 2


@pytest.mark.anyio
async def test_fallback_failures_leave_primary_state_alone(home: Home, fake: FakeProvider) -> None:
    """Invariant 6."""
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, rate_limited(retry_after=30))
    fake.script(FALLBACK_KEY, daily_quota())
    async with router_for(home) as router:
        with pytest.raises(NoRouteError):
            await router.complete(HI)
        primary = router.providers["primary"].pool
        backup = router.providers["backup"].pool
        p_mark = primary.state(primary.credentials[0], "gpt-4o")
        b_mark = backup.state(backup.credentials[0], "gpt-4o-mini")
    assert p_mark is not None and p_mark.last_class == "rate_limit"
    assert b_mark is not None and b_mark.last_class == "quota_exhausted"


@pytest.mark.anyio
async def test_primary_is_tried_again_after_its_cooldown(home: Home, fake: FakeProvider) -> None:
    """Invariant 7."""
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, rate_limited(retry_after=30))
    clock = Clock()
    async with router_for(home, clock=clock) as router:
        assert (await router.complete(HI)).provider == "backup"
        clock.now += 29
        assert (await router.complete(HI)).provider == "backup"
        clock.now += 1
        assert (await router.complete(HI)).provider == "primary"
    assert fake.count(key=KEY_A) == 2


# -- transient failures, one retry layer ------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
async def test_transient_error_retries_once_then_falls_back(
    home: Home, fake: FakeProvider, status: int
) -> None:
    """Invariant 9: exactly one retry, from the router; no retries underneath it."""
    chain(home, fake, [KEY_A, KEY_B])
    fake.set_default(KEY_A, server_error(status))
    sleeps = Sleeps()
    async with router_for(home, sleeps=sleeps) as router:
        result = await router.complete(HI)
        assert result.provider == "backup"
        assert fake.count(key=KEY_A) == 2 and fake.count(key=KEY_B) == 0
        assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= 0.5
        # Failing twice in a row: skipped for 30 s, with no cooldown on its credential.
        again = await router.complete(HI)
        assert again.provider == "backup" and fake.count(key=KEY_A) == 2
        pool = router.providers["primary"].pool
        assert pool.state(pool.credentials[0], "gpt-4o") is None


@pytest.mark.anyio
async def test_transient_then_success_on_the_retry(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, server_error(503))
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "primary"
    assert actions(result.attempts) == [
        ("primary", "overloaded", "retry"),
        ("primary", None, "served"),
    ]


@pytest.mark.anyio
async def test_malformed_response_is_a_server_error(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, malformed(), malformed())
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "backup"
    assert result.attempts[0].error_class == "server_error"
    assert result.attempts[0].status == "malformed"


@pytest.mark.anyio
async def test_connection_refused_falls_back(home: Home, fake: FakeProvider) -> None:
    home.write(
        {
            "primary": {"url": "http://127.0.0.1:9/v1", "keys": [KEY_A]},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:m",
        ("backup:m",),
    )
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "backup"
    assert [a.status for a in result.attempts] == ["connect", "connect", 200]


@pytest.mark.anyio
async def test_model_not_found_is_skipped_for_the_process(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, model_not_found())
    async with router_for(home) as router:
        assert (await router.complete(HI)).provider == "backup"
        assert (await router.complete(HI)).provider == "backup"
    assert fake.count(key=KEY_A) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("step", "cls"),
    [
        (context_overflow(), FailureClass.CONTEXT_OVERFLOW),
        (rate_limited(), None),  # control: a credential failure does fall back
    ],
)
async def test_request_errors_surface_without_fallback(
    home: Home, fake: FakeProvider, step: object, cls: FailureClass | None
) -> None:
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, step)  # type: ignore[arg-type]
    async with router_for(home) as router:
        if cls is None:
            assert (await router.complete(HI)).provider == "backup"
            return
        with pytest.raises(NoRouteError) as info:
            await router.complete(HI)
    assert info.value.failure_class is cls
    assert fake.count(key=FALLBACK_KEY) == 0


# -- route, logs, leases -------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_rotation_and_fallback_is_one_log_event(home: Home, fake: FakeProvider) -> None:
    """Invariant 10."""
    chain(home, fake, [KEY_A, KEY_B])
    fake.script(KEY_A, rate_limited(retry_after=5))
    fake.script(KEY_B, unauthorized())
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        async with router_for(home) as router:
            result = await router.complete(HI)
    finally:
        configure_logging()
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    routed = [(e["event"], e["error_class"]) for e in events if e["event"].startswith("route.")]
    assert routed == [("route.rotate", "rate_limit"), ("route.fallback", "auth")]
    assert result.to_json()["attempts"][-1]["action"] == "served"
    assert all(e["label"].startswith("env:") for e in events if e["event"].startswith("route."))


@pytest.mark.anyio
async def test_concurrent_requests_lease_distinct_credentials(
    home: Home, fake: FakeProvider
) -> None:
    """Invariant 11: with fill_first, four concurrent requests still use four keys."""
    chain(home, fake, [KEY_A, KEY_B, KEY_C, KEY_D])
    for key in (KEY_A, KEY_B, KEY_C, KEY_D):
        fake.script(key, hold("go"))
    results = []
    async with router_for(home) as router:

        async def one() -> None:
            results.append(await router.complete(HI))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(one)
                await anyio.to_thread.run_sync(fake.block_until, lambda: fake.in_flight == 4)
                fake.release("go")
    assert fake.keys_in_flight_max() == 4
    assert len({r.credential for r in results}) == 4


@pytest.mark.anyio
async def test_a_chain_of_dead_credentials_names_auth(home: Home, fake: FakeProvider) -> None:
    chain(home, fake, [KEY_A])
    fake.script(KEY_A, unauthorized())
    fake.script(FALLBACK_KEY, unauthorized())
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as first:
            await router.complete(HI)
        with pytest.raises(NoRouteError) as later:  # nothing is sent now
            await router.complete(HI)
    for err in (first.value, later.value):
        assert err.failure_class is FailureClass.AUTH and err.retry_at is None
    assert "providers --reset" in later.value.message
    assert len(fake.requests) == 2


@pytest.mark.anyio
async def test_a_failing_model_does_not_skip_its_providers_other_models(
    home: Home, fake: FakeProvider
) -> None:
    home.write({"p": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "p:model-a", ("p:model-b",))
    fake.set_default(KEY_A, reply("from model-b"))
    fake.script(KEY_A, server_error(503), server_error(503))
    async with router_for(home) as router:
        result = await router.complete(HI)
        again = await router.complete(HI)  # model-a is skipped for 30 s, model-b is not
    assert (result.model, again.model) == ("model-b", "model-b")
    assert again.attempts[0].action == "skip" and again.attempts[0].model == "model-a"
