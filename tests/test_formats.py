"""Anthropic, Gemini and OpenAI's Responses API against the fake provider: plain and streamed answers, a tool
call and its result round trip, every failure class mapped from the real error bodies,
and the seed bug (a single Gemini key on a per-day quota)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.llm.types import ChatRequest, Message, TextDelta, ToolDef
from hermes_mcp.testing import (
    FakeProvider,
    Step,
    context_overflow,
    daily_quota,
    model_not_found,
    payment_required,
    rate_limited,
    reply,
    server_error,
    stream,
    unauthorized,
)
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B
from tests.routing import Home, Sleeps, hermes, router_for

WIRES = ["anthropic", "gemini", "responses"]
TOOLS = (
    ToolDef(
        "read_file",
        "Read a file",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
)
MODELS = {"anthropic": "claude-sonnet-4", "gemini": "gemini-2.5-pro", "responses": "gpt-5"}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def configure(home: Home, fake: FakeProvider, wire: str, keys: list[str]) -> None:
    home.write(
        {
            "primary": {
                "url": fake.openai_base_url if wire == "responses" else fake.url,
                "keys": keys,
                "wire": wire,
            },
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        f"primary:{MODELS[wire]}",
        ("backup:gpt-4o",),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("wire", WIRES)
async def test_plain_and_streamed_answers(tmp_path: Path, fake: FakeProvider, wire: str) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire, [KEY_A])
    fake.script(
        KEY_A, reply("Plain answer.", usage=(30, 4, 10)), stream(chunks=["Str", "eamed", "."])
    )
    async with router_for(home) as router:
        plain = await router.complete(ChatRequest.of("hi", system="Be brief."))
        with anyio.fail_after(30):
            async with router.stream(ChatRequest.of("hi")) as events:
                pieces = [d.text async for d in events if isinstance(d, TextDelta)]
                streamed = events.result
    assert (plain.provider, plain.text) == ("primary", "Plain answer.")
    usage = plain.completion.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (30, 4, 10)
    assert pieces == ["Str", "eamed", "."]
    assert streamed is not None and streamed.text == "Streamed."
    assert streamed.completion.finish_reason == "stop"
    first = fake.requests[0].body
    assert first is not None
    if wire == "anthropic":
        assert first["system"][0]["text"] == "Be brief."
    elif wire == "responses":
        assert first["instructions"] == "Be brief." and first["store"] is False
    else:
        assert first["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert not [r for r in fake.rejections]  # headers right; the Gemini key never in the URL


@pytest.mark.anyio
@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_call_and_result_round_trip(
    tmp_path: Path, fake: FakeProvider, wire: str, streamed: bool
) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire, [KEY_A])
    call = {"id": "toolu_01", "name": "read_file", "arguments": {"path": "README.md"}}
    fake.script(KEY_A, reply("", tool_calls=[call]), reply("It says hermes."))
    request = ChatRequest((Message.user("What does README.md say?"),), tools=TOOLS)
    async with router_for(home) as router:
        if streamed:
            async with router.stream(request) as events:
                async for _ in events:
                    pass
                first = events.result
            assert first is not None
        else:
            first = await router.complete(request)
        (tool_call,) = first.completion.tool_calls
        assert (tool_call.name, tool_call.arguments) == ("read_file", {"path": "README.md"})
        assert first.completion.finish_reason == "tool_calls"
        follow_up = ChatRequest(
            (
                *request.messages,
                Message.assistant("", (tool_call,)),
                Message.tool(tool_call.id, "read_file", "# hermes"),
            ),
            tools=TOOLS,
        )
        second = await router.complete(follow_up)
    assert second.text == "It says hermes."
    sent = fake.requests[-1].body
    assert sent is not None
    if wire == "anthropic":
        assert sent["messages"][1]["content"][0]["type"] == "tool_use"
        result = sent["messages"][2]["content"][0]
        assert (result["type"], result["tool_use_id"], result["content"]) == (
            "tool_result",
            sent["messages"][1]["content"][0]["id"],
            "# hermes",
        )
    elif wire == "responses":
        call_item, output = sent["input"][1], sent["input"][2]
        assert (call_item["type"], call_item["name"]) == ("function_call", "read_file")
        assert output == {
            "type": "function_call_output",
            "call_id": call_item["call_id"],
            "output": "# hermes",
        }
    else:
        assert sent["contents"][1]["parts"][0]["functionCall"]["name"] == "read_file"
        response = sent["contents"][2]["parts"][0]["functionResponse"]
        assert response == {"name": "read_file", "response": {"result": "# hermes"}}


FAILURES: list[tuple[str, Step, str]] = [
    ("rate limit", rate_limited(retry_after=20), "rate_limit"),
    ("daily quota", daily_quota(), "quota_exhausted"),
    ("billing", payment_required(), "billing"),
    ("auth", unauthorized(), "auth"),
    ("overloaded", server_error(529), "overloaded"),
    ("unavailable", server_error(503), "overloaded"),
    ("server error", server_error(500), "server_error"),
    ("model not found", model_not_found(), "model_not_found"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(("name", "step", "cls"), FAILURES, ids=[f[0] for f in FAILURES])
async def test_every_failure_class_from_real_bodies(
    tmp_path: Path, fake: FakeProvider, wire: str, name: str, step: Step, cls: str
) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire, [KEY_A])
    fake.set_default(KEY_A, step)
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert {a.error_class for a in result.attempts if a.provider == "primary"} == {cls}


@pytest.mark.anyio
@pytest.mark.parametrize("wire", WIRES)
async def test_context_overflow_is_surfaced(tmp_path: Path, fake: FakeProvider, wire: str) -> None:
    from hermes_mcp.errors import FailureClass, NoRouteError

    home = Home(tmp_path)
    configure(home, fake, wire, [KEY_A])  # the fallback (gpt-4o) has a smaller window
    fake.script(KEY_A, context_overflow())
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as info:
            await router.complete(ChatRequest.of("hi"))
    assert info.value.failure_class is FailureClass.CONTEXT_OVERFLOW


@pytest.mark.anyio
@pytest.mark.parametrize("wire", WIRES)
async def test_in_stream_error_before_the_first_token_fails_over(
    tmp_path: Path, fake: FakeProvider, wire: str
) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire, [KEY_A])
    fake.set_default(KEY_A, stream("never seen", error_event_after=0))
    fake.set_default(FALLBACK_KEY, stream(chunks=["from the ", "fallback"]))
    async with router_for(home) as router, router.stream(ChatRequest.of("hi")) as events:
        text = "".join([d.text async for d in events if isinstance(d, TextDelta)])
    assert text == "from the fallback"
    primary = [a for a in events.attempts if a.provider == "primary"]
    # Responses streams fail with response.failed (server_error); the others overloaded.
    expected = "server_error" if wire == "responses" else "overloaded"
    assert {a.error_class for a in primary} == {expected}


@pytest.mark.anyio
async def test_single_gemini_key_on_a_per_day_quota_is_never_retried(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """The seed bug: RESOURCE_EXHAUSTED per day, retryDelay 59s, one key, a fallback."""
    home = Home(tmp_path)
    configure(home, fake, "gemini", [KEY_A])
    fake.set_default(KEY_A, daily_quota())
    first = await hermes(home, "ask", "--json", "hi")
    out: dict[str, Any] = first.json()
    assert out["provider"] == "backup"
    assert [(a["error_class"], a["action"]) for a in out["attempts"]] == [
        ("quota_exhausted", "fallback"),
        (None, "served"),
    ]
    for _ in range(2):  # later processes: zero requests to the spent key
        assert (await hermes(home, "ask", "--json", "hi")).json()["provider"] == "backup"
    assert fake.count(key=KEY_A) == 1
    rows = (await hermes(home, "providers", "--json")).json()
    primary = next(r for r in rows if r["provider"] == "primary")
    assert primary["state"] == "cooling" and primary["last_class"] == "quota_exhausted"


@pytest.mark.anyio
async def test_gemini_per_minute_limit_rotates_to_a_sibling_without_waiting(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, "gemini", [KEY_A, KEY_B])
    fake.script(KEY_A, rate_limited(retry_after=14))
    sleeps = Sleeps()
    async with router_for(home, sleeps=sleeps) as router:
        result = await router.complete(ChatRequest.of("hi"))
        pool = router.providers["primary"].pool
        mark = pool.state(pool.credentials[0], MODELS["gemini"])
        other_model = pool.state(pool.credentials[0], "gemini-2.5-flash")
    assert result.provider == "primary" and sleeps.calls == []
    assert [a.action for a in result.attempts] == ["rotate", "served"]
    assert [r.key for r in fake.requests] == [KEY_A, KEY_B]
    assert mark is not None and mark.last_class == "rate_limit"
    assert other_model is None  # Gemini limits per model: other models keep the key
