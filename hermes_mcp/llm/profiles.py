"""What a model can do, and what it costs: a built-in table by model name, overridden
per model in the config (``[providers.NAME.models."MODEL"]``).

A field left ``None`` is unknown. The router only skips a route on a *known* limit: an
unknown model is assumed able (local servers, new releases), except where a request
needs more context than the failing model had (see ``Router``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from hermes_mcp.config import ModelSettings
from hermes_mcp.llm.types import ChatRequest, Usage


@dataclass(frozen=True)
class ModelProfile:
    context_window: int | None = None
    max_output: int | None = None
    tools: bool | None = None
    vision: bool | None = None
    streaming: bool | None = None
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None

    def cost(self, usage: Usage) -> float | None:
        """USD for ``usage`` at this model's prices; ``None`` when prices are unknown.
        Cache reads at the cached price, cache writes at the write price (each the input
        price when unknown), the rest of the prompt at the input price."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        read_price = self.cached_per_mtok
        write_price = self.cache_write_per_mtok
        fresh = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        total = (
            fresh * self.input_per_mtok
            + usage.cached_tokens * (self.input_per_mtok if read_price is None else read_price)
            + usage.cache_write_tokens
            * (self.input_per_mtok if write_price is None else write_price)
            + usage.output_tokens * self.output_per_mtok
        )
        return round(total / 1_000_000, 10)


# Prefix → profile. Longest matching prefix wins; the provider's own model name is matched
# after any vendor prefix ("anthropic/claude-sonnet-4" → "claude-sonnet-4").
BUILT_IN: dict[str, ModelProfile] = {
    "gpt-4o": ModelProfile(128_000, 16_384, True, True, True),
    "gpt-4o-mini": ModelProfile(128_000, 16_384, True, True, True),
    "gpt-4.1": ModelProfile(1_047_576, 32_768, True, True, True),
    "gpt-5": ModelProfile(400_000, 128_000, True, True, True),
    "o3": ModelProfile(200_000, 100_000, True, True, True),
    "o4-mini": ModelProfile(200_000, 100_000, True, True, True),
    "gpt-3.5-turbo": ModelProfile(16_385, 4_096, True, False, True),
    "claude-": ModelProfile(200_000, 64_000, True, True, True),
    "claude-3-haiku": ModelProfile(200_000, 4_096, True, True, True),
    "claude-3-5-haiku": ModelProfile(200_000, 8_192, True, True, True),
    "gemini-2.5-pro": ModelProfile(1_048_576, 65_536, True, True, True),
    "gemini-2.5-flash": ModelProfile(1_048_576, 65_536, True, True, True),
    "gemini-2.0-flash": ModelProfile(1_048_576, 8_192, True, True, True),
    "gemini-1.5-pro": ModelProfile(2_097_152, 8_192, True, True, True),
    "text-embedding": ModelProfile(8_192, 0, False, False, False),
}


def built_in(model: str) -> ModelProfile:
    name = model.rsplit("/", 1)[-1].lower()
    best = ""
    for prefix in BUILT_IN:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return BUILT_IN[best] if best else ModelProfile()


def profile_for(model: str, overrides: dict[str, ModelSettings]) -> ModelProfile:
    """The built-in profile with the config's facts and prices laid over it."""
    base = built_in(model)
    settings = overrides.get(model)
    if settings is None:
        return base
    facts = settings.model_dump(exclude={"reasoning"})  # a request setting, not a fact
    given = {k: v for k, v in facts.items() if v is not None}
    return replace(base, **given)


def estimate_tokens(request: ChatRequest) -> int:
    """A cheap upper-ish estimate of a request's prompt tokens (about 4 characters per
    token, plus per-message overhead and the tool schemas)."""
    chars = 0
    for msg in request.messages:
        chars += len(msg.content) + 16
        for call in msg.tool_calls:
            chars += len(call.name) + len(json.dumps(call.arguments)) + 16
        chars += sum(len(image.data) // 3 for image in msg.images)  # base64 → bytes-ish
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters))
    return chars // 4 + 1


def unmet_need(
    profile: ModelProfile, request: ChatRequest, tokens: Callable[[], int]
) -> str | None:
    """Why this model cannot serve the request, or ``None`` when it (probably) can.
    ``tokens`` estimates the prompt's size; it is called only for a model whose window
    is known and could be too small."""
    if request.tools and profile.tools is False:
        return "no tool support"
    if profile.vision is not True and any(m.images for m in request.messages):
        return "no image input"
    window = profile.context_window
    if window is not None and _could_overflow(request, window) and tokens() > window:
        return f"prompt of about {tokens()} tokens exceeds its {window} window"
    return None


def _could_overflow(request: ChatRequest, window: int) -> bool:
    """A bound that is cheap to check: under a character a token, no prompt shorter than
    the window in characters (tool schemas aside) can overflow it."""
    chars = sum(len(m.content) for m in request.messages)
    return chars + 2000 * len(request.tools) + 4096 * len(request.messages) > window
