"""Anthropic Messages (``wire = "anthropic"``): ``base_url`` is the host root; requests go
to ``{base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``.

System messages become the top-level ``system``; tool calls are ``tool_use`` blocks and
tool results ``tool_result`` blocks inside a user turn (consecutive results share one
turn, as the API requires). Input tokens are normalised to include cache reads and cache
writes (OpenAI's ``prompt_tokens`` convention); ``cached_tokens`` is the cache reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.classify import classify_http
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

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192  # the API requires max_tokens; this fits every current model
# ``reasoning`` as a thinking budget (the API's minimum is 1,024). ``max_tokens`` counts
# thinking too, so the budget is added to the answer's own room.
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576}

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}


_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def tool_id(call_id: str | None) -> str:
    """Anthropic wants tool-use ids of ``[a-zA-Z0-9_-]``; ids from other formats are mapped
    the same way on both sides (the call and its result)."""
    return _ID_CHARS.sub("_", call_id or "call")


def _content(msg: Message) -> list[dict[str, Any]]:
    replay = msg.replay.for_wire("anthropic") if msg.replay else None
    if replay is not None:  # thinking (signed or redacted) before its tool_use, as sent
        return [dict(block) for block in replay]
    blocks: list[dict[str, Any]] = [
        {"type": "image", "source": {"type": "base64", "media_type": i.media_type, "data": i.data}}
        for i in msg.images
    ]
    if msg.content:
        blocks.append({"type": "text", "text": msg.content})
    for call in msg.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": tool_id(call.id), "name": call.name, "input": call.arguments}
        )
    return blocks


def _messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            continue
        if msg.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": tool_id(msg.tool_call_id),
                "content": msg.content,
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        role = "assistant" if msg.role == "assistant" else "user"
        blocks = _content(msg)
        if not blocks:  # the API rejects empty text blocks: an empty message says nothing
            continue
        if out and out[-1]["role"] == role:  # the API wants turns to alternate
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _loop_is_signed(messages: tuple[Message, ...]) -> bool:
    """Whether thinking may be on: with thinking, the API wants every assistant turn of
    the tool loop under way (since the last user message) to start with its signed
    thinking block. A loop begun on another wire (a failover) has none to send, so that
    request goes without thinking; the next user message starts a loop that has them."""
    for msg in reversed(messages):
        if msg.role == "user":
            return True
        if msg.role == "assistant" and msg.tool_calls:
            replay = msg.replay.for_wire("anthropic") if msg.replay else None
            if not replay or replay[0].get("type") not in ("thinking", "redacted_thinking"):
                return False
    return True


EPHEMERAL = {"type": "ephemeral"}
# Blocks that cannot carry cache_control themselves (the API refuses it on thinking).
_UNMARKABLE = frozenset({"thinking", "redacted_thinking"})


def mark_cache_breakpoints(body: dict[str, Any]) -> None:
    """Anthropic caches only up to explicit breakpoints (at most 4 a request). The stable
    prefix gets them: the last tool (the tool list alone, should the system prompt
    differ), the system prompt, and the last two turns, so each call reads the cache the
    previous call wrote and writes the next one. A prefix shorter than the model's
    minimum (1,024 tokens on most) is simply not cached."""
    marks = 0
    if body.get("tools"):
        body["tools"][-1] = {**body["tools"][-1], "cache_control": EPHEMERAL}
        marks += 1
    if body.get("system"):
        body["system"][-1] = {**body["system"][-1], "cache_control": EPHEMERAL}
        marks += 1
    for message in reversed(body["messages"]):
        if marks >= 4:
            break
        blocks = message["content"]
        for i in range(len(blocks) - 1, -1, -1):
            if blocks[i].get("type") not in _UNMARKABLE:
                blocks[i] = {**blocks[i], "cache_control": EPHEMERAL}
                marks += 1
                break


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    read = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0) + read + written,
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


def error_fields(data: Any) -> tuple[str, str]:
    """(message, type) of ``{"type": "error", "error": {"type", "message"}}``."""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or ""), str(err.get("type") or "")
    if isinstance(data, str):
        return data, ""
    return "", ""


class AnthropicWire:
    name = "anthropic"
    per_model_classes = frozenset({FailureClass.RATE_LIMIT})

    def url(self, base_url: str, model: str) -> str:
        return f"{base_url}/v1/messages"

    def stream_url(self, base_url: str, model: str) -> str:
        return self.url(base_url, model)

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if secret:
            headers["x-api-key"] = secret
        return headers

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        system, messages = _messages(request.messages)
        max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        budget = THINKING_BUDGETS.get(request.reasoning or "")
        if budget is not None and not _loop_is_signed(request.messages):
            budget = None  # see _loop_is_signed
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens + (budget or 0),
            "messages": messages,
        }
        if budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        elif request.reasoning == "off":
            body["thinking"] = {"type": "disabled"}
        if system:
            body["system"] = [{"type": "text", "text": system}]
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        mark_cache_breakpoints(body)
        if request.temperature is not None and budget is None:  # thinking takes no temperature
            body["temperature"] = request.temperature
        return body

    def stream_body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        return {**self.body(request, model), "stream": True}

    def stream_decoder(self) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(self)

    def is_error(self, data: Any) -> bool:
        return isinstance(data, dict) and data.get("type") == "error"

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise broken("no content blocks")
        stop = data.get("stop_reason")
        completion = read_blocks(
            data["content"],
            STOP_REASONS.get(str(stop), str(stop)) if stop else None,
            _usage(data.get("usage")),
            str(data["model"]) if data.get("model") else None,
        )
        if stop == "refusal" and not completion.text and not completion.tool_calls:
            raise ProviderError(FailureClass.CONTENT_POLICY, "the model refused to answer")
        return completion

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, now: float
    ) -> ProviderError:
        data = error_body(body)
        message, kind = error_fields(data)
        effective = status
        if status == 200:  # an in-stream error event
            effective = {"rate_limit_error": 429, "overloaded_error": 529}.get(kind, 502)
        if kind == "not_found_error":
            effective = 404
        return classify_http(effective, message=message, code=kind, headers=headers, now=now)


class AnthropicStreamDecoder:
    """``message_start`` … ``content_block_*`` … ``message_delta``, ``message_stop``.

    Every block is rebuilt as the non-streamed answer would hold it (``thinking`` with its
    ``signature``, ``redacted_thinking``, ``text``, ``tool_use`` and server-tool blocks
    such as ``server_tool_use`` or ``web_search_tool_result``), for the replay; only
    ``tool_use`` blocks are our tool calls, and a block of a kind we do not know is kept,
    never an error."""

    def __init__(self, wire: AnthropicWire) -> None:
        self._wire = wire
        self.done = False
        self._blocks: dict[int, dict[str, Any]] = {}  # block index → block being built
        self._json: dict[int, list[str]] = {}  # block index → its input's JSON pieces
        self._tool_order: dict[int, int] = {}  # tool_use block index → tool-call index
        self._stop: str | None = None
        self._usage: dict[str, Any] = {}
        self._model: str | None = None

    @property
    def finished(self) -> bool:
        return self.done or self._stop is not None

    def feed(self, event: str, data: str, now: float) -> list[Delta]:
        payload = loads_object(data)
        kind = event if event != "message" else str(payload.get("type") or "")
        if kind == "error":
            raise self._wire.classify(200, {}, data.encode(), now)
        if kind == "message_start":
            message = payload.get("message") or {}
            self._model = message.get("model")
            self._usage.update(message.get("usage") or {})
        elif kind == "content_block_start":
            return self._block_start(int(payload.get("index", 0)), payload.get("content_block"))
        elif kind == "content_block_delta":
            return self._block_delta(int(payload.get("index", 0)), payload.get("delta") or {})
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            if delta.get("stop_reason"):
                self._stop = str(delta["stop_reason"])
            # Cumulative counts: an explicit 0 is a figure too, only null is "not given".
            usage = payload.get("usage") or {}
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        elif kind == "message_stop":
            self.done = True
        return []

    def _block_start(self, index: int, block: Any) -> list[Delta]:
        if not isinstance(block, dict):
            raise broken("content_block_start without a block")
        self._blocks[index] = dict(block)
        kind = block.get("type")
        if kind == "tool_use":
            order = len(self._tool_order)
            self._tool_order[index] = order
            return [ToolCallDelta(order, block.get("id"), block.get("name"), "")]
        if kind == "text" and block.get("text"):
            return [TextDelta(str(block["text"]))]
        if kind == "thinking" and block.get("thinking"):
            return [ThinkingDelta(str(block["thinking"]))]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[Delta]:
        block = self._blocks.get(index)
        if block is None:
            raise broken(f"content_block_delta for block {index}, which never started")
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text") or "")
            block["text"] = str(block.get("text") or "") + text
            return [TextDelta(text)] if block.get("type") == "text" else []
        if kind == "input_json_delta":
            fragment = str(delta.get("partial_json") or "")
            self._json.setdefault(index, []).append(fragment)
            if index in self._tool_order:
                return [ToolCallDelta(self._tool_order[index], arguments=fragment)]
            return []  # a server tool's input: kept for the replay, not ours to run
        if kind == "thinking_delta":
            text = str(delta.get("thinking") or "")
            block["thinking"] = str(block.get("thinking") or "") + text
            return [ThinkingDelta(text)]
        if kind == "signature_delta":
            block["signature"] = str(block.get("signature") or "") + str(
                delta.get("signature") or ""
            )
        elif kind == "citations_delta" and isinstance(delta.get("citation"), dict):
            block.setdefault("citations", []).append(delta["citation"])
        return []

    def completion(self) -> Completion:
        blocks: list[dict[str, Any]] = []
        for index, block in sorted(self._blocks.items()):
            pieces = self._json.get(index)
            if pieces is not None:
                raw = "".join(pieces) or "{}"
                try:
                    block["input"] = json.loads(raw)
                except (ValueError, RecursionError) as exc:
                    raise broken(f"block {index} has unreadable input JSON") from exc
            elif block.get("type") == "tool_use" and not block.get("input"):
                block["input"] = {}
            blocks.append(block)
        return read_blocks(
            blocks,
            STOP_REASONS.get(self._stop, self._stop) if self._stop else None,
            _usage(self._usage),
            self._model,
        )


def read_blocks(
    blocks: list[Any], finish: str | None, usage: Usage, model: str | None
) -> Completion:
    """An answer's content blocks (streamed or not) as a ``Completion``: its text, its
    thinking, its ``tool_use`` calls, and every block kept for the replay."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
    kept = tuple(b for b in blocks if isinstance(b, dict) and _worth_replaying(b))
    return Completion(
        text="".join(text),
        tool_calls=tuple(calls),
        finish_reason=finish,
        usage=usage,
        model=model,
        thinking="".join(thinking),
        replay=Replay("anthropic", kept) if kept else None,
    )


def _worth_replaying(block: dict[str, Any]) -> bool:
    """The API refuses empty text blocks; every other block goes back as it came."""
    return not (block.get("type") == "text" and not block.get("text"))
