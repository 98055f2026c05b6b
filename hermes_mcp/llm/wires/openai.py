"""OpenAI chat completions (``wire = "openai"``): OpenAI, OpenRouter, Nous Portal, NVIDIA
NIM, z.ai, Kimi and local OpenAI-compatible servers. ``base_url`` holds the version
(``.../v1``); requests go to ``{base_url}/chat/completions`` with a bearer key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.classify import classify_http
from hermes_mcp.llm.types import (
    ChatRequest,
    Completion,
    Delta,
    Message,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from hermes_mcp.llm.wires.common import (
    MAX_ARGUMENT_DEPTH,
    broken,
    error_body,
    loads_object,
    too_deep,
)

# OpenAI's reasoning models (o1, o3, o4-mini, gpt-5 and its variants) refuse
# ``max_tokens`` ("Unsupported parameter") and any temperature but the default. Chosen by
# the model's name, whatever the base_url: gateways serve them as ``openai/gpt-5`` or
# ``azure/o3-mini`` and pass the body through.
_REASONING_MODEL = re.compile(r"^(o\d+(-|$)|gpt-5)")


@lru_cache(maxsize=256)
def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING_MODEL.match(model.rsplit("/", 1)[-1].lower()))


def effort(reasoning: str | None, model: str) -> str | None:
    """``reasoning`` as OpenAI's ``reasoning_effort`` / ``reasoning.effort``. "off" is
    ``minimal`` on gpt-5 and ``none`` on gpt-5.1 and later; o-series models cannot stop
    thinking, so they get the least they take (``low``); other models' servers get
    nothing for "off"."""
    if reasoning is None:
        return None
    if reasoning != "off":
        return reasoning
    name = model.rsplit("/", 1)[-1].lower()
    if re.match(r"^gpt-5\.\d", name):
        return "none"
    if name.startswith("gpt-5"):
        return "minimal"
    if _REASONING_MODEL.match(name):
        return "low"
    return None


def _message(msg: Message) -> dict[str, Any]:
    if msg.role == "tool":
        return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content}
    out: dict[str, Any] = {"role": msg.role, "content": msg.content}
    if msg.images:
        out["content"] = [
            *([{"type": "text", "text": msg.content}] if msg.content else []),
            *(
                {"type": "image_url", "image_url": {"url": f"data:{i.media_type};base64,{i.data}"}}
                for i in msg.images
            ),
        ]
    if msg.tool_calls:
        out["content"] = msg.content or None
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in msg.tool_calls
        ]
    return out


def _tool_call(raw: Any) -> ToolCall:
    try:
        function = raw["function"]
        arguments = function.get("arguments") or "{}"
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        if not isinstance(parsed, dict):
            raise TypeError("arguments are not an object")
        if too_deep(parsed):
            raise TypeError(f"arguments nested deeper than {MAX_ARGUMENT_DEPTH}")
        return ToolCall(id=str(raw.get("id") or ""), name=str(function["name"]), arguments=parsed)
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise broken(f"unreadable tool call ({type(exc).__name__}: {str(exc)[:100]})") from exc


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
    out_details = raw.get("completion_tokens_details") or {}
    reasoning = out_details.get("reasoning_tokens", 0) if isinstance(out_details, dict) else 0
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        reasoning_tokens=int(reasoning or 0),
    )


def error_fields(data: Any) -> tuple[str, str]:
    """(message, code) of an OpenAI-style error body, tolerant of its many variants."""
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, str):
        return err, ""
    if not isinstance(err, dict):
        return "", ""
    message = str(err.get("message") or "")
    code = " ".join(str(err[k]) for k in ("code", "type", "status") if err.get(k) is not None)
    metadata = err.get("metadata")
    if isinstance(metadata, dict) and metadata.get("raw"):
        message = f"{message} ({metadata['raw']})" if message else str(metadata["raw"])
    return message, code


def _metadata_headers(data: Any) -> dict[str, str]:
    """OpenRouter repeats the upstream's rate-limit headers in ``error.metadata.headers``."""
    err = data.get("error") if isinstance(data, dict) else None
    meta = err.get("metadata") if isinstance(err, dict) else None
    found = meta.get("headers") if isinstance(meta, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in found.items()}


class OpenAIWire:
    name = "openai"
    per_model_classes: frozenset[FailureClass] = frozenset()

    def url(self, base_url: str, model: str) -> str:
        return f"{base_url}/chat/completions"

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {secret}"} if secret else {}

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [_message(m) for m in request.messages],
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        reasoning_model = is_reasoning_model(model)
        if request.max_tokens is not None:
            key = "max_completion_tokens" if reasoning_model else "max_tokens"
            body[key] = request.max_tokens
        if request.temperature is not None and not reasoning_model:
            body["temperature"] = request.temperature
        if (level := effort(request.reasoning, model)) is not None:
            body["reasoning_effort"] = level
        if request.cache_key:
            body["prompt_cache_key"] = request.cache_key
        return body

    def stream_url(self, base_url: str, model: str) -> str:
        return self.url(base_url, model)

    def stream_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        body = self.body(request, model)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        return body

    def stream_decoder(self) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(self)

    def is_error(self, data: Any) -> bool:
        return isinstance(data, dict) and "error" in data and "choices" not in data

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise broken("body is not a JSON object")
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise broken("no choices[0].message") from exc
        if not isinstance(message, dict):
            raise broken("choices[0].message is not an object")
        calls = tuple(_tool_call(c) for c in message.get("tool_calls") or ())
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise broken("message content is not text")
        thinking = _reasoning_text(message)
        finish = choice.get("finish_reason")
        if finish == "content_filter" and not content and not calls:
            raise ProviderError(
                FailureClass.CONTENT_POLICY, "the provider's content filter stopped the answer"
            )
        return Completion(
            text=content,
            tool_calls=calls,
            finish_reason=str(finish) if finish is not None else None,
            usage=_usage(data.get("usage")),
            model=str(data["model"]) if data.get("model") else None,
            thinking=thinking,
        )

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, now: float
    ) -> ProviderError:
        data = error_body(body)
        message, code = error_fields(data)
        headers = {**headers, **_metadata_headers(data)}
        effective = status
        if status == 200:  # an error object inside a 200 (OpenRouter does this)
            inner = data.get("error") if isinstance(data, dict) else None
            inner_code = inner.get("code") if isinstance(inner, dict) else None
            effective = inner_code if isinstance(inner_code, int) and inner_code >= 400 else 502
        return classify_http(effective, message=message, code=code, headers=headers, now=now)


def _reasoning_text(message: Any) -> str:
    """The visible reasoning of a message or delta from an OpenAI-compatible server:
    ``reasoning_content`` (DeepSeek, vLLM, Qwen) or ``reasoning`` (OpenRouter, Ollama).
    Not sent back: servers that send it refuse it (or ignore it) in the input."""
    if not isinstance(message, dict):
        return ""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class OpenAIStreamDecoder:
    """Chat-completion chunks → deltas; assembles the final ``Completion``.

    ``data: [DONE]`` ends the stream; a chunk carrying ``error`` is an in-stream failure,
    classified like an error response.
    """

    def __init__(self, wire: OpenAIWire) -> None:
        self._wire = wire
        self.done = False
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self._finish: str | None = None
        self._usage = Usage()
        self._model: str | None = None

    def feed(self, event: str, data: str, now: float) -> list[Delta]:
        if data.strip() == "[DONE]":
            self.done = True
            return []
        if not data.strip():
            return []
        chunk = loads_object(data)
        if "error" in chunk or event == "error":
            raise self._wire.classify(200, {}, data.encode(), now)
        self._model = self._model or chunk.get("model")
        if chunk.get("usage"):
            self._usage = _usage(chunk["usage"])
        out: list[Delta] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            thought = _reasoning_text(delta)
            if thought:
                self._thinking.append(thought)
                out.append(ThinkingDelta(thought))
            text = delta.get("content")
            if text:
                self._text.append(text)
                out.append(TextDelta(text))
            for raw in delta.get("tool_calls") or ():
                out.append(self._tool_delta(raw))
            if choice.get("finish_reason"):
                self._finish = str(choice["finish_reason"])
        return out

    def _tool_delta(self, raw: Any) -> ToolCallDelta:
        try:
            index = int(raw.get("index", 0))
            function = raw.get("function") or {}
        except (AttributeError, TypeError, ValueError) as exc:
            raise broken("unreadable tool-call delta") from exc
        call = self._calls.setdefault(index, {"id": None, "name": None, "arguments": []})
        if raw.get("id"):
            call["id"] = raw["id"]
        if function.get("name"):
            call["name"] = function["name"]
        fragment = function.get("arguments") or ""
        call["arguments"].append(fragment)
        return ToolCallDelta(index, raw.get("id"), function.get("name"), fragment)

    @property
    def finished(self) -> bool:
        """Whether the provider said the answer is complete (``[DONE]`` or a finish reason)."""
        return self.done or self._finish is not None

    def completion(self) -> Completion:
        calls = tuple(
            _tool_call(
                {
                    "id": c["id"] or f"call_{i}",
                    "function": {"name": c["name"], "arguments": "".join(c["arguments"])},
                }
            )
            for i, c in sorted(self._calls.items())
        )
        return Completion(
            text="".join(self._text),
            tool_calls=calls,
            finish_reason=self._finish,
            usage=self._usage,
            model=self._model,
            thinking="".join(self._thinking),
        )
