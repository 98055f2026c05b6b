"""The model chain the environment's API key variables make, when there is no config file.

Each known variable names a provider (wire, endpoint, a default model). The chain is
those providers in the order of :data:`KNOWN` (direct vendors first, then aggregators),
each on its default model; credentials are ``env:NAME`` references, so no key is ever
copied anywhere. ``HERMES_MCP_<PROVIDER>_BASE_URL`` (``HERMES_MCP_OPENAI_BASE_URL``, ...)
points a default provider at another endpoint: a local proxy, or the loopback fake in
tests. ``config.load_settings`` builds its settings from :func:`config_data`;
``zero_config.py`` writes them down (``hermes-mcp setup``). This module imports nothing
of the config, so the config can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hermes_mcp.log import get_logger


@dataclass(frozen=True)
class KnownProvider:
    name: str
    variables: tuple[str, ...]  # any of these set enables it (all set: a pool)
    wire: str
    base_url: str
    model: str
    note: str


# Order = chain order. Models: each vendor's current general model with tool calling
# (checked against genai-prices' data, which prices each of them; mistral and deepseek
# by their API's alias for the latest).
KNOWN: tuple[KnownProvider, ...] = (
    KnownProvider("anthropic", ("ANTHROPIC_API_KEY",), "anthropic",
                  "https://api.anthropic.com", "claude-sonnet-5-5", "Anthropic"),
    KnownProvider("openai", ("OPENAI_API_KEY",), "openai",
                  "https://api.openai.com/v1", "gpt-5.5", "OpenAI"),
    KnownProvider("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gemini",
                  "https://generativelanguage.googleapis.com", "gemini-3.8-flash",
                  "Google Gemini (AI Studio key)"),
    KnownProvider("openrouter", ("OPENROUTER_API_KEY",), "openai",
                  "https://openrouter.ai/api/v1", "anthropic/claude-sonnet-5.5", "OpenRouter"),
    KnownProvider("deepseek", ("DEEPSEEK_API_KEY",), "openai",
                  "https://api.deepseek.com/v1", "deepseek-chat", "DeepSeek"),
    KnownProvider("mistral", ("MISTRAL_API_KEY",), "openai",
                  "https://api.mistral.ai/v1", "mistral-large-latest", "Mistral"),
    KnownProvider("xai", ("XAI_API_KEY",), "openai",
                  "https://api.x.ai/v1", "grok-4.7", "xAI"),
    KnownProvider("groq", ("GROQ_API_KEY",), "openai",
                  "https://api.groq.com/openai/v1", "openai/gpt-oss-120b", "Groq"),
)  # fmt: skip

KEY_VARIABLES: tuple[str, ...] = tuple(v for p in KNOWN for v in p.variables)

_announced = False


def base_url_variable(provider: str) -> str:
    return f"HERMES_MCP_{provider.upper()}_BASE_URL"


@dataclass(frozen=True)
class ChosenProvider:
    known: KnownProvider
    variables: tuple[str, ...]  # the ones that are set
    base_url: str
    overridden: bool  # base_url came from HERMES_MCP_<NAME>_BASE_URL

    @property
    def ref(self) -> str:
        return f"{self.known.name}:{self.known.model}"

    @property
    def wire(self) -> str:
        """OpenAI's own endpoint serves its reasoning models (o-series, gpt-5 family) and
        its Responses-only ones (``-pro``, codex, deep research) on the Responses API,
        which carries their encrypted reasoning from one tool call to the next; an
        overridden base_url (a proxy, a test server) keeps the chat wire it surely has."""
        if self.known.name == "openai" and not self.overridden:
            name = self.known.model.lower()
            if _RESPONSES_MODEL.match(name) or _RESPONSES_ONLY.search(name):
                return "responses"
        return self.known.wire


_RESPONSES_MODEL = re.compile(r"^(o\d+(-|$)|gpt-5)")
_RESPONSES_ONLY = re.compile(r"(-pro\b|codex|deep-research|computer-use)")


def detect(env: Mapping[str, str]) -> list[ChosenProvider]:
    """The known providers whose key variables are set, in chain order."""
    chosen = []
    for known in KNOWN:
        present = tuple(v for v in known.variables if env.get(v, "").strip())
        if not present:
            continue
        override = env.get(base_url_variable(known.name), "").strip()
        chosen.append(ChosenProvider(known, present, override or known.base_url, bool(override)))
    return chosen


def config_data(chosen: list[ChosenProvider]) -> dict[str, object]:
    """The chain as the config file's data (what ``parse_config`` validates)."""
    providers = {
        c.known.name: {
            "wire": c.wire,
            "base_url": c.base_url,
            "credentials": [f"env:{v}" for v in c.variables],
        }
        for c in chosen
    }
    refs = [c.ref for c in chosen]
    return {"model": {"default": refs[0], "fallbacks": refs[1:]}, "providers": providers}


def announce(chosen: list[ChosenProvider]) -> None:
    global _announced
    if _announced:
        return
    _announced = True
    get_logger("hermes_mcp.config").info(
        "config.zero",
        message="no config file: using the API keys in the environment",
        chain=[c.ref for c in chosen],
        keys=[v for c in chosen for v in c.variables],
        hint="`hermes-mcp setup` writes this chain to a config.toml you can edit",
    )
