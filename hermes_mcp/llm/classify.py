"""Classification shared by every wire: status, error text and reset hints → FailureClass.

Each wire module extracts its provider's message, code and type from the error body and
adds its own signals (Gemini quota ids, Anthropic error types) before falling back to
``classify_http``. A daily or monthly quota is told apart from a per-minute limit by the
body first and only then by the length of the reset hint.
"""

from __future__ import annotations

from collections.abc import Mapping

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm import hints

# A 429 whose reset is further away than this is a spent quota, not a rate limit.
LONG_RESET_S = 15 * 60

_QUOTA_WORDS = (
    "insufficient_quota",
    "exceeded your current quota",
    "per day",
    "perday",
    "per-day",
    "per_day",
    "daily",
    "per month",
    "per-month",
    "per_month",
    "monthly",
    "quota exceeded",
)
_BILLING_WORDS = (
    "insufficient credits",
    "insufficient_credits",
    "credit balance",
    "billing_hard_limit",
    "payment required",
    "out of credits",
    "credits are depleted",
    "billing account",
    "enable billing",
    "billing is not enabled",
    "billing not enabled",
    "billing_disabled",
)
_CONTEXT_WORDS = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "context length",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length",
    "maximum number of tokens allowed",
    "input token count",
)
_POLICY_WORDS = ("content_policy", "content_filter", "content policy", "flagged", "refus")
_OVERLOAD_WORDS = ("overloaded",)


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def classify_http(
    status: int,
    *,
    message: str,
    code: str = "",
    headers: Mapping[str, str],
    now: float,
) -> ProviderError:
    """The failure class of an error response, with its reset hint in seconds."""
    text = f"{code} {message}".lower()
    hint = hints.from_headers(headers, now)
    if hint is None:
        hint = hints.from_text(message)
    if "insufficient_quota" in text or "exceeded your current quota" in text:
        cls = FailureClass.QUOTA_EXHAUSTED
    elif status == 402 or _has(text, _BILLING_WORDS):
        cls = FailureClass.BILLING
    elif status == 429:
        long_reset = hint is not None and hint > LONG_RESET_S
        cls = (
            FailureClass.QUOTA_EXHAUSTED
            if long_reset or _has(text, _QUOTA_WORDS)
            else FailureClass.RATE_LIMIT
        )
    elif status in (401, 403):
        cls = FailureClass.AUTH
    elif status == 404 or "model_not_found" in text:
        cls = FailureClass.MODEL_NOT_FOUND
    elif status == 413 or _has(text, _CONTEXT_WORDS):
        cls = FailureClass.CONTEXT_OVERFLOW
    elif status == 408:
        cls = FailureClass.TIMEOUT
    elif status in (503, 529) or _has(text, _OVERLOAD_WORDS):
        cls = FailureClass.OVERLOADED
    elif status >= 500:
        cls = FailureClass.SERVER_ERROR
    elif _has(text, _POLICY_WORDS):
        cls = FailureClass.CONTENT_POLICY
    else:
        cls = FailureClass.BAD_REQUEST
    reset = hints.reset_from_text(message) if cls is FailureClass.QUOTA_EXHAUSTED else None
    return ProviderError(
        cls, message or f"HTTP {status}", status=status, retry_after=hint, reset_in=reset
    )
