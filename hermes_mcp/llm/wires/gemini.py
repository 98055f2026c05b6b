"""Gemini generateContent (``wire = "gemini"``): ``base_url`` is the host root; requests go
to ``{base_url}/v1beta/models/{model}:generateContent`` (streams:
``:streamGenerateContent?alt=sse``) with the key in ``x-goog-api-key``, never in the URL.

Failures are ``google.rpc.Status`` bodies. A 429 ``RESOURCE_EXHAUSTED`` is told apart by
its ``QuotaFailure`` quota ids, not by its ``RetryInfo``: a per-day quota still says
"retry in 59s", and believing it is the bug this project was started to fix. Per-day
quotas reset at midnight Pacific time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm import hints
from hermes_mcp.llm.classify import LONG_RESET_S, classify_http
from hermes_mcp.llm.types import (
    ChatRequest,
    Completion,
    Delta,
    Message,
    Replay,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from hermes_mcp.llm.wires.common import broken, error_body, loads_object, tool_call

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}
# JSON Schema keywords Gemini's OpenAPI-subset schema rejects.
_UNSUPPORTED_SCHEMA_KEYS = frozenset(
    {"$schema", "$id", "additionalProperties", "title", "default", "examples", "$comment"}
)
_STATUS_CODES = {
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "DEADLINE_EXCEEDED": 504,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
}


def _pacific() -> timezone | ZoneInfo:
    try:
        return ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no tz database: Pacific standard time is close enough
        return timezone(timedelta(hours=-8))


def seconds_to_pacific_midnight(now: float) -> float:
    """When Gemini's per-day quotas reset: the next midnight in America/Los_Angeles."""
    local = datetime.fromtimestamp(now, _pacific())
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() - now


def clean_schema(schema: Any) -> Any:
    """A JSON Schema reduced to what Gemini accepts: local ``$ref``s inlined, unsupported
    keywords dropped."""
    defs: dict[str, Any] = {}
    if isinstance(schema, dict):
        defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 32:
            return {}
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
            return walk(defs[ref.rsplit("/", 1)[-1]], depth + 1)
        return {
            key: walk(value, depth + 1)
            for key, value in node.items()
            if key not in _UNSUPPORTED_SCHEMA_KEYS and key not in ("$defs", "definitions")
        }

    return walk(schema)


# Google's documented value for a function call whose signature is not known (a turn
# written by another wire): Gemini 3 rejects a function-call turn of the current step
# without a signature, and accepts this one in its place.
SKIP_SIGNATURE = "skip_thought_signature_validator"


def _parts(msg: Message, names: dict[str, str], wire: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if msg.role == "tool":
        name = msg.name or names.get(msg.tool_call_id or "", "tool")
        parts.append({"functionResponse": {"name": name, "response": {"result": msg.content}}})
        return parts
    for call in msg.tool_calls:
        names[call.id] = call.name
    replay = msg.replay.for_wire(wire) if msg.replay else None
    if replay is not None:  # the model's own parts: signatures and thoughts, in order
        return [dict(part) for part in replay]
    if msg.content:
        parts.append({"text": msg.content})
    for image in msg.images:
        parts.append({"inlineData": {"mimeType": image.media_type, "data": image.data}})
    for index, call in enumerate(msg.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        if index == 0:  # Gemini signs the first call of a step
            part["thoughtSignature"] = SKIP_SIGNATURE
        parts.append(part)
    return parts


def contents(
    messages: tuple[Message, ...], wire: str = "gemini"
) -> tuple[str, list[dict[str, Any]]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        role = "model" if msg.role == "assistant" else "user"
        parts = _parts(msg, names, wire)
        if not parts:  # an empty message says nothing, and empty parts are refused
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return system, out


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        input_tokens=int(raw.get("promptTokenCount") or 0),
        output_tokens=int(raw.get("candidatesTokenCount") or 0)
        + int(raw.get("thoughtsTokenCount") or 0),
        cached_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=int(raw.get("thoughtsTokenCount") or 0),
    )


def _details(err: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        d
        for d in err.get("details") or ()
        if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)
    ]


def classify_status(
    status: int, data: Any, headers: Mapping[str, str], now: float
) -> ProviderError:
    """A ``google.rpc.Status`` error (Gemini and Vertex) as a classified failure."""
    if isinstance(data, list) and data:  # Vertex sometimes wraps the error in a list
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        text = data if isinstance(data, str) else ""
        return classify_http(status or 502, message=text, headers=headers, now=now)
    message = str(err.get("message") or "")
    rpc = str(err.get("status") or "")
    code = int(err.get("code") or 0) or _STATUS_CODES.get(rpc, status)
    effective = code if status == 200 else status
    reasons = " ".join(str(d.get("reason", "")) for d in _details(err, "ErrorInfo"))
    retry = [hints.parse_duration(str(d.get("retryDelay", ""))) for d in _details(err, "RetryInfo")]
    delay = next((r for r in retry if r is not None), None)
    quota_ids = [
        str(v.get("quotaId", "")) + " " + str(v.get("quotaMetric", ""))
        for d in _details(err, "QuotaFailure")
        for v in d.get("violations") or ()
        if isinstance(v, dict)
    ]
    if "BILLING_DISABLED" in reasons:
        return ProviderError(FailureClass.BILLING, message, status=effective)
    if rpc == "RESOURCE_EXHAUSTED" or effective == 429:
        # Quota ids when given; Vertex names its quota in the message instead.
        ids = " ".join(quota_ids).lower() or message.lower()
        if "perday" in ids or "per_day" in ids or "daily" in ids:
            return ProviderError(
                FailureClass.QUOTA_EXHAUSTED,
                message,
                status=effective,
                retry_after=delay,
                reset_in=seconds_to_pacific_midnight(now),
            )
        # Per-minute ids, or no ids but a short RetryInfo: Gemini's quota message reads
        # "You exceeded your current quota" for both kinds, so the words prove nothing.
        short = delay is not None and delay <= LONG_RESET_S
        if "perminute" in ids or "per_minute" in ids or (not quota_ids and short):
            return ProviderError(
                FailureClass.RATE_LIMIT, message, status=effective, retry_after=delay
            )
    if "API_KEY_INVALID" in reasons or "api key not valid" in message.lower():
        return ProviderError(FailureClass.AUTH, message, status=effective)
    if rpc in ("UNAUTHENTICATED", "PERMISSION_DENIED") and "billing" not in message.lower():
        return ProviderError(FailureClass.AUTH, message, status=effective)
    found = classify_http(effective, message=message, code=rpc, headers=headers, now=now)
    if found.retry_after is None:
        found.retry_after = delay
    return found


# ``reasoning`` for Gemini 2.5 models: a thinking budget in tokens (0 turns thinking off
# where the model allows it; Pro cannot, and gets its minimum, 128).
THINKING_BUDGETS = {"off": 0, "low": 1024, "medium": 8192, "high": 24576}


def thinking_config(reasoning: str | None, model: str) -> dict[str, Any] | None:
    """``reasoning`` as ``generationConfig.thinkingConfig``: Gemini 3 takes a
    ``thinkingLevel`` (Pro knows only low and high, and cannot stop thinking), earlier
    models a ``thinkingBudget``. Thoughts are asked for whenever the model thinks."""
    if reasoning is None:
        return None
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gemini-3"):
        pro = "pro" in name
        level = {
            "off": "low" if pro else "minimal",
            "low": "low",
            "medium": "high" if pro else "medium",
            "high": "high",
        }[reasoning]
        return {"thinkingLevel": level, "includeThoughts": True}
    budget = THINKING_BUDGETS[reasoning]
    if budget == 0 and "pro" in name:
        budget = 128
    return {"thinkingBudget": budget, "includeThoughts": budget > 0}


class GeminiWire:
    name = "gemini"
    per_model_classes = frozenset({FailureClass.RATE_LIMIT, FailureClass.QUOTA_EXHAUSTED})

    def url(self, base_url: str, model: str) -> str:
        return f"{base_url}/v1beta/models/{model}:generateContent"

    def stream_url(self, base_url: str, model: str) -> str:
        return f"{base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse"

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        return {"x-goog-api-key": secret} if secret else {}

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        system, turns = contents(request.messages, self.name)
        body: dict[str, Any] = {"contents": turns}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        if request.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": t.name,
                            "description": t.description,
                            "parameters": clean_schema(t.parameters),
                        }
                        for t in request.tools
                    ]
                }
            ]
        config: dict[str, Any] = {}
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if (thinking := thinking_config(request.reasoning, model)) is not None:
            config["thinkingConfig"] = thinking
        if config:
            body["generationConfig"] = config
        return body

    def stream_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        return self.body(request, model)

    def stream_decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(self)

    def is_error(self, data: Any) -> bool:
        return isinstance(data, dict) and "error" in data and "candidates" not in data

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise broken("body is not a JSON object")
        chunk = read_chunk(data)
        return Completion(
            text="".join(chunk.text),
            tool_calls=tuple(chunk.calls),
            finish_reason=chunk.finish,
            usage=_usage(data.get("usageMetadata")),
            model=str(data["modelVersion"]) if data.get("modelVersion") else None,
            thinking="".join(chunk.thoughts),
            replay=Replay(self.name, tuple(chunk.parts)) if chunk.parts else None,
        )

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, now: float
    ) -> ProviderError:
        data = error_body(body)
        return classify_status(status, data, headers, now)


class _Chunk:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.parts: list[dict[str, Any]] = []  # as sent, for the replay
        self.finish: str | None = None


def read_chunk(data: dict[str, Any], first_call_index: int = 0) -> _Chunk:
    """One GenerateContentResponse: its text, thoughts, function calls, finish reason."""
    chunk = _Chunk()
    candidates = data.get("candidates")
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise ProviderError(FailureClass.CONTENT_POLICY, f"prompt blocked: {blocked}")
        if "usageMetadata" in data:
            return chunk  # a usage-only chunk
        raise broken("no candidates")
    candidate = candidates[0]
    if not isinstance(candidate, dict):
        raise broken("candidate is not an object")
    for part in (candidate.get("content") or {}).get("parts") or ():
        if not isinstance(part, dict):
            continue
        if part.get("text") != "" or "thoughtSignature" in part:
            chunk.parts.append(part)  # an empty unsigned text part says nothing (and is refused)
        if "functionCall" in part:
            call = part["functionCall"] or {}
            index = first_call_index + len(chunk.calls)
            call_id = call.get("id") or f"call_{index}_{uuid4().hex[:8]}"
            chunk.calls.append(tool_call(call_id, call.get("name"), call.get("args")))
        elif part.get("thought"):
            chunk.thoughts.append(str(part.get("text") or ""))
        elif "text" in part:
            chunk.text.append(str(part["text"]))
    reason = candidate.get("finishReason")
    if reason and reason != "FINISH_REASON_UNSPECIFIED":
        chunk.finish = "tool_calls" if chunk.calls else FINISH_REASONS.get(reason, reason.lower())
    return chunk


class GeminiStreamDecoder:
    """Each SSE ``data:`` is a whole GenerateContentResponse; the stream ends at EOF once a
    chunk carried a finish reason (there is no ``[DONE]``)."""

    def __init__(self, wire: GeminiWire) -> None:
        self._wire = wire
        self.done = False
        self._text: list[str] = []
        self._calls: list[ToolCall] = []
        self._thoughts: list[str] = []
        self._parts: list[dict[str, Any]] = []
        self._finish: str | None = None
        self._usage = Usage()
        self._model: str | None = None

    @property
    def finished(self) -> bool:
        return self._finish is not None

    def _keep(self, part: dict[str, Any]) -> None:
        """A streamed part, for the replay. Consecutive pieces of unsigned text (or of
        unsigned thought) are joined into one part; a signed part is kept as sent, so
        every signature stays on the content it was given with, in order."""
        last = self._parts[-1] if self._parts else None
        kind = _text_kind(part)
        if (
            last is not None
            and kind is not None
            and kind == _text_kind(last)
            and "thoughtSignature" not in part
            and "thoughtSignature" not in last
        ):
            self._parts[-1] = {**last, "text": str(last["text"]) + str(part["text"])}
            return
        self._parts.append(dict(part))

    def feed(self, event: str, data: str, now: float) -> list[Delta]:
        payload = loads_object(data)
        if "error" in payload:
            raise self._wire.classify(200, {}, data.encode(), now)
        chunk = read_chunk(payload, first_call_index=len(self._calls))
        if payload.get("usageMetadata"):
            self._usage = _usage(payload["usageMetadata"])
        self._model = self._model or payload.get("modelVersion")
        for part in chunk.parts:
            self._keep(part)
        self._thoughts.extend(chunk.thoughts)
        out: list[Delta] = [ThinkingDelta(t) for t in chunk.thoughts if t]
        for text in chunk.text:
            if text:
                self._text.append(text)
                out.append(TextDelta(text))
        for call in chunk.calls:
            out.append(
                ToolCallDelta(len(self._calls), call.id, call.name, json.dumps(call.arguments))
            )
            self._calls.append(call)
        if chunk.finish:
            self._finish = "tool_calls" if self._calls else chunk.finish
        return out

    def completion(self) -> Completion:
        return Completion(
            text="".join(self._text),
            tool_calls=tuple(self._calls),
            finish_reason=self._finish,
            usage=self._usage,
            model=self._model,
            thinking="".join(self._thoughts),
            replay=Replay(self._wire.name, tuple(self._parts)) if self._parts else None,
        )


def _text_kind(part: dict[str, Any]) -> str | None:
    """ "text" or "thought" for a part holding only text (and its flags), else None."""
    if not isinstance(part.get("text"), str):
        return None
    if set(part) - {"text", "thought", "thoughtSignature"}:
        return None
    return "thought" if part.get("thought") else "text"
