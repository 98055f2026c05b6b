"""The fake provider's Anthropic, Gemini and Vertex dialects and its OAuth token endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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
    permission_denied,
    rate_limited,
    reply,
    server_error,
    slow,
    step_from_dict,
    stream,
    token_ok,
    token_refused,
    unauthorized,
)

pytestmark = pytest.mark.anyio

MESSAGES = "/v1/messages"
ANT_KEY = "ant-fake-key-0001"
GOOG_KEY = "goog-fake-key-0001"
PROJECT, LOCATION = "proj-1", "us-central1"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def fp() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=fp.url, trust_env=False) as c:
        yield c


# -- helpers ----------------------------------------------------------------------------------


async def messages(
    client: httpx2.AsyncClient,
    key: str | None = ANT_KEY,
    *,
    version: str | None = "2023-06-01",
    model: str = "claude-sonnet-4-5",
    **extra: Any,
) -> httpx2.Response:
    headers = {}
    if key is not None:
        headers["x-api-key"] = key
    if version is not None:
        headers["anthropic-version"] = version
    body = {
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }
    return await client.post(MESSAGES, json=body, headers=headers)


def gemini_path(model: str = "gemini-2.5-pro", method: str = "generateContent") -> str:
    return f"/v1beta/models/{model}:{method}"


def vertex_path(model: str = "gemini-2.5-pro", method: str = "generateContent") -> str:
    return f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}:{method}"


GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


async def gemini(
    client: httpx2.AsyncClient,
    key: str | None = GOOG_KEY,
    *,
    model: str = "gemini-2.5-pro",
    sse: bool | None = None,
    params: dict[str, str] | None = None,
) -> httpx2.Response:
    method = "generateContent" if sse is None else "streamGenerateContent"
    query = dict(params or {})
    if sse:
        query["alt"] = "sse"
    headers = {} if key is None else {"x-goog-api-key": key}
    return await client.post(
        gemini_path(model, method), json=GEMINI_BODY, headers=headers, params=query
    )


async def vertex(
    client: httpx2.AsyncClient,
    token: str | None,
    *,
    model: str = "gemini-2.5-pro",
    sse: bool = False,
) -> httpx2.Response:
    method = "streamGenerateContent" if sse else "generateContent"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    params = {"alt": "sse"} if sse else {}
    return await client.post(
        vertex_path(model, method), json=GEMINI_BODY, headers=headers, params=params
    )


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event."""
    events: list[tuple[str | None, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name = None
        data = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        if data is not None:
            events.append((name, data))
    return events


def anthropic_events(text: str) -> list[dict[str, Any]]:
    out = []
    for name, data in sse_events(text):
        payload = json.loads(data)
        assert payload["type"] == name  # the event line names the data's type
        out.append(payload)
    return out


def gemini_chunks(text: str) -> list[dict[str, Any]]:
    events = sse_events(text)
    assert all(name is None for name, _ in events)
    return [json.loads(data) for _, data in events]


def error_of(r: httpx2.Response) -> dict[str, Any]:
    body = r.json()
    if isinstance(body, list):
        body = body[0]
    error: dict[str, Any] = body["error"]
    return error


def detail(error: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [d for d in error.get("details", []) if d["@type"].endswith("." + kind)]
    assert len(found) == 1, error
    result: dict[str, Any] = found[0]
    return result


# -- Anthropic --------------------------------------------------------------------------------


async def test_anthropic_default_reply(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    r = await messages(client)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["request-id"].startswith("req_")
    body = r.json()
    assert body["id"].startswith("msg_")
    assert (body["type"], body["role"], body["model"]) == (
        "message",
        "assistant",
        "claude-sonnet-4-5",
    )
    assert body["content"] == [{"type": "text", "text": DEFAULT_TEXT}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    usage = body["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (10, 5)
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (0, 0)
    assert fp.requests[0].key == ANT_KEY
    assert fp.requests[0].model == "claude-sonnet-4-5"


async def test_anthropic_tools_thinking_usage(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(
        ANT_KEY,
        reply(
            "Let me look.",
            tool_calls=[("read_file", {"path": "a.txt"}), {"name": "ls", "id": "mine_1"}],
            usage=(100, 20, 64),
            thinking="The user wants a file.",
        ),
        reply("cut", finish_reason="length"),
    )
    body = (await messages(client)).json()
    thinking, text, call, call2 = body["content"]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] == "The user wants a file."
    assert thinking["signature"]
    assert text == {"type": "text", "text": "Let me look."}
    assert call["type"] == "tool_use"
    assert call["id"].startswith("toolu_")
    assert (call["name"], call["input"]) == ("read_file", {"path": "a.txt"})
    assert call2 == {"type": "tool_use", "id": "mine_1", "name": "ls", "input": {}}
    assert body["stop_reason"] == "tool_use"
    # Anthropic's input_tokens leave the cached part out.
    usage = body["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"]) == (36, 64)
    assert usage["output_tokens"] == 20
    assert (await messages(client)).json()["stop_reason"] == "max_tokens"


async def test_anthropic_refuses_missing_headers_before_the_script(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(ANT_KEY, reply("scripted"))
    r = await messages(client, version=None)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }
    assert body["request_id"] == r.headers["request-id"]
    r = await messages(client, key=None)
    assert (r.status_code, r.json()["error"]["type"]) == (401, "authentication_error")
    assert [(x.reason, x.status) for x in fp.rejections] == [
        ("missing_version", 400),
        ("missing_credential", 401),
    ]
    assert fp.count() == 2  # rejected requests are still requests
    assert fp.remaining(ANT_KEY) == 1  # ...but took no step
    assert (await messages(client)).json()["content"][0]["text"] == "scripted"


ANT_RATE = (
    "Number of request tokens has exceeded your per-minute rate limit "
    "(https://docs.anthropic.com/en/api/rate-limits); see the response headers for current "
    "usage. Please reduce the prompt length or the maximum tokens requested, or try again "
    "later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss "
    "your options for a rate limit increase."
)


@pytest.mark.parametrize(
    ("step", "status", "error_type", "message", "retry_after"),
    [
        (rate_limited(), 429, "rate_limit_error", ANT_RATE, "14"),
        (rate_limited(retry_after=3), 429, "rate_limit_error", ANT_RATE, "3"),
        (daily_quota(), 429, "rate_limit_error", "daily rate limit", "86400"),
        (
            payment_required(),
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
            "Billing to upgrade or purchase credits.",
            None,
        ),
        (unauthorized(), 401, "authentication_error", "invalid x-api-key", None),
        (permission_denied(), 403, "permission_error", "permission", None),
        (server_error(529), 529, "overloaded_error", "Overloaded", None),
        (server_error(), 500, "api_error", "Internal server error", None),
        (server_error(504), 504, "timeout_error", "Request timed out", None),
        (server_error(502, retry_after=7), 502, "api_error", "Internal server error", "7"),
        (
            context_overflow(),
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            None,
        ),
        (model_not_found(), 404, "not_found_error", "model: claude-sonnet-4-5", None),
    ],
)
async def test_anthropic_failures(
    fp: FakeProvider,
    client: httpx2.AsyncClient,
    step: Any,
    status: int,
    error_type: str,
    message: str,
    retry_after: str | None,
) -> None:
    fp.script(ANT_KEY, step)
    r = await messages(client, stream=True)  # failures are plain HTTP even when streaming
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["type"] == "error"
    assert body["request_id"].startswith("req_")
    assert body["error"]["type"] == error_type
    assert message in body["error"]["message"]
    assert r.headers.get("retry-after") == retry_after
    if status == 429:
        assert r.headers["anthropic-ratelimit-requests-remaining"] == "0"
        reset = r.headers["anthropic-ratelimit-requests-reset"]
        assert time.strptime(reset, "%Y-%m-%dT%H:%M:%SZ")


async def test_anthropic_stream_text(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(ANT_KEY, stream(chunks=["Hel", "lo"], usage=(30, 7, 10)))
    r = await messages(client, stream=True)
    assert r.headers["content-type"] == "text/event-stream"
    events = anthropic_events(r.text)
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = events[0]["message"]
    assert (message["role"], message["content"], message["stop_reason"]) == (
        "assistant",
        [],
        None,
    )
    assert message["model"] == "claude-sonnet-4-5"
    assert message["usage"]["input_tokens"] == 20
    assert message["usage"]["cache_read_input_tokens"] == 10
    assert events[1]["content_block"] == {"type": "text", "text": ""}
    assert [e["delta"] for e in events[3:5]] == [
        {"type": "text_delta", "text": "Hel"},
        {"type": "text_delta", "text": "lo"},
    ]
    assert events[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[6]["usage"] == {"output_tokens": 7}
    assert "[DONE]" not in r.text


async def test_anthropic_stream_thinking_and_tools(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    args = {"path": "some/rather/long/file/name.txt", "mode": "r"}
    fp.script(
        ANT_KEY,
        stream(
            "ok",
            tool_calls=[("read_file", args), ("ls", {})],
            thinking="Think first.",
        ),
    )
    events = anthropic_events((await messages(client, stream=True)).text)
    blocks: dict[int, dict[str, Any]] = {}
    for e in events:
        if e["type"] == "content_block_start":
            blocks[e["index"]] = {**e["content_block"], "deltas": []}
        elif e["type"] == "content_block_delta":
            blocks[e["index"]]["deltas"].append(e["delta"])
    assert [b["type"] for b in blocks.values()] == ["thinking", "text", "tool_use", "tool_use"]
    thinking = blocks[0]["deltas"]
    assert "".join(d["thinking"] for d in thinking if d["type"] == "thinking_delta") == (
        "Think first."
    )
    assert thinking[-1]["type"] == "signature_delta"
    tool = blocks[2]
    assert tool["id"].startswith("toolu_")
    assert (tool["name"], tool["input"]) == ("read_file", {})
    assert tool["deltas"][0] == {"type": "input_json_delta", "partial_json": ""}
    assert len(tool["deltas"]) >= 4
    assert json.loads("".join(d["partial_json"] for d in tool["deltas"])) == args
    # A tool without arguments: one empty partial_json, as the real API sends.
    assert blocks[3]["deltas"] == [{"type": "input_json_delta", "partial_json": ""}]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert stops == [0, 1, 2, 3]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


async def test_anthropic_stream_error_and_break(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(
        ANT_KEY,
        stream(text="one two three", error_event_after=1),
        stream(text="one two three", break_after=2),
    )
    r = await messages(client, stream=True)
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "error"]
    assert json.loads(events[-1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    lines: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        async with client.stream(
            "POST",
            MESSAGES,
            json={"model": "m", "max_tokens": 5, "stream": True},
            headers={"x-api-key": ANT_KEY, "anthropic-version": "2023-06-01"},
        ) as resp:
            async for line in resp.aiter_lines():
                lines.append(line)
    deltas = [json.loads(d) for n, d in sse_events("\n".join(lines)) if n == "content_block_delta"]
    assert [d["delta"]["text"] for d in deltas] == ["one", " two"]
    assert fp.disconnects == []


async def test_anthropic_error_in_200_and_malformed(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(ANT_KEY, error_in_200("Upstream error", code="overloaded_error"), malformed())
    r = await messages(client)
    assert r.status_code == 200
    assert r.json()["error"] == {"type": "overloaded_error", "message": "Upstream error"}
    r = await messages(client)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


# -- Gemini -----------------------------------------------------------------------------------


async def test_gemini_reply(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(
        GOOG_KEY,
        reply(usage=(100, 20, 64)),
        reply(
            "Reading.",
            tool_calls=[("read_file", {"path": "a.txt"})],
            thinking="Need the file.",
        ),
        reply("cut", finish_reason="length"),
    )
    r = await gemini(client)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    candidate = body["candidates"][0]
    assert candidate["content"] == {"role": "model", "parts": [{"text": DEFAULT_TEXT}]}
    assert (candidate["finishReason"], candidate["index"]) == ("STOP", 0)
    usage = body["usageMetadata"]
    assert (usage["promptTokenCount"], usage["candidatesTokenCount"]) == (100, 20)
    assert (usage["totalTokenCount"], usage["cachedContentTokenCount"]) == (120, 64)
    assert body["modelVersion"] == "gemini-2.5-pro"
    assert fp.requests[0].key == GOOG_KEY
    assert fp.requests[0].model == "gemini-2.5-pro"

    body = (await gemini(client)).json()
    thought, text, call = body["candidates"][0]["content"]["parts"]
    assert thought == {"text": "Need the file.", "thought": True}
    assert text == {"text": "Reading."}
    assert call["functionCall"] == {"name": "read_file", "args": {"path": "a.txt"}}
    assert call["thoughtSignature"]
    assert body["candidates"][0]["finishReason"] == "STOP"  # tool calls too, as Gemini does
    assert "cachedContentTokenCount" not in body["usageMetadata"]  # omitted when zero
    body = (await gemini(client)).json()
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"


async def test_gemini_stream(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(
        GOOG_KEY,
        stream(chunks=["Hel", "lo"], tool_calls=[("ls", {"dir": "."})], usage=(12, 4, 0)),
    )
    r = await gemini(client, sse=True)
    assert r.headers["content-type"] == "text/event-stream"
    assert "[DONE]" not in r.text
    chunks = gemini_chunks(r.text)
    parts = [c["candidates"][0]["content"]["parts"] for c in chunks]
    assert parts[:3] == [
        [{"text": "Hel"}],
        [{"text": "lo"}],
        [{"functionCall": {"name": "ls", "args": {"dir": "."}}}],  # whole, in one chunk
    ]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    last = chunks[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    usage = last["usageMetadata"]
    assert (usage["promptTokenCount"], usage["candidatesTokenCount"]) == (12, 4)
    assert usage["totalTokenCount"] == 16
    assert len({c["responseId"] for c in chunks}) == 1
    assert fp.requests[0].stream is True


async def test_gemini_stream_without_sse_is_a_json_array(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(GOOG_KEY, reply("whole"), rate_limited())
    r = await gemini(client, sse=False)
    body = r.json()
    assert isinstance(body, list)
    assert body[0]["candidates"][0]["content"]["parts"] == [{"text": "whole"}]
    assert fp.requests[0].stream is False
    r = await gemini(client, sse=False)
    assert r.status_code == 429
    assert isinstance(r.json(), list)
    assert error_of(r)["status"] == "RESOURCE_EXHAUSTED"


async def test_gemini_stream_error_event(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(GOOG_KEY, stream(text="one two three", error_event_after=2))
    chunks = gemini_chunks((await gemini(client, sse=True)).text)
    assert len(chunks) == 3
    assert chunks[1]["candidates"][0]["content"]["parts"] == [{"text": " two"}]
    assert chunks[2] == {
        "error": {
            "code": 503,
            "message": "The model is overloaded. Please try again later.",
            "status": "UNAVAILABLE",
        }
    }


async def test_gemini_refuses_key_in_url(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    fp.script(GOOG_KEY, reply("scripted"))
    r = await gemini(client, key=None, params={"key": GOOG_KEY})
    assert r.status_code == 400
    assert error_of(r)["status"] == "INVALID_ARGUMENT"
    assert "URL" in error_of(r)["message"]
    assert GOOG_KEY not in r.text
    r = await gemini(client, key=None)
    assert (r.status_code, error_of(r)["status"]) == (403, "PERMISSION_DENIED")
    assert [x.reason for x in fp.rejections] == ["key_in_url", "missing_credential"]
    assert fp.remaining(GOOG_KEY) == 1
    assert (await gemini(client)).status_code == 200
    assert fp.stats()["rejections"] == 2


GEMINI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


@pytest.mark.parametrize(
    ("step", "quota_id", "retry_delay"),
    [
        (rate_limited(), "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "14s"),
        (
            rate_limited(retry_after=2.5),
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            "2.500s",
        ),
        (daily_quota(), "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "59s"),
        (daily_quota(retry_after=None), "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "59s"),
        (
            daily_quota(retry_after=3600),
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            "3600s",
        ),
    ],
)
async def test_gemini_quota_errors(
    fp: FakeProvider,
    client: httpx2.AsyncClient,
    step: Any,
    quota_id: str,
    retry_delay: str,
) -> None:
    fp.script(GOOG_KEY, step)
    r = await gemini(client, model="gemini-2.5-flash")
    assert r.status_code == 429
    assert "retry-after" not in r.headers  # Gemini says it in the body only
    error = error_of(r)
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["message"].startswith(GEMINI_QUOTA)
    assert [d["@type"].rpartition(".")[2] for d in error["details"]] == [
        "QuotaFailure",
        "Help",
        "RetryInfo",
    ]
    (violation,) = detail(error, "QuotaFailure")["violations"]
    assert violation["quotaId"] == quota_id
    assert violation["quotaMetric"] == (
        "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    )
    assert violation["quotaDimensions"] == {"location": "global", "model": "gemini-2.5-flash"}
    assert detail(error, "RetryInfo")["retryDelay"] == retry_delay


@pytest.mark.parametrize(
    ("step", "status", "rpc", "message"),
    [
        (payment_required(), 429, "RESOURCE_EXHAUSTED", "Your prepayment credits are depleted."),
        (
            unauthorized(),
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
        (permission_denied(), 403, "PERMISSION_DENIED", "reported as leaked"),
        (server_error(503), 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        (server_error(), 500, "INTERNAL", "An internal error has occurred."),
        (server_error(504), 504, "DEADLINE_EXCEEDED", "Deadline expired"),
        (
            context_overflow(),
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576).",
        ),
        (
            model_not_found(),
            404,
            "NOT_FOUND",
            "models/gemini-2.5-pro is not found for API version v1beta, or is not supported "
            "for generateContent.",
        ),
    ],
)
async def test_gemini_failures(
    fp: FakeProvider,
    client: httpx2.AsyncClient,
    step: Any,
    status: int,
    rpc: str,
    message: str,
) -> None:
    fp.script(GOOG_KEY, step)
    r = await gemini(client)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    assert r.text.startswith('{\n  "error": {\n')  # Google pretty-prints its errors
    error = error_of(r)
    assert (error["code"], error["status"]) == (status, rpc)
    assert message in error["message"]
    if step == unauthorized():
        info = detail(error, "ErrorInfo")
        assert info["reason"] == "API_KEY_INVALID"
        assert info["metadata"]["service"] == "generativelanguage.googleapis.com"
    if step == payment_required():
        assert "details" not in error  # a 429 with no QuotaFailure and no RetryInfo


async def test_gemini_v1_and_stream_method_in_not_found(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(GOOG_KEY, model_not_found())
    r = await client.post(
        "/v1/models/gemini-9:streamGenerateContent",
        params={"alt": "sse"},
        json=GEMINI_BODY,
        headers={"x-goog-api-key": GOOG_KEY},
    )
    assert r.status_code == 404
    assert error_of(r)["message"].startswith(
        "models/gemini-9 is not found for API version v1, or is not supported for "
        "streamGenerateContent."
    )


async def test_gemini_error_in_200_and_malformed(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(GOOG_KEY, error_in_200("Upstream error", code=503), malformed())
    r = await gemini(client)
    assert (r.status_code, error_of(r)["code"], error_of(r)["message"]) == (
        200,
        503,
        "Upstream error",
    )
    r = await gemini(client)
    with pytest.raises(json.JSONDecodeError):
        r.json()


# -- Vertex and the token endpoint ------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def assertion(private: bytes, token_url: str, lifetime: int = 3600, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "robot@proj-1.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": token_url,
        "iat": now,
        "exp": now + lifetime,
        **claims,
    }
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": "key-1"})


async def token_request(client: httpx2.AsyncClient, **form: str) -> httpx2.Response:
    return await client.post("/token", data=form)


async def test_service_account_token_then_vertex(
    fp: FakeProvider, client: httpx2.AsyncClient, rsa_keys: tuple[bytes, bytes]
) -> None:
    private, public = rsa_keys
    fp.token_verify_key = public
    r = await token_request(
        client, grant_type=JWT_BEARER, assertion=assertion(private, fp.token_url)
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    grant = r.json()
    assert grant == {"access_token": "ya29.fake-1", "expires_in": 3599, "token_type": "Bearer"}
    (hit,) = fp.token_hits
    assert (hit.grant_type, hit.status, hit.access_token, hit.verified) == (
        JWT_BEARER,
        200,
        "ya29.fake-1",
        True,
    )
    assert hit.claims is not None
    assert hit.claims["iss"] == "robot@proj-1.iam.gserviceaccount.com"
    assert hit.claims["aud"] == fp.token_url
    assert hit.claims["exp"] - hit.claims["iat"] == 3600
    assert hit.scope == "https://www.googleapis.com/auth/cloud-platform"
    assert hit.jwt_header == {"alg": "RS256", "kid": "key-1", "typ": "JWT"}

    token = grant["access_token"]
    fp.script(token, reply("from vertex"))
    r = await vertex(client, token)
    assert r.status_code == 200
    assert r.json()["candidates"][0]["content"]["parts"] == [{"text": "from vertex"}]
    record = fp.requests[-1]
    assert (record.key, record.model) == (token, "gemini-2.5-pro")
    assert record.path == vertex_path()
    chunks = gemini_chunks((await vertex(client, token, sse=True)).text)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_token_verification_failures(
    fp: FakeProvider, client: httpx2.AsyncClient, rsa_keys: tuple[bytes, bytes]
) -> None:
    private, public = rsa_keys
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fp.token_verify_key = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fp.token_script(token_ok(expires_in=60))
    good = assertion(private, fp.token_url)
    r = await token_request(client, grant_type=JWT_BEARER, assertion=good)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    fp.token_verify_key = public
    r = await token_request(
        client, grant_type=JWT_BEARER, assertion=assertion(private, fp.token_url, lifetime=7200)
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    assert "short-lived" in r.json()["error_description"]
    r = await token_request(client, grant_type=JWT_BEARER, assertion="not-a-jwt")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    assert [h.verified for h in fp.token_hits] == [False, False, None]
    assert fp.issued_tokens == []
    # The scripted outcome is still there for the first well-formed request.
    r = await token_request(client, grant_type=JWT_BEARER, assertion=good)
    assert (r.status_code, r.json()["expires_in"]) == (200, 60)


async def test_refresh_token_grant_and_script(fp: FakeProvider, client: httpx2.AsyncClient) -> None:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "1//refresh",
        "client_id": "client-1.apps.googleusercontent.com",
        "client_secret": "shh",
    }
    fp.token_script(token_ok(expires_in=120), token_refused())
    r = await token_request(client, **form)
    assert r.json() == {"access_token": "ya29.fake-1", "expires_in": 120, "token_type": "Bearer"}
    r = await token_request(client, **form)
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    r = await token_request(client, **form)  # queue empty: the default grant
    assert r.json()["access_token"] == "ya29.fake-2"
    hits = fp.token_hits
    assert len(hits) == 3
    assert {(h.grant_type, h.client_id, h.refresh_token) for h in hits} == {
        ("refresh_token", "client-1.apps.googleusercontent.com", "1//refresh")
    }
    assert [h.error for h in hits] == [None, "invalid_grant", None]
    assert hits[0].claims is None

    fp.token_default = token_refused("invalid_client", "The OAuth client was not found.", 401)
    r = await token_request(client, **form)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")

    r = await token_request(client, **{**form, "client_secret": ""})
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "client_secret is missing.",
    }
    r = await token_request(client, grant_type="password")
    assert r.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Invalid grant_type: password",
    }
    r = await token_request(client, grant_type=JWT_BEARER)
    assert r.json()["error_description"] == "Missing required parameter: assertion"
    fp.reset()
    assert fp.token_hits == []
    assert fp.token_status("ya29.fake-1") == "valid"  # reset keeps issued tokens


async def test_vertex_refuses_unknown_and_expired_tokens(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    r = await vertex(client, "ya29.not-from-the-fake")
    assert r.status_code == 401
    error = error_of(r)
    assert error["status"] == "UNAUTHENTICATED"
    assert error["message"].startswith("Request had invalid authentication credentials.")
    assert detail(error, "ErrorInfo")["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    r = await vertex(client, None)
    assert (r.status_code, detail(error_of(r), "ErrorInfo")["reason"]) == (
        401,
        "CREDENTIALS_MISSING",
    )

    token = fp.issue_token()
    other = fp.issue_token()
    assert (await vertex(client, token)).status_code == 200
    fp.expire_tokens(token)
    r = await vertex(client, token)
    assert (r.status_code, detail(error_of(r), "ErrorInfo")["reason"]) == (
        401,
        "ACCESS_TOKEN_EXPIRED",
    )
    assert (await vertex(client, other)).status_code == 200
    fp.expire_tokens()
    assert (await vertex(client, other)).status_code == 401
    short = fp.issue_token(expires_in=0)
    assert fp.token_status(short) == "expired"
    assert [x.reason for x in fp.rejections] == [
        "unknown_token",
        "missing_credential",
        "expired_token",
        "expired_token",
    ]


@pytest.mark.parametrize(
    ("step", "status", "rpc", "check"),
    [
        (rate_limited(), 429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later."),
        (daily_quota(), 429, "RESOURCE_EXHAUSTED", "per_day_per_project_per_base_model"),
        (payment_required(), 403, "PERMISSION_DENIED", "requires billing to be enabled"),
        (unauthorized(), 401, "UNAUTHENTICATED", "invalid authentication credentials"),
        (
            permission_denied(),
            403,
            "PERMISSION_DENIED",
            "Permission 'aiplatform.endpoints.predict'",
        ),
        (server_error(503), 503, "UNAVAILABLE", "overloaded"),
        (server_error(), 500, "INTERNAL", "Internal error encountered."),
        (context_overflow(), 400, "INVALID_ARGUMENT", "The input token count"),
        (
            model_not_found(),
            404,
            "NOT_FOUND",
            f"Publisher Model `projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/"
            "gemini-2.5-pro` was not found",
        ),
    ],
)
async def test_vertex_failures(
    fp: FakeProvider,
    client: httpx2.AsyncClient,
    step: Any,
    status: int,
    rpc: str,
    check: str,
) -> None:
    token = fp.issue_token()
    fp.script(token, step)
    r = await vertex(client, token)
    assert r.status_code == status
    error = error_of(r)
    assert (error["code"], error["status"]) == (status, rpc)
    assert check in error["message"]
    if step == payment_required():
        info = detail(error, "ErrorInfo")
        assert (info["reason"], info["metadata"]["consumer"]) == (
            "BILLING_DISABLED",
            f"projects/{PROJECT}",
        )
    if step == rate_limited():
        assert "details" not in error  # Vertex's bare 429: no retry hint


async def test_vertex_rate_limit_with_retry_after(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    token = fp.issue_token()
    fp.script(token, rate_limited(retry_after=30))
    error = error_of(await vertex(client, token))
    assert detail(error, "RetryInfo")["retryDelay"] == "30s"


# -- format-neutral steps across the dialects --------------------------------------------------


async def test_the_same_queue_serves_every_dialect(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    token = fp.issue_token()
    for key in (ANT_KEY, GOOG_KEY, token):
        fp.script(key, slow(0.01, then=rate_limited()), hold(then=reply("after hold")))
    fp.release()
    assert (await messages(client)).status_code == 429
    assert (await gemini(client)).status_code == 429
    assert (await vertex(client, token)).status_code == 429
    assert (await messages(client)).json()["content"][0]["text"] == "after hold"
    assert (await gemini(client)).json()["candidates"][0]["content"]["parts"][0]["text"] == (
        "after hold"
    )
    assert (await vertex(client, token)).status_code == 200
    fp.script(ANT_KEY, fail(418, {"error": "teapot"}))
    assert (await messages(client)).json() == {"error": "teapot"}
    assert fp.count(key=GOOG_KEY) == 2


async def test_disconnect_mid_stream_on_anthropic(
    fp: FakeProvider, client: httpx2.AsyncClient
) -> None:
    fp.script(ANT_KEY, stream(chunks=["x"] * 200, delay_s=0.02))
    async with client.stream(
        "POST",
        MESSAGES,
        json={"model": "m", "max_tokens": 5, "stream": True},
        headers={"x-api-key": ANT_KEY, "anthropic-version": "2023-06-01"},
    ) as r:
        async for line in r.aiter_lines():
            if line.startswith("event: content_block_delta"):
                break
    record = await fp.wait_disconnect(key=ANT_KEY)
    assert record.path == MESSAGES


def test_new_steps_from_json() -> None:
    assert step_from_dict({"kind": "permission_denied"}) == permission_denied()
    step = step_from_dict({"kind": "reply", "text": "a", "thinking": "hmm"})
    assert step == reply("a", thinking="hmm")
    assert step_from_dict({"kind": "stream", "thinking": "t", "chunk_size": 2}) == stream(
        thinking="t", chunk_size=2
    )
