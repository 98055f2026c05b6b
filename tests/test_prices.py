"""Prices out of the box: models of the major providers are priced from genai-prices
(so ``max_cost_usd`` counts them and ``cost_usd`` is known), the config's prices win,
and a model priced nowhere is said to be so (once, and in ``doctor``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_mcp.config import ModelRef
from hermes_mcp.llm.prices import is_local, prices
from hermes_mcp.llm.profiles import ModelProfile
from hermes_mcp.llm.types import Usage
from tests.keys import KEY_A
from tests.routing import Home, hermes, router_for

OPENAI = "https://api.openai.com/v1"


@pytest.mark.parametrize(
    ("wire", "url", "model"),
    [
        ("openai", OPENAI, "gpt-4o"),
        ("anthropic", "https://api.anthropic.com", "claude-sonnet-4-20250514"),
        ("gemini", "https://generativelanguage.googleapis.com", "gemini-2.5-pro"),
        ("openai", "https://openrouter.ai/api/v1", "anthropic/claude-sonnet-4"),
    ],
)
def test_the_major_providers_models_have_prices(
    tmp_path: Path, wire: str, url: str, model: str
) -> None:
    found = prices(tmp_path, wire, url, model)
    assert found is not None
    fresh, out, cached, written = found
    assert 0 < fresh < out and 0 < cached <= fresh <= written
    # Looked up once: the answer is kept for the next process.
    assert any(p.name.startswith("prices-") for p in tmp_path.iterdir())


def test_a_local_endpoint_or_an_unknown_model_has_none(tmp_path: Path) -> None:
    assert is_local("http://127.0.0.1:8080/v1") and is_local("http://localhost:11434/v1")
    assert is_local("http://192.168.1.9/v1") and not is_local(OPENAI)
    assert prices(tmp_path, "openai", "http://127.0.0.1:8080/v1", "gpt-4o") is None
    assert prices(tmp_path, "openai", OPENAI, "no-such-model-xyz") is None


def _home(tmp_path: Path, models: dict[str, dict[str, float]] | None = None) -> Home:
    home = Home(tmp_path)
    spec: dict[str, object] = {"url": OPENAI, "keys": [KEY_A]}
    if models:
        spec["models"] = models
    home.write({"oa": spec}, "oa:gpt-4o")
    return home


@pytest.mark.anyio
async def test_the_router_prices_a_known_model_and_the_config_overrides(tmp_path: Path) -> None:
    # No request is sent: a profile is read from the tables alone.
    async with router_for(_home(tmp_path)) as router:
        profile = router.profile(ModelRef("oa", "gpt-4o"))
    cost = profile.cost(Usage(input_tokens=1_000_000, output_tokens=1_000_000))
    assert cost is not None and cost > 0
    (tmp_path / "b").mkdir()
    prices_set = {"gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    home = _home(tmp_path / "b", prices_set)
    async with router_for(home) as router:
        priced = router.profile(ModelRef("oa", "gpt-4o"))
    assert priced.cost(Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 3.0


@pytest.mark.anyio
async def test_doctor_says_which_chain_model_has_no_price(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.write({"local": {"url": "http://127.0.0.1:9/v1", "keys": ["none"]}}, "local:qwen3:8b")
    ran = await hermes(home, "doctor")
    assert "price local:qwen3:8b: warning: no price is known" in ran.stdout
    assert "max_cost_usd" in ran.stdout


@pytest.mark.anyio
async def test_the_router_looks_prices_up_before_any_request(tmp_path: Path) -> None:
    """In a worker thread on entry, so the first lookup never stalls the event loop."""
    home = _home(tmp_path)
    async with router_for(home):
        cached = _price_files(tmp_path)
    assert cached and "gpt-4o" in cached[0]


def _price_files(home: Path) -> list[str]:
    return [p.read_text() for p in home.iterdir() if p.name.startswith("prices-")]


def test_anthropic_cache_writes_are_priced_at_the_write_rate(tmp_path: Path) -> None:
    found = prices(tmp_path, "anthropic", "https://api.anthropic.com", "claude-sonnet-4-5")
    assert found is not None
    fresh, out, read, written = found
    # Priced below Claude's long-context tier: $3 in, $15 out, $0.30 read, $3.75 write.
    assert (fresh, out, read, written) == pytest.approx((3.0, 15.0, 0.3, 3.75))
    profile = ModelProfile(
        input_per_mtok=fresh,
        output_per_mtok=out,
        cached_per_mtok=read,
        cache_write_per_mtok=written,
    )
    usage = Usage(
        input_tokens=10_000, output_tokens=1_000, cached_tokens=6_000, cache_write_tokens=3_000
    )
    expected = (1_000 * 3.0 + 6_000 * 0.3 + 3_000 * 3.75 + 1_000 * 15.0) / 1_000_000
    assert profile.cost(usage) == pytest.approx(expected)
