"""Provider faults driven through the loopback fake: bodies nested too deeply, answers
that drip or never end, huge error pages. Each is a failure the router acts on (fail
over), bounded in time and in memory, and its text is bounded wherever it is carried."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.config import ProviderSection
from hermes_mcp.errors import NoRouteError
from hermes_mcp.llm.body import MAX_ERROR_TEXT
from hermes_mcp.llm.types import ChatRequest, TextDelta
from hermes_mcp.testing import FakeProvider, Step, fail, raw_body, reply
from tests.keys import FALLBACK_KEY, KEY_A, seen
from tests.routing import HERMES, Home, router_for

DEEP = 1_000
NESTED = "[" * DEEP + "]" * DEEP
NESTED_OBJ = '{"a":' * DEEP + "1" + "}" * DEEP
MODELS = {"openai": "gpt-4o", "gemini": "gemini-2.5-pro", "anthropic": "claude-sonnet-4"}

# Peak resident memory of a whole `hermes-mcp ask` process (Python, httpx2, aiohttp and
# the router loaded: about 60-80 MB) facing each fault. Before the caps, a 100 MB error
# peaked at 854 MB and an endless 200 grew past 500 MB.
RSS_BOUND_MB = 200


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def configure(
    home: Home, fake: FakeProvider, wire: str = "openai", *, fallback: bool = True, **extra: object
) -> None:
    url = fake.openai_base_url if wire == "openai" else fake.url
    providers: dict[str, dict[str, object]] = {
        "primary": {"url": url, "keys": [KEY_A], "wire": wire, **extra}
    }
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
    home.write(providers, f"primary:{MODELS[wire]}", ("backup:gpt-4o",) if fallback else ())


def _openai_call(arguments: str) -> dict[str, object]:
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": arguments}}
    return {"choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [call]}}]}


def _nested_args(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


NESTED_CASES: list[tuple[str, Step]] = [
    ("openai", fail(200, NESTED, content_type="application/json")),
    ("openai", fail(500, NESTED, content_type="application/json")),
    ("openai", fail(429, NESTED_OBJ, content_type="application/json")),
    ("openai", fail(200, json.dumps(_openai_call(NESTED_OBJ)))),
    ("anthropic", fail(200, NESTED, content_type="application/json")),
    ("anthropic", fail(500, NESTED_OBJ, content_type="application/json")),
    ("gemini", fail(200, NESTED, content_type="application/json")),
    ("gemini", fail(500, NESTED_OBJ, content_type="application/json")),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("wire", "step"), NESTED_CASES, ids=lambda v: str(v)[:40])
async def test_a_deeply_nested_body_is_a_failure_the_router_fails_over_from(
    tmp_path: Path, fake: FakeProvider, wire: str, step: Step
) -> None:
    home = Home(tmp_path)
    configure(home, fake, wire)
    fake.set_default(KEY_A, step)
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert result.text == "from the fallback"


@pytest.mark.anyio
@pytest.mark.parametrize("wire", ["anthropic", "gemini"])
async def test_tool_call_arguments_nested_too_deeply_are_malformed(
    tmp_path: Path, fake: FakeProvider, wire: str
) -> None:
    deep = _nested_args(200)  # parses fine; far deeper than any tool's arguments
    bodies = {
        "anthropic": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "t", "input": deep}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
        "gemini": {
            "candidates": [
                {
                    "content": {"parts": [{"functionCall": {"name": "t", "args": deep}}]},
                    "finishReason": "STOP",
                }
            ]
        },
    }
    home = Home(tmp_path)
    configure(home, fake, wire)
    fake.set_default(KEY_A, fail(200, bodies[wire]))
    async with router_for(home) as router:
        result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert result.attempts[0].status == "malformed"


@pytest.mark.anyio
async def test_a_stream_chunk_nested_too_deeply_fails_over(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, fail(200, f"data: {NESTED_OBJ}\n\n", content_type="text/event-stream"))
    async with router_for(home) as router, router.stream(ChatRequest.of("hi")) as events:
        text = "".join([d.text async for d in events if isinstance(d, TextDelta)])
    assert text == "from the fallback"


@pytest.mark.anyio
async def test_ask_json_with_a_nested_body_prints_the_fallbacks_answer(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, fail(500, NESTED, content_type="application/json"))
    ran = await _hermes(home, "ask", "--json", "hi")
    assert ran[0] == 0, ran
    assert json.loads(ran[1])["text"] == "from the fallback"


@pytest.mark.anyio
async def test_a_drip_is_cut_at_read_timeout_s_and_fails_over(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, read_timeout_s=1)
    fake.set_default(KEY_A, raw_body(chunk=" ", delay_s=0.1, prefix="{"))  # never ends
    async with router_for(home) as router:
        with anyio.fail_after(30):  # two tries of 1 s each, then the fallback
            result = await router.complete(ChatRequest.of("hi"))
    assert result.provider == "backup"
    assert [a.status for a in result.attempts[:2]] == ["timeout", "timeout"]


async def _hermes(home: Home, *args: str) -> tuple[int, str, str, float]:
    """``hermes-mcp ARGS`` as a real process: exit code, stdout, stderr, peak RSS (MB)."""
    cmd = [sys.executable, "-m", "tests.rss_of", HERMES, *args]
    with anyio.fail_after(60):
        proc = await anyio.run_process(cmd, env=home.process_env, check=False)
    out, err = seen(proc.stdout.decode()), seen(proc.stderr.decode())
    last = err.rstrip().rsplit("\n", 1)[-1]
    return proc.returncode, out, err, float(json.loads(last)["maxrss_mb"])


@pytest.mark.anyio
async def test_an_answer_that_never_ends_is_cut_at_the_cap_in_bounded_memory(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, raw_body(chunk="x" * 65536, prefix='{"choices": "'))  # no end
    code, out, _err, rss = await _hermes(home, "ask", "--json", "hi")
    assert code == 0
    answer = json.loads(out)
    assert answer["text"] == "from the fallback"
    assert answer["attempts"][0]["status"] == "malformed"
    assert rss < RSS_BOUND_MB, f"peak RSS {rss:.0f} MB"


@pytest.mark.anyio
async def test_a_100_mb_error_body_costs_bounded_memory_and_its_text_is_cut(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, fallback=False)
    fake.set_default(KEY_A, raw_body(500, "e" * 65536, repeat=1600, content_type="text/plain"))
    code, out, err, rss = await _hermes(home, "ask", "--json", "hi")
    assert code == 1
    assert rss < RSS_BOUND_MB, f"peak RSS {rss:.0f} MB"
    assert len(out) < 4 * MAX_ERROR_TEXT + 2000  # message, and the attempts without text
    assert len(err) < 20 * MAX_ERROR_TEXT
    state = (tmp_path / "state.db").read_bytes() if (tmp_path / "state.db").exists() else b""
    assert b"e" * (MAX_ERROR_TEXT + 10) not in state


@pytest.mark.anyio
async def test_an_error_message_is_redacted_before_it_is_cut(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """A key straddling the cut must not leave its first characters behind."""
    home = Home(tmp_path)
    configure(home, fake, fallback=False)
    text = "x" * 490 + KEY_A + " tail"  # the old cut (500 characters) split the key
    fake.set_default(KEY_A, fail(500, text))
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as caught:
            await router.complete(ChatRequest.of("hi"))
    message = caught.value.message
    assert KEY_A[:8] not in message
    assert len(message) < MAX_ERROR_TEXT + 200


@pytest.mark.anyio
async def test_an_html_404_says_the_base_url_is_probably_wrong(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake, fallback=False)
    page = "<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"
    fake.set_default(KEY_A, fail(404, page, content_type="text/html"))
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as caught:
            await router.complete(ChatRequest.of("hi"))
    message = caught.value.message
    assert "base_url" in message and "probably wrong" in message
    assert "<h1>" not in message


@pytest.mark.anyio
async def test_a_stream_that_never_ends_is_cut_at_max_body_bytes(
    tmp_path: Path, fake: FakeProvider
) -> None:
    from hermes_mcp.errors import ProviderError

    home = Home(tmp_path)
    configure(home, fake)
    cap = ProviderSection.model_fields["max_body_bytes"].default
    chunk = json.dumps({"choices": [{"delta": {"content": "x" * 1000}}]})
    fake.set_default(KEY_A, raw_body(chunk=f"data: {chunk}\n\n", content_type="text/event-stream"))
    received = 0
    async with router_for(home) as router, router.stream(ChatRequest.of("hi")) as events:
        with pytest.raises(ProviderError) as caught, anyio.fail_after(30):
            async for delta in events:
                if isinstance(delta, TextDelta):
                    received += len(delta.text)
    assert "max_body_bytes" in str(caught.value)
    assert cap // 2 < received <= cap
