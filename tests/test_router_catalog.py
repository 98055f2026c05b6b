"""``Router.models()`` and ``Router.status()``: what an edge shows of the router (the chain,
every configured model's profile; credentials, cooldowns and skips with recovery times)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.testing import FakeProvider, rate_limited, reply
from tests.keys import ALL, FALLBACK_KEY, KEY_A
from tests.routing import Clock, Home, router_for


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write(
        {
            "primary": {
                "url": fake.openai_base_url,
                "keys": [KEY_A],
                "models": {
                    "my-model": {
                        "context_window": 32000,
                        "vision": True,
                        "input_per_mtok": 1.0,
                        "output_per_mtok": 2.0,
                    }
                },
            },
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("backup:gpt-4o-mini",),
    )


@pytest.mark.anyio
async def test_models_lists_the_chain_and_every_configured_model(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    async with router_for(home) as router:
        models = router.models()
        override = router.models("primary:my-model")
    assert models["chain"] == ["primary:gpt-4o", "backup:gpt-4o-mini"]
    by_route = {m["route"]: m for m in models["models"]}
    assert set(by_route) == {"primary:gpt-4o", "backup:gpt-4o-mini", "primary:my-model"}
    mine = by_route["primary:my-model"]
    assert (mine["in_chain"], mine["context_window"], mine["vision"]) == (False, 32000, True)
    assert mine["prices"] == {
        "input_per_mtok": 1.0,
        "output_per_mtok": 2.0,
        "cached_per_mtok": None,
    }
    assert by_route["primary:gpt-4o"]["context_window"] == 128_000
    assert override["chain"][0] == "primary:my-model"


@pytest.mark.anyio
async def test_status_names_cooldowns_and_skips_with_recovery_times(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, rate_limited(retry_after=120))
    fake.script(FALLBACK_KEY, reply("from the backup"))
    clock = Clock()
    async with router_for(home, clock=clock) as router:
        before = router.status()
        await router.complete(ChatRequest.of("hi"))
        after = router.status()
    assert before["skips"] == []
    assert {c["state"] for c in before["credentials"]} == {"available"}
    primary = next(c for c in after["credentials"] if c["provider"] == "primary")
    assert primary["state"] == "cooling" and primary["last_class"] == "rate_limit"
    assert after["skips"] == [
        {
            "route": "primary:gpt-4o",
            "provider": "primary",
            "model": "gpt-4o",
            "reason": "rate_limit",
            "until": primary["cooldown_until"],
        }
    ]
    text = json.dumps(after)
    assert not any(secret in text for secret in ALL)


@pytest.mark.anyio
async def test_next_route_is_the_one_that_would_serve_now(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """What compaction sizes for: with the primary cooling, the fallback's window."""
    from hermes_mcp.agent.model import serving_window
    from hermes_mcp.config import ModelRef

    home = Home(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, rate_limited(retry_after=120))
    fake.script(FALLBACK_KEY, reply("from the backup"))
    async with router_for(home, clock=Clock()) as router:
        assert router.next_route() == ModelRef("primary", "gpt-4o")
        assert serving_window(router) == ("primary:gpt-4o", 128_000)
        assert serving_window(router, "primary:my-model") == ("primary:my-model", 32_000)
        await router.complete(ChatRequest.of("hi"))  # the primary is cooling now
        assert router.next_route() == ModelRef("backup", "gpt-4o-mini")
        assert serving_window(router)[0] == "backup:gpt-4o-mini"
