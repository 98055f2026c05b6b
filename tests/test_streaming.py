"""Streaming through the router: deltas, tool calls, failover before the first token,
classified errors after it (never replayed), timeouts, and cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.errors import FailureClass, StreamBroken
from hermes_mcp.llm.router import Router
from hermes_mcp.llm.types import ChatRequest, Delta, TextDelta, ToolCallDelta
from hermes_mcp.testing import (
    FakeProvider,
    Step,
    rate_limited,
    server_error,
    stream,
    unauthorized,
)
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home, router_for

HI = ChatRequest.of("hi")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, stream(chunks=["from ", "the ", "fallback"]))
        yield fp


def configure(home: Home, primary_url: str, fake: FakeProvider, **timeouts: float) -> None:
    home.write(
        {
            "primary": {"url": primary_url, "keys": [KEY_A], **timeouts},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("backup:gpt-4o-mini",),
    )


async def collect(router: Router) -> tuple[list[Delta], object]:
    deltas: list[Delta] = []
    with anyio.fail_after(30):
        async with router.stream(HI) as events:
            async for delta in events:
                deltas.append(delta)
            return deltas, events.result


def text_of(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


@pytest.mark.anyio
@pytest.mark.parametrize("sse", [{}, {"comments": True}, {"crlf": True}])
async def test_text_stream_with_usage_and_route(
    tmp_path: Path, fake: FakeProvider, sse: dict[str, bool]
) -> None:
    home = Home(tmp_path)
    configure(home, fake.openai_base_url, fake)
    fake.script(KEY_A, stream(chunks=["Hel", "lo", ", world"], usage=(12, 3, 4), **sse))
    async with router_for(home) as router:
        deltas, result = await collect(router)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["Hel", "lo", ", world"]
    assert result is not None
    assert result.provider == "primary"  # type: ignore[attr-defined]
    completion = result.completion  # type: ignore[attr-defined]
    assert completion.text == "Hello, world" and completion.finish_reason == "stop"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (12, 3)
    assert completion.usage.cached_tokens == 4
    body = fake.requests[0].body
    assert body is not None and body["stream"] is True


@pytest.mark.anyio
async def test_tool_call_deltas_assemble_into_calls(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    configure(home, fake.openai_base_url, fake)
    fake.script(
        KEY_A,
        stream(
            "",
            tool_calls=[
                {"id": "call_1", "name": "read_file", "arguments": {"path": "README.md"}},
                {"id": "call_2", "name": "terminal", "arguments": {"command": "ls -la"}},
            ],
        ),
    )
    async with router_for(home) as router:
        deltas, result = await collect(router)
    assert any(isinstance(d, ToolCallDelta) for d in deltas)
    calls = result.completion.tool_calls  # type: ignore[attr-defined]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_1", "read_file", {"path": "README.md"}),
        ("call_2", "terminal", {"command": "ls -la"}),
    ]
    assert result.completion.finish_reason == "tool_calls"  # type: ignore[attr-defined]


BEFORE_FIRST_TOKEN: list[tuple[str, list[Step], str]] = [
    ("429", [rate_limited(retry_after=30)], "rate_limit"),
    ("401", [unauthorized()], "auth"),
    ("5xx twice", [server_error(502), server_error(502)], "server_error"),
    ("error event", [stream("x y", error_event_after=0)] * 2, "server_error"),
    ("break", [stream("x y", break_after=0)] * 2, "server_error"),
    ("stall", [stream("x y", stall_before_first_s=5)] * 2, "timeout"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "steps", "cls"), BEFORE_FIRST_TOKEN, ids=[b[0] for b in BEFORE_FIRST_TOKEN]
)
async def test_failure_before_the_first_token_fails_over_invisibly(
    tmp_path: Path, fake: FakeProvider, name: str, steps: list[Step], cls: str
) -> None:
    home = Home(tmp_path)
    configure(home, fake.openai_base_url, fake, first_token_timeout_s=0.3)
    fake.script(KEY_A, *steps)
    async with router_for(home) as router:
        deltas, result = await collect(router)
    assert text_of(deltas) == "from the fallback"  # one clean stream, nothing of the primary
    assert result.provider == "backup"  # type: ignore[attr-defined]
    primary = [a for a in result.attempts if a.provider == "primary"]  # type: ignore[attr-defined]
    assert primary and all(a.error_class == cls for a in primary)
    assert fake.count(key=KEY_A) == len(steps)


@pytest.mark.anyio
async def test_connection_refused_before_first_token(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    configure(home, "http://127.0.0.1:9/v1", fake)
    async with router_for(home) as router:
        deltas, result = await collect(router)
    assert text_of(deltas) == "from the fallback"
    assert [a.status for a in result.attempts] == ["connect", "connect", 200]  # type: ignore[attr-defined]


AFTER_FIRST_TOKEN: list[tuple[str, Step, FailureClass]] = [
    ("break", stream(chunks=["a", "b", "c", "d"], break_after=2), FailureClass.SERVER_ERROR),
    ("error event", stream(chunks=["a", "b", "c"], error_event_after=2), FailureClass.SERVER_ERROR),
    ("idle stall", stream(chunks=["a", "b", "c"], delay_s=3), FailureClass.TIMEOUT),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "step", "cls"), AFTER_FIRST_TOKEN, ids=[a[0] for a in AFTER_FIRST_TOKEN]
)
async def test_failure_after_the_first_token_is_classified_never_replayed(
    tmp_path: Path, fake: FakeProvider, name: str, step: Step, cls: FailureClass
) -> None:
    home = Home(tmp_path)
    configure(home, fake.openai_base_url, fake, idle_timeout_s=0.5, first_token_timeout_s=5)
    fake.script(KEY_A, step)
    seen: list[Delta] = []
    async with router_for(home) as router:
        with pytest.raises(StreamBroken) as info, anyio.fail_after(30):
            async with router.stream(HI) as events:
                async for delta in events:
                    seen.append(delta)
    assert info.value.failure_class is cls
    assert info.value.provider == "primary"
    assert text_of(seen).startswith("a") and "from" not in text_of(seen)
    assert fake.count(key=KEY_A) == 1 and fake.count(key=FALLBACK_KEY) == 0


@pytest.mark.anyio
async def test_cancelled_stream_closes_the_connection_at_once(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake.openai_base_url, fake)
    # The stream never ends on its own (the second chunk comes in ten minutes): the
    # provider sees it closed only because the cancelled reader closed it.
    fake.script(KEY_A, stream(chunks=["first", " second", " third"], delay_s=600))
    async with router_for(home) as router:
        with anyio.CancelScope() as scope:
            async with router.stream(HI) as events:
                async for delta in events:
                    assert isinstance(delta, TextDelta) and delta.text == "first"
                    scope.cancel()
                    await anyio.sleep_forever()  # cancelled at once
        assert scope.cancelled_caught
        record = await fake.wait_disconnect(key=KEY_A)
    assert record.key == KEY_A and fake.in_flight == 0
