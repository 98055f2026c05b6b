"""Credential pools: each strategy's order over ten calls, leases, cooldowns, recovery."""

from __future__ import annotations

import random

import pytest
from pydantic import SecretStr

from hermes_mcp.config import Strategy
from hermes_mcp.credentials import Credential, fingerprint
from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore
from hermes_mcp.llm.pool import CredentialPool


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cred(name: str) -> Credential:
    return Credential(f"env:{name}", fingerprint(name), "env", SecretStr(name))


def pool(strategy: Strategy, clock: Clock, n: int = 3) -> CredentialPool:
    return CredentialPool(
        provider="p",
        endpoint="http://127.0.0.1:1/v1",
        credentials=[cred(c) for c in "ABCD"[:n]],
        strategy=strategy,
        store=CredentialStateStore(None, clock),
        clock=clock,
        rng=random.Random(7),
    )


async def ten_calls(strategy: Strategy) -> str:
    """Ten sequential calls; whatever served call 2 cools until t=7 (call i runs at t=i)."""
    clock = Clock()
    p = pool(strategy, clock)
    names = {c.fingerprint: c.secret.get_secret_value() for c in p.credentials if c.secret}
    picked = ""
    for call in range(1, 11):
        clock.now = float(call)
        chosen = p.acquire("m")
        assert chosen is not None
        picked += names[chosen.fingerprint]
        p.release(chosen)
        if call == 2:
            await p._store.mark(p.key(chosen, "m"), CredentialState("cooling", 7.0, "x", 2.0))
    return picked


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("strategy", "order"),
    [
        ("fill_first", "AABBBBAAAA"),
        ("round_robin", "ABCACABCAB"),
        ("least_used", "ABCACABBCA"),
        ("random", "BACBBBBCAC"),  # random.Random(7); A (call 2) cools on calls 3-6
    ],
)
async def test_strategy_order_over_ten_calls(strategy: Strategy, order: str) -> None:
    assert await ten_calls(strategy) == order


def test_random_strategy_uses_every_credential() -> None:
    p = pool("random", Clock())
    counts: dict[str, int] = {}
    for _ in range(600):
        c = p.acquire("m")
        assert c is not None
        counts[c.fingerprint] = counts.get(c.fingerprint, 0) + 1
        p.release(c)
    assert len(counts) == 3 and min(counts.values()) > 120


def test_leases_spread_concurrent_requests_whatever_the_strategy() -> None:
    p = pool("fill_first", Clock(), n=4)
    held = [p.acquire("m") for _ in range(4)]
    assert len({c.fingerprint for c in held if c}) == 4  # four distinct keys in flight
    fifth = p.acquire("m")
    assert fifth is not None and fifth.fingerprint == p.credentials[0].fingerprint
    for c in [*held, fifth]:
        assert c is not None
        p.release(c)


@pytest.mark.anyio
async def test_dead_and_cooling_are_skipped_and_recovery_is_earliest() -> None:
    clock = Clock()
    p = pool("fill_first", clock)
    a, b, c = p.credentials
    await p._store.mark(p.key(a, "m"), CredentialState("dead", None, "auth", 0.0))
    await p._store.mark(p.key(b, "m"), CredentialState("cooling", 50.0, "rate_limit", 0.0))
    await p._store.mark(p.key(c, "m"), CredentialState("cooling", 90.0, "quota_exhausted", 0.0))
    assert p.acquire("m") is None
    recovery = p.recovery("m")
    assert recovery is not None and recovery.at == 50.0 and recovery.failure_class == "rate_limit"
    clock.now = 50.0  # invariant 7: usable again once its cooldown ends
    again = p.acquire("m")
    assert again is not None and again.fingerprint == b.fingerprint
