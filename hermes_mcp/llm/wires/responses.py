"""The OpenAI Responses API (``wire = "responses"``): ``base_url`` holds the version
(``.../v1``); requests go to ``{base_url}/responses`` with a bearer key.

Conversation state stays with us: ``store: false`` (nothing is kept on OpenAI's side)
and ``include: ["reasoning.encrypted_content"]``, so each answer's reasoning items come
back encrypted and go out again, unchanged and in order, with the next request of the
conversation (the answer's output items are its replay). Function calls and their
outputs are input items (``function_call`` / ``function_call_output``, matched by
``call_id``); reasoning summaries are shown as thinking. Failures are OpenAI error
objects, classified as on the chat wire; in a stream they arrive as ``error`` or
``response.failed`` events.
"""

from __future__ import annotations

import json
from typing import Any

from hermes_mcp.errors import FailureClass, ProviderError
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
from hermes_mcp.llm.wires.common import broken, loads_object, tool_call
from hermes_mcp.llm.wires.openai import OpenAIWire, effort, is_reasoning_model

NAME = "responses"
MIN_OUTPUT_TOKENS = 16
# In-stream error codes as the HTTP status the same failure has on a plain request.
_STREAM_STATUS = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
    "vector_store_timeout": 504,
}


def _input(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    instructions = "\n\n".join(m.content for m in messages if m.role == "system")
    items: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        if msg.role == "tool":
            items.append(
                {"type": "function_call_output", "call_id": msg.tool_call_id, "output": msg.content}
            )
            continue
        replay = msg.replay.for_wire(NAME) if msg.replay else None
        if replay is not None:  # reasoning (encrypted), message and calls, as sent
            # ...but without their ids: with store: false nothing is kept under an id,
            # and an id refers to a stored item (refused: "Items are not persisted").
            items.extend({k: v for k, v in item.items() if k != "id"} for item in replay)
            continue
        if msg.role == "user":
            content: list[dict[str, Any]] = []
            if msg.content:
                content.append({"type": "input_text", "text": msg.content})
            content += [
                {"type": "input_image", "image_url": f"data:{i.media_type};base64,{i.data}"}
                for i in msg.images
            ]
            if content:
                items.append({"role": "user", "content": content})
            continue
        if msg.content:
            items.append({"role": "assistant", "content": msg.content})
        items += [
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
            for call in msg.tool_calls
        ]
    return instructions, items


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    in_details = raw.get("input_tokens_details") or {}
    out_details = raw.get("output_tokens_details") or {}
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_tokens=int(in_details.get("cached_tokens") or 0),
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )


def _arguments(item: dict[str, Any]) -> Any:
    raw = item.get("arguments") or "{}"
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError) as exc:
        raise broken(f"function call {item.get('name')!r} has unreadable arguments") from exc


def read_response(data: dict[str, Any]) -> Completion:
    """A Response object (the non-streamed body, or a stream's final one)."""
    output = data.get("output")
    if not isinstance(output, list):
        raise broken("no output items")
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    refused = False
    for item in output:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    text.append(str(part.get("text") or ""))
                elif part.get("type") == "refusal":
                    refused = True
        elif kind == "reasoning":
            thinking += [str(s.get("text") or "") for s in item.get("summary") or ()]
        elif kind == "function_call":
            calls.append(tool_call(item.get("call_id"), item.get("name"), _arguments(item)))
    incomplete = (data.get("incomplete_details") or {}).get("reason")
    if refused and not text and not calls:
        raise ProviderError(FailureClass.CONTENT_POLICY, "the model refused to answer")
    if calls:
        finish = "tool_calls"
    elif incomplete == "max_output_tokens":
        finish = "length"
    elif incomplete == "content_filter":
        finish = "content_filter"
    else:
        finish = "stop"
    kept = tuple(i for i in output if isinstance(i, dict) and i.get("type") in _REPLAYED)
    return Completion(
        text="".join(text),
        tool_calls=tuple(calls),
        finish_reason=finish,
        usage=_usage(data.get("usage")),
        model=str(data["model"]) if data.get("model") else None,
        thinking="\n\n".join(t for t in thinking if t),
        replay=Replay(NAME, kept) if kept else None,
    )


# Output items that go back as input: the others (a hosted tool's call) are not ours.
_REPLAYED = frozenset({"reasoning", "message", "function_call"})


class ResponsesWire(OpenAIWire):
    """Auth, error classification and the 200-with-error test are the chat wire's."""

    name = NAME

    def url(self, base_url: str, model: str) -> str:
        return f"{base_url}/responses"

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        instructions, items = _input(request.messages)
        body: dict[str, Any] = {
            "model": model,
            "input": items,
            "store": False,
            "include": ["reasoning.encrypted_content"],
        }
        if instructions:
            body["instructions"] = instructions
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": False,
                }
                for t in request.tools
            ]
        if request.max_tokens is not None:  # the API refuses fewer than 16 (doctor asks 1)
            body["max_output_tokens"] = max(request.max_tokens, MIN_OUTPUT_TOKENS)
        if request.temperature is not None and not is_reasoning_model(model):
            body["temperature"] = request.temperature
        level = effort(request.reasoning, model)
        if level is not None:
            body["reasoning"] = {"effort": level, "summary": "auto"}
        if request.cache_key:
            body["prompt_cache_key"] = request.cache_key
        return body

    def stream_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        return {**self.body(request, model), "stream": True}

    def stream_decoder(self) -> ResponsesStreamDecoder:  # type: ignore[override]
        return ResponsesStreamDecoder(self)

    def is_error(self, data: Any) -> bool:
        return isinstance(data, dict) and bool(data.get("error")) and "output" not in data

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise broken("body is not a JSON object")
        if data.get("status") == "failed" and isinstance(data.get("error"), dict):
            raise self.in_stream_failure(data["error"], 0.0)
        return read_response(data)

    def in_stream_failure(self, error: dict[str, Any], now: float) -> ProviderError:
        code = str(error.get("code") or error.get("type") or "")
        status = _STREAM_STATUS.get(code, 500)
        body = json.dumps({"error": {**error, "code": code}}).encode()
        return self.classify(status, {}, body, now)


class ResponsesStreamDecoder:
    """``response.*`` events → deltas. The final ``response.completed`` (or
    ``response.incomplete``) event carries the whole Response, which gives the
    completion; there is no ``[DONE]``."""

    def __init__(self, wire: ResponsesWire) -> None:
        self._wire = wire
        self.done = False
        self._calls: dict[int, int] = {}  # output_index → tool-call index
        self._items: dict[int, dict[str, Any]] = {}  # output_index → finished item
        self._text: list[str] = []
        self._final: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self._final is not None

    def feed(self, event: str, data: str, now: float) -> list[Delta]:
        payload = loads_object(data)
        kind = str(payload.get("type") or event)
        if kind == "error":
            raise self._wire.in_stream_failure(payload, now)
        if kind == "response.failed":
            response = payload.get("response") or {}
            raise self._wire.in_stream_failure(response.get("error") or {}, now)
        if kind in ("response.completed", "response.incomplete"):
            response = payload.get("response")
            if not isinstance(response, dict):
                raise broken(f"{kind} without a response")
            self._final = response
            self.done = True
            return []
        index = int(payload.get("output_index", 0))
        if kind == "response.output_item.added":
            item = payload.get("item") or {}
            if item.get("type") == "function_call":
                order = self._calls.setdefault(index, len(self._calls))
                return [ToolCallDelta(order, item.get("call_id"), item.get("name"), "")]
        elif kind == "response.output_item.done":
            if isinstance(payload.get("item"), dict):
                self._items[index] = payload["item"]
        elif kind == "response.output_text.delta":
            text = str(payload.get("delta") or "")
            self._text.append(text)
            return [TextDelta(text)]
        elif kind == "response.function_call_arguments.delta":
            if index in self._calls:
                return [ToolCallDelta(self._calls[index], arguments=str(payload.get("delta")))]
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return [ThinkingDelta(str(payload.get("delta") or ""))]
        return []

    def completion(self) -> Completion:
        final = self._final
        if final is None:
            raise broken("the stream ended before response.completed")
        if not final.get("output") and self._items:  # a server that leaves it empty
            final = {**final, "output": [self._items[i] for i in sorted(self._items)]}
        return read_response(final)
