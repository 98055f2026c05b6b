"""Normalised, format-neutral types: what the agent sends and what the router returns.

Wire modules translate these to and from each provider's format; nothing above the wire
modules sees a provider's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hermes_mcp.errors import iso_utc

Role = Literal["system", "user", "assistant", "tool"]
Reasoning = Literal["off", "low", "medium", "high"]


@dataclass(frozen=True)
class Replay:
    """An assistant turn as the provider wrote it (Anthropic content blocks, Gemini parts,
    Responses output items), kept so that it goes back unchanged, in order, whenever the
    history returns to the same wire: thinking signatures, Gemini ``thoughtSignature``s
    and encrypted reasoning are opaque and must not be rebuilt. Another wire ignores it
    and builds the turn from the message's text and tool calls (thinking is never sent
    to another wire)."""

    wire: str
    items: tuple[Any, ...]  # JSON values, as the provider sent them

    def for_wire(self, wire: str) -> tuple[Any, ...] | None:
        return self.items if self.wire == wire and self.items else None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Image:
    """An image given to the model inline: its media type and base64 data."""

    media_type: str  # "image/png", "image/jpeg", ...
    data: str  # base64, no data: prefix


@dataclass(frozen=True)
class Message:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role "tool": the call this result answers
    name: str | None = None  # for role "tool": the tool's name
    images: tuple[Image, ...] = ()  # for role "user"
    replay: Replay | None = None  # for role "assistant": the provider's own blocks

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", text)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", text)

    @classmethod
    def assistant(
        cls, text: str = "", tool_calls: tuple[ToolCall, ...] = (), replay: Replay | None = None
    ) -> Message:
        return cls("assistant", text, tool_calls, replay=replay)

    @classmethod
    def tool(cls, call_id: str, name: str, content: str) -> Message:
        return cls("tool", content, tool_call_id=call_id, name=name)


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    tools: tuple[ToolDef, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    # Set by the provider from ``[providers.NAME.models."MODEL"] reasoning``; None: send
    # nothing and let the model decide.
    reasoning: Reasoning | None = None
    # The same for every request of a session and its children (OpenAI's
    # ``prompt_cache_key``): requests sharing a prefix reach the same cache.
    cache_key: str | None = None

    @classmethod
    def of(cls, prompt: str, *, system: str | None = None) -> ChatRequest:
        msgs = [Message.system(system)] if system else []
        return cls((*msgs, Message.user(prompt)))


@dataclass(frozen=True)
class Usage:
    """Tokens, normalised across formats: ``input_tokens`` includes cached ones (read and
    written), ``output_tokens`` includes reasoning ones. ``cached_tokens`` are the prompt
    tokens read from the provider's cache, ``cache_write_tokens`` those written to it
    (Anthropic prices them above plain input)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


Action = Literal["served", "rotate", "fallback", "retry", "surface", "skip"]


@dataclass(slots=True)
class Attempt:
    """One step of a route: a request sent (or a route skipped without sending)."""

    provider: str
    model: str
    credential: str | None  # fingerprint
    status: int | str | None  # HTTP status, "timeout", "connect", or None when skipped
    error_class: str | None
    action: Action
    elapsed_ms: float
    reason: str | None = None
    cost_usd: float | None = None  # the served attempt's cost, once known
    retry_at: float | None = None  # epoch seconds: when what was left behind recovers

    def to_json(self) -> dict[str, Any]:
        """The attempt as ``llm.records.AttemptRecord`` describes it (the one renderer)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "credential": self.credential,
            "action": self.action,
            "status": self.status,
            "error_class": self.error_class,
            "reason": self.reason,
            "retry_at": iso_utc(self.retry_at),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True)
class Completion:
    """What a wire module parses out of one successful response."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str | None = None  # as the provider reports it
    thinking: str = ""  # the visible reasoning (thinking text, reasoning summaries)
    replay: Replay | None = None

    def message(self) -> Message:
        """The assistant turn to put in the history (with its replay for the same wire)."""
        return Message.assistant(self.text, self.tool_calls, self.replay)


@dataclass(slots=True)
class Result:
    """A completion with its route: who served it and every attempt before."""

    completion: Completion
    provider: str
    model: str
    credential: str  # fingerprint
    attempts: tuple[Attempt, ...]
    cost_usd: float | None = None

    @property
    def text(self) -> str:
        return self.completion.text

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.completion.text,
            "provider": self.provider,
            "model": self.model,
            "credential": self.credential,
            "attempts": [a.to_json() for a in self.attempts],
            "usage": self.completion.usage.to_json(),
            "cost_usd": self.cost_usd,
            "thinking": self.completion.thinking,
        }


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's visible reasoning, where the provider streams it."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call: ``index`` names the call; ``id`` and ``name`` arrive with
    its first piece, ``arguments`` is a fragment of its JSON arguments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


Delta = TextDelta | ThinkingDelta | ToolCallDelta


def is_first_token(delta: Delta) -> bool:
    """DESIGN.md invariant 8: the first non-empty text or tool-call delta commits a stream."""
    if isinstance(delta, TextDelta):
        return bool(delta.text)
    if isinstance(delta, ToolCallDelta):
        return bool(delta.name or delta.arguments or delta.id)
    return False
