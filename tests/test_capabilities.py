"""Capability-aware fallback (tools, images, context window) and cost from prices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.errors import FailureClass, NoRouteError
from hermes_mcp.llm.profiles import built_in, profile_for
from hermes_mcp.llm.types import ChatRequest, Image, Message, ToolDef, Usage
from hermes_mcp.testing import FakeProvider, context_overflow, rate_limited, reply
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B
from tests.routing import Home, router_for

TOOLS = (ToolDef("read_file", "Read a file", {"type": "object", "properties": {}}),)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def three(home: Home, fake: FakeProvider, middle: dict[str, object]) -> None:
    """primary:gpt-4o (KEY_A) → middle:local-model (KEY_B, facts given) → last (FALLBACK_KEY)."""
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "middle": {
                "url": fake.openai_base_url,
                "keys": [KEY_B],
                "models": {"local-model": middle},
            },
            "last": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("middle:local-model", "last:gpt-4.1"),
    )


@pytest.mark.anyio
async def test_a_fallback_without_tools_is_skipped_for_a_request_with_tools(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    three(home, fake, {"tools": False})
    fake.script(KEY_A, rate_limited(retry_after=30))
    request = ChatRequest((Message.user("read it"),), tools=TOOLS)
    async with router_for(home) as router:
        result = await router.complete(request)
        assert result.provider == "last"
        skipped = result.attempts[1]
        assert (skipped.provider, skipped.action, skipped.reason) == (
            "middle",
            "skip",
            "no tool support",
        )
        assert skipped.to_json()["reason"] == "no tool support"
        assert fake.count(key=KEY_B) == 0
        # Without tools the same model is fine.
        plain = await router.complete(ChatRequest.of("hi"))
    assert plain.provider == "middle"


@pytest.mark.anyio
async def test_images_skip_a_text_only_model(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    three(home, fake, {"vision": False})
    fake.script(KEY_A, rate_limited(retry_after=30))
    request = ChatRequest(
        (Message("user", "what is this?", images=(Image("image/png", "iVBORw0KGgo="),)),)
    )
    async with router_for(home) as router:
        result = await router.complete(request)
    assert result.provider == "last"
    assert result.attempts[1].reason == "no image input"
    body = fake.requests[-1].body
    assert body is not None
    parts = body["messages"][0]["content"]
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
    }


@pytest.mark.anyio
async def test_a_prompt_too_long_for_a_window_skips_that_model(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    three(home, fake, {"context_window": 1000})
    fake.script(KEY_A, rate_limited(retry_after=30))
    request = ChatRequest.of("x" * 20_000)  # about 5,000 tokens
    async with router_for(home) as router:
        result = await router.complete(request)
    assert result.provider == "last"
    reason = result.attempts[1].reason
    assert reason is not None and "exceeds its 1000 window" in reason


@pytest.mark.anyio
async def test_context_overflow_falls_back_only_to_a_larger_window(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """gpt-4o (128k) overflows: local-model (32k) is skipped, gpt-4.1 (1M) answers."""
    home = Home(tmp_path)
    three(home, fake, {"context_window": 32_000})
    fake.script(KEY_A, context_overflow())
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("long"))
    assert result.provider == "last"
    assert [(a.provider, a.error_class, a.action) for a in result.attempts] == [
        ("primary", "context_overflow", "fallback"),
        ("middle", None, "skip"),
        ("last", None, "served"),
    ]


@pytest.mark.anyio
async def test_context_overflow_with_no_larger_window_surfaces(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "last": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4.1",
        ("last:gpt-4o",),
    )
    fake.script(KEY_A, context_overflow())
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as info:
            await router.complete(ChatRequest.of("long"))
    assert info.value.failure_class is FailureClass.CONTEXT_OVERFLOW
    assert fake.count(key=FALLBACK_KEY) == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("wire", "model"),
    [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4"), ("gemini", "gemini-2.5-pro")],
)
async def test_cost_is_tokens_times_configured_prices(
    tmp_path: Path, fake: FakeProvider, wire: str, model: str
) -> None:
    home = Home(tmp_path)
    url = fake.openai_base_url if wire == "openai" else fake.url
    prices = {"input_per_mtok": 2.5, "output_per_mtok": 10.0, "cached_per_mtok": 1.25}
    home.write(
        {"primary": {"url": url, "keys": [KEY_A], "wire": wire, "models": {model: prices}}},
        f"primary:{model}",
    )
    fake.script(KEY_A, reply("ok", usage=(1000, 200, 400)), reply("again", usage=(1000, 200, 400)))
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
        async with router.stream(ChatRequest.of("hi")) as events:
            async for _ in events:
                pass
        streamed = events.result
    usage = result.completion.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (1000, 200, 400)
    expected = (600 * 2.5 + 400 * 1.25 + 200 * 10.0) / 1_000_000
    assert result.cost_usd == pytest.approx(expected)
    assert result.to_json()["cost_usd"] == pytest.approx(expected)
    assert result.attempts[-1].to_json()["cost_usd"] == pytest.approx(expected)
    assert streamed is not None and streamed.cost_usd == pytest.approx(expected)


def test_profiles_match_by_prefix_and_config_overrides() -> None:
    assert built_in("anthropic/claude-sonnet-4").context_window == 200_000
    assert built_in("gpt-4o-mini-2024-07-18").max_output == 16_384
    assert built_in("qwen3:8b").context_window is None  # unknown: assumed able
    from hermes_mcp.config import ModelSettings

    overridden = profile_for("gpt-4o", {"gpt-4o": ModelSettings(context_window=8000)})
    assert (overridden.context_window, overridden.tools) == (8000, True)
    no_prices = built_in("gpt-4o")
    assert no_prices.cost(Usage(10, 10)) is None


@pytest.mark.anyio
async def test_a_stream_skips_a_model_that_cannot_stream(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    three(home, fake, {"streaming": False})
    fake.script(KEY_A, rate_limited(retry_after=30))
    async with router_for(home) as router:
        async with router.stream(ChatRequest.of("hi")) as events:
            async for _ in events:
                pass
        assert events.result is not None and events.result.provider == "last"
        assert events.attempts[1].reason == "no streaming"
        assert (await router.complete(ChatRequest.of("hi"))).provider == "middle"
