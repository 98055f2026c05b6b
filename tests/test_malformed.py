"""Provider answers of the wrong shape or types are malformed responses: a transient
server error the router fails over from, never a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.llm.types import ChatRequest, TextDelta
from hermes_mcp.testing import FakeProvider, Step, fail, reply
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home, router_for

OK = {"id": "x", "choices": [{"message": {"role": "assistant", "content": "hi"}}]}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def configure(home: Home, fake: FakeProvider, wire: str = "openai") -> None:
    url = fake.openai_base_url if wire == "openai" else fake.url
    models = {"openai": "gpt-4o", "gemini": "gemini-2.5-pro", "anthropic": "claude-sonnet-4"}
    home.write(
        {
            "primary": {"url": url, "keys": [KEY_A], "wire": wire},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        f"primary:{models[wire]}",
        ("backup:gpt-4o",),
    )


def sse(*chunks: Any) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)


PLAIN: list[tuple[str, str, Step]] = [
    ("openai", "usage of the wrong type", fail(200, {**OK, "usage": {"prompt_tokens": "n/a"}})),
    (
        "openai",
        "tool_calls not a list",
        fail(200, {"choices": [{"message": {"content": "", "tool_calls": 5}}]}),
    ),
    ("openai", "choices of strings", fail(200, {"choices": ["x"]})),
    (
        "gemini",
        "finishReason a number",
        fail(200, {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": 1}]}),
    ),
    (
        "anthropic",
        "usage of the wrong type",
        fail(
            200,
            {
                "type": "message",
                "content": [{"type": "text", "text": "a"}],
                "usage": {"input_tokens": "x"},
            },
        ),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("wire", "name", "step"), PLAIN, ids=[f"{w}: {n}" for w, n, _ in PLAIN])
async def test_a_malformed_answer_fails_over(
    tmp_path: Path, fake: FakeProvider, wire: str, name: str, step: Step
) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire)
    fake.set_default(KEY_A, step)
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert [a.status for a in result.attempts[:2]] == ["malformed", "malformed"]


@pytest.mark.anyio
async def test_an_error_body_of_an_unexpected_shape_is_classified_by_status(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, "gemini")
    fake.set_default(KEY_A, fail(429, {"error": {"code": "quota", "status": 7, "details": "x"}}))
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert result.attempts[0].error_class == "rate_limit"


STREAMS = [
    ("choices of strings", sse({"choices": ["x"]})),
    (
        "function not an object",
        sse({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "x"}]}}]}),
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "body"), STREAMS, ids=[s[0] for s in STREAMS])
async def test_a_malformed_stream_before_its_first_token_fails_over(
    tmp_path: Path, fake: FakeProvider, name: str, body: str
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, fail(200, body, content_type="text/event-stream"))
    async with router_for(home) as router, router.stream(ChatRequest.of("hi")) as events:
        text = "".join([d.text async for d in events if isinstance(d, TextDelta)])
    assert text == "from the fallback"
    assert events.attempts[0].status == "malformed"
