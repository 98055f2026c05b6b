"""The fake LLM provider, over real HTTP on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from hermes_mcp.testing import (
    DEFAULT_TEXT,
    FakeProvider,
    context_overflow,
    daily_quota,
    error_in_200,
    fail,
    hold,
    malformed,
    model_not_found,
    payment_required,
    rate_limited,
    reply,
    server_error,
    slow,
    step_from_dict,
    stream,
    unauthorized,
)
from hermes_mcp.testing.fake_provider import main as cli_main

pytestmark = pytest.mark.anyio

CHAT = "/chat/completions"


@pytest.fixture
def fp() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=fp.openai_base_url, trust_env=False) as c:
        yield c


def _headers(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


async def chat(
    client: httpx2.AsyncClient, key: str | None = None, model: str = "gpt-4o", **extra: Any
) -> httpx2.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return await client.post(CHAT, json=body, headers=_headers(key))


def _events(text: str) -> list[str]:
    """The data payloads of an SSE body."""
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


async def test_default_reply_shape(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    r = await chat(client, "sk-a", model="gpt-4o-mini")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": DEFAULT_TEXT, "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        10,
        5,
        15,
    )
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0


async def test_reply_with_tool_calls_usage_and_model(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(
        "sk-a",
        reply(
            tool_calls=[{"name": "read_file", "arguments": {"path": "a.txt"}, "id": "call_1"}],
            usage=(100, 20, 64),
            model="served-model",
        ),
    )
    body = (await chat(client, "sk-a")).json()
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "read_file", "arguments": '{"path":"a.txt"}'},
        }
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["model"] == "served-model"
    assert body["usage"]["total_tokens"] == 120
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 64


async def test_per_key_queues_defaults_and_star_fallback(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script("sk-a", reply("a1"), reply("a2"))
    fp.script("*", reply("star1"))
    fp.set_default("sk-b", reply("b-default"))

    async def text(key: str | None) -> str:
        content: str = (await chat(client, key)).json()["choices"][0]["message"]["content"]
        return content

    assert await text("sk-a") == "a1"
    assert await text("sk-c") == "star1"  # no queue of its own: the "*" queue
    assert await text("sk-a") == "a2"
    assert await text("sk-a") == DEFAULT_TEXT  # own queue exhausted: the global default
    assert await text("sk-b") == "b-default"
    assert await text(None) == DEFAULT_TEXT  # "*" queue exhausted
    fp.set_default("*", reply("star-default"))
    assert await text("sk-c") == "star-default"
    assert await text("sk-b") == "b-default"
    assert fp.remaining("sk-a") == 0


async def test_credential_headers(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    await client.post(CHAT, json={}, headers={"x-api-key": "ant-key"})
    await client.post(CHAT, json={}, headers={"x-goog-api-key": "goog-key"})
    await client.post(CHAT, content=b"not json")
    assert [r.key for r in fp.requests] == ["ant-key", "goog-key", None]
    assert fp.requests[2].body is None


RATE_MSG = (
    "Rate limit reached for gpt-4o in organization org-xyz on requests per min (RPM): "
    "Limit 3, Used 3, Requested 1. Please try again in 20s."
)


@pytest.mark.parametrize(
    ("step", "status", "retry_after", "error"),
    [
        (
            rate_limited(),
            429,
            None,
            {"message": RATE_MSG, "type": "requests", "param": None, "code": "rate_limit_exceeded"},
        ),
        (rate_limited(retry_after=20), 429, "20", {"code": "rate_limit_exceeded"}),
        (rate_limited(retry_after=1.5), 429, "1.5", {"code": "rate_limit_exceeded"}),
        (daily_quota(), 429, "86400", {"type": "insufficient_quota", "code": "insufficient_quota"}),
        (daily_quota(retry_after=None), 429, None, {"code": "insufficient_quota"}),
        (
            payment_required(),
            402,
            None,
            {
                "code": 402,
                "message": "Insufficient credits. Add more using "
                "https://openrouter.ai/settings/credits",
            },
        ),
        (context_overflow(), 400, None, {"param": "messages", "code": "context_length_exceeded"}),
        (
            model_not_found(),
            404,
            None,
            {"type": "invalid_request_error", "code": "model_not_found"},
        ),
        (
            server_error(),
            500,
            None,
            {
                "message": "The server had an error while processing your request. "
                "Sorry about that!",
                "type": "server_error",
            },
        ),
        (server_error(502), 502, None, {"code": 502}),
        (
            server_error(503),
            503,
            None,
            {
                "message": "The engine is currently overloaded, please try again later",
                "type": "server_error",
            },
        ),
        (server_error(504), 504, None, {"code": 504}),
        (server_error(529), 529, None, {"type": "overloaded_error"}),
    ],
)
async def test_failure_steps(
    fp: FakeProvider,
    client: httpx2.AsyncClient,
    step: Any,
    status: int,
    retry_after: str | None,
    error: dict[str, Any],
) -> None:
    fp.script("sk-a", step)
    r = await chat(client, "sk-a")
    assert r.status_code == status
    assert r.headers.get("retry-after") == retry_after
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"].items() >= error.items()


async def test_unauthorized_echoes_only_last_four(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    key = "sk-proj-secretsecretabcd"
    fp.script(key, unauthorized())
    r = await chat(client, key)
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert "sk-...abcd" in error["message"]
    assert "secret" not in r.text


async def test_model_not_found_names_the_model(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script("*", model_not_found())
    r = await chat(client, "sk-a", model="gpt-5x")
    message = r.json()["error"]["message"]
    assert message == "The model `gpt-5x` does not exist or you do not have access to it."


async def test_fail_with_explicit_body_and_headers(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(
        "sk-a",
        fail(418, {"error": {"message": "teapot"}}, headers={"X-Extra": "1"}),
        fail(502, "<html>Bad gateway</html>", content_type="text/html"),
    )
    r = await chat(client, "sk-a")
    assert (r.status_code, r.json(), r.headers["x-extra"]) == (
        418,
        {"error": {"message": "teapot"}},
        "1",
    )
    r = await chat(client, "sk-a")
    assert (r.status_code, r.text, r.headers["content-type"]) == (
        502,
        "<html>Bad gateway</html>",
        "text/html",
    )


async def test_slow_then_step(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", slow(0.2, then=rate_limited()), slow(0.05))
    start = time.monotonic()
    r = await chat(client, "sk-a")
    assert time.monotonic() - start >= 0.2
    assert r.status_code == 429
    r = await chat(client, "sk-a")
    assert r.json()["choices"][0]["message"]["content"] == DEFAULT_TEXT


async def test_malformed_and_error_in_200(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", malformed(), error_in_200("Upstream error", code=429))
    r = await chat(client, "sk-a")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        r.json()
    r = await chat(client, "sk-a", stream=True)  # plain JSON even when streaming was asked
    assert (r.status_code, r.json()) == (200, {"error": {"code": 429, "message": "Upstream error"}})


async def test_stream_text_usage_and_done(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", reply("Hello streaming world", usage=(7, 3, 2)))
    r = await chat(client, "sk-a", stream=True, stream_options={"include_usage": True})
    assert r.headers["content-type"] == "text/event-stream"
    events = _events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == "gpt-4o" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert [d.get("content") for d in deltas[:-1]] == ["Hello", " streaming", " world"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 7
    assert chunks[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 2
    assert fp.requests[-1].stream is True


async def test_stream_chunks_without_usage(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", stream(chunks=["He", "llo"]), stream(text="abcdefg", chunk_size=3))
    chunks = [json.loads(e) for e in _events((await chat(client, "sk-a", stream=True)).text)[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["He", "llo", None]
    assert all("usage" not in c for c in chunks)
    chunks = [json.loads(e) for e in _events((await chat(client, "sk-a", stream=True)).text)[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[:-1]] == ["abc", "def", "g"]
    # A stream step on a non-streaming request is a plain reply.
    fp.script("sk-a", stream(text="plain"))
    assert (await chat(client, "sk-a")).json()["choices"][0]["message"]["content"] == "plain"


async def test_stream_tool_call_deltas(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    args = {"path": "some/rather/long/file/name.txt", "mode": "r"}
    fp.script(
        "sk-a",
        stream(tool_calls=[("read_file", args), {"name": "ls", "arguments": "{}", "id": "c2"}]),
    )
    events = _events((await chat(client, "sk-a", stream=True)).text)
    assert events[-1] == "[DONE]"
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    for event in events[:-1]:
        choice = json.loads(event)["choices"][0]
        for tc in choice["delta"].get("tool_calls", []):
            if "id" in tc:
                assert tc["type"] == "function"
                assert tc["function"]["arguments"] == ""
                calls[tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"], "args": ""}
            else:
                calls[tc["index"]]["args"] += tc["function"]["arguments"]
                fragments += 1
    first = json.loads(events[0])["choices"][0]["delta"]
    assert first["role"] == "assistant"
    assert first["content"] is None
    assert json.loads(calls[0]["args"]) == args
    assert calls[0]["name"] == "read_file"
    assert calls[1] == {"id": "c2", "name": "ls", "args": "{}"}
    assert fragments >= 3  # the long arguments come in several fragments
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_break_after(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", stream(text="one two three four", break_after=2))
    lines: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        async with client.stream(
            "POST", CHAT, json={"stream": True}, headers=_headers("sk-a")
        ) as r:
            async for line in r.aiter_lines():
                lines.append(line)
    events = _events("\n".join(lines))
    assert [json.loads(e)["choices"][0]["delta"]["content"] for e in events] == ["one", " two"]
    assert fp.disconnects == []  # the fake closed it, not the client
    # The fake still serves on new connections.
    assert (await chat(client, "sk-a")).status_code == 200


async def test_stream_error_event_after(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", stream(text="one two three", error_event_after=1))
    r = await chat(client, "sk-a", stream=True)
    events = _events(r.text)
    assert len(events) == 2
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "one"
    assert json.loads(events[1])["error"]["type"] == "server_error"
    assert "[DONE]" not in events


async def test_stream_comments_and_crlf(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", stream(text="a b", comments=True, crlf=True))
    raw = (await chat(client, "sk-a", stream=True)).content
    assert raw.count(b": keep-alive\r\n\r\n") >= 2
    assert raw.endswith(b"data: [DONE]\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert _events(raw.decode())[-1] == "[DONE]"


async def test_stream_stall_and_delay(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", stream(chunks=["a", "b", "c"], stall_before_first_s=0.5, delay_s=0.05))
    start = time.monotonic()
    with anyio.fail_after(30):
        async with client.stream(
            "POST", CHAT, json={"stream": True}, headers=_headers("sk-a")
        ) as r:
            first_at = None
            async for line in r.aiter_lines():
                if line.startswith("data: ") and first_at is None:
                    first_at = time.monotonic() - start
            done_at = time.monotonic() - start
    assert first_at is not None
    assert first_at >= 0.5
    assert done_at - first_at >= 0.1  # two delays between three chunks


async def test_stream_headers_come_before_the_stall(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script("sk-a", stream(chunks=["a"], stall_before_first_s=600))
    with anyio.fail_after(30):
        async with client.stream(
            "POST", CHAT, json={"stream": True}, headers=_headers("sk-a")
        ) as r:
            assert r.status_code == 200  # while the first chunk is ten minutes away
    assert (await fp.wait_disconnect(key="sk-a")).key == "sk-a"


async def test_failure_on_streaming_request_is_plain_http(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script("sk-a", rate_limited(5))
    r = await chat(client, "sk-a", stream=True)
    assert (r.status_code, r.headers["retry-after"]) == (429, "5")
    assert r.json()["error"]["code"] == "rate_limit_exceeded"


async def test_counting(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    await chat(client, "sk-a", model="m1")
    await chat(client, "sk-a", model="m2")
    await chat(client, "sk-b", model="m1", stream=True)
    await client.post(fp.url + "/chat/completions", json={})
    assert fp.count() == 4
    assert fp.count(key="sk-a") == 2
    assert fp.count(model="m1") == 2
    assert fp.count(key="sk-b", model="m1") == 1
    assert fp.count(path="/v1/chat/completions") == 3
    assert fp.count(path="/chat/completions") == 1
    first = fp.requests[0]
    assert (first.method, first.key, first.model, first.stream) == ("POST", "sk-a", "m1", False)
    assert first.body is not None
    assert first.body["messages"][0]["content"] == "hi"
    assert fp.max_in_flight == 1
    assert fp.in_flight == 0
    fp.script("sk-a", reply("queued"))
    fp.reset()
    assert (fp.count(), fp.remaining("sk-a")) == (0, 0)


async def test_disconnect_while_slow(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-a", slow(600))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(chat, client, "sk-a")
            await fp.wait_in_flight(1)
            tg.cancel_scope.cancel()
        record = await fp.wait_disconnect()  # long before the slow step would end
    assert (record.key, record.path) == ("sk-a", "/v1/chat/completions")
    assert fp.in_flight == 0


async def test_disconnect_mid_stream(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("sk-s", stream(chunks=["x"] * 3, delay_s=600))  # never ends on its own
    with anyio.fail_after(30):
        async with client.stream(
            "POST", CHAT, json={"stream": True}, headers=_headers("sk-s")
        ) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    break
        record = await fp.wait_disconnect(key="sk-s")
    assert record.key == "sk-s"
    assert len(fp.disconnects) == 1


async def test_keys_in_flight_on_slow_steps(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    keys = ["sk-1", "sk-2", "sk-3"]
    for key in keys:
        fp.script(key, slow(30))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for key in keys:
                tg.start_soon(chat, client, key)
            await fp.wait_keys_in_flight(3)
            assert fp.in_flight == 3
            assert fp.in_flight_by_key() == {"sk-1": 1, "sk-2": 1, "sk-3": 1}
            tg.cancel_scope.cancel()
        await fp.wait_disconnect(count=3)
    assert fp.keys_in_flight_max() == 3
    assert fp.max_in_flight == 3


async def test_hold_until_release(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script("*", hold(then=reply("released")), hold(), hold("other"))
    results: list[int] = []

    async def call(key: str) -> None:
        results.append((await chat(client, key)).status_code)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for key in ("sk-a", "sk-b"):
                tg.start_soon(call, key)
            await fp.wait_keys_in_flight(2)
            assert results == []
            fp.release()
        assert results == [200, 200]
        fp.release("other")
        r = await chat(client, "sk-c")
    assert r.status_code == 200
    assert fp.max_in_flight_by_key() == {"sk-a": 1, "sk-b": 1, "sk-c": 1}


async def test_latency(client: httpx2.AsyncClient, fp: FakeProvider) -> None:
    fp.latency_s = 0.1
    start = time.monotonic()
    assert (await chat(client)).status_code == 200
    assert time.monotonic() - start >= 0.1


async def test_control_endpoints(fp: FakeProvider) -> None:
    async with httpx2.AsyncClient(base_url=fp.url, trust_env=False) as c:
        r = await c.post("/_fake/script", json={"sk-a": [{"kind": "payment_required"}]})
        assert r.status_code == 204
        assert (await c.post("/v1/chat/completions", headers=_headers("sk-a"))).status_code == 402
        stats = (await c.get("/_fake/stats")).json()
        assert (stats["requests"], stats["by_key"]) == (1, {"sk-a": 1})
        assert (await c.post("/_fake/script", json={"k": {"kind": "nope"}})).status_code == 400
        assert (await c.post("/_fake/reset")).status_code == 204
    assert fp.count() == 0


def test_sync_use_and_block_until() -> None:
    fp = FakeProvider(record_bodies=False)
    with fp, httpx2.Client(base_url=fp.url, trust_env=False) as c:
        fp.set_default(None, server_error(503))
        assert c.post("/v1/chat/completions", json={"model": "m"}).status_code == 503
        fp.block_until(lambda: fp.count() == 1, timeout=1)
        assert (fp.requests[0].model, fp.requests[0].body) == ("m", None)
        with pytest.raises(TimeoutError):
            fp.block_until(lambda: fp.count() == 2, timeout=0.05)
    fp.stop()  # twice is fine


def test_steps_from_json() -> None:
    assert step_from_dict({"kind": "daily_quota", "retry_after": 10}) == daily_quota(10)
    nested = step_from_dict({"kind": "slow", "seconds": 1, "then": {"kind": "reply", "text": "x"}})
    assert nested == slow(1, reply("x"))
    tool = step_from_dict({"kind": "reply", "tool_calls": [{"name": "f", "id": "c"}]})
    assert tool == reply(tool_calls=[{"name": "f", "id": "c"}])
    with pytest.raises(ValueError, match="unknown step kind"):
        step_from_dict({"kind": "nope"})
    with pytest.raises(ValueError, match="bad arguments"):
        step_from_dict({"kind": "reply", "colour": "red"})


def test_refuses_non_loopback_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeProvider("0.0.0.0")
    with pytest.raises(SystemExit) as exc:
        cli_main(["--host", "192.168.1.10"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "loopback" in captured.err
    assert captured.out == ""


async def test_cli_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "sk-a": [
                    {"kind": "daily_quota", "retry_after": 86400},
                    {"kind": "reply", "text": "hi"},
                ],
                "*": {"kind": "rate_limited"},
            }
        )
    )
    command = [
        sys.executable,
        "-m",
        "hermes_mcp.testing.fake_provider",
        "--script",
        str(script),
        "--latency-ms",
        "1",
    ]
    with anyio.fail_after(30):
        async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
            assert process.stdout is not None
            assert process.stderr is not None
            try:
                buffer = b""
                while b"\n" not in buffer:
                    buffer += await process.stdout.receive()
                line, rest = buffer.split(b"\n", 1)
                url = json.loads(line)["url"]
                assert url.startswith("http://127.0.0.1:")
                async with httpx2.AsyncClient(base_url=url + "/v1", trust_env=False) as c:
                    statuses = [(await chat(c, "sk-a")).status_code for _ in range(3)]
                    assert (await chat(c, "sk-other")).status_code == 429
            finally:
                process.terminate()  # a server does not exit when its pipes close
            assert await process.wait() == 0
            out = rest + b"".join([chunk async for chunk in process.stdout])
            err = b"".join([chunk async for chunk in process.stderr])
    # sk-a: its queue, then the "*" default.
    assert statuses == [429, 200, 429]
    assert out == b""
    assert err == b""
