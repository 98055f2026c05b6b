"""The OpenAI wire classifies failures from status and body, with reset hints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hermes_mcp.errors import FailureClass as F
from hermes_mcp.llm import hints
from hermes_mcp.llm.wires.openai import OpenAIWire

NOW = 1_800_000_000.0


def classify(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return OpenAIWire().classify(status, headers or {}, raw, NOW)


RATE = {
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-xyz on requests per min "
        "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "retry_after"),
    [
        (429, RATE, {}, F.RATE_LIMIT, 20.0),  # hint from the body text
        (429, RATE, {"retry-after": "30"}, F.RATE_LIMIT, 30.0),
        (429, RATE, {"retry-after-ms": "1500"}, F.RATE_LIMIT, 1.5),
        (429, {"error": {"message": "slow down"}}, {}, F.RATE_LIMIT, None),
        (
            429,
            {"error": {"message": "slow down"}},
            {
                "x-ratelimit-reset-tokens": "6m0s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-requests": "1s",
            },
            F.RATE_LIMIT,
            360.0,
        ),
        (429, QUOTA, {"retry-after": "86400"}, F.QUOTA_EXHAUSTED, 86400.0),
        (429, QUOTA, {}, F.QUOTA_EXHAUSTED, None),
        (
            429,
            {"error": {"message": "Too many requests"}},
            {"retry-after": "86400"},
            F.QUOTA_EXHAUSTED,
            86400.0,
        ),
        (
            429,
            {"error": {"message": "Daily request limit reached; resets in 4 hr"}},
            {},
            F.QUOTA_EXHAUSTED,
            14400.0,
        ),
        (
            402,
            {"error": {"code": 402, "message": "Insufficient credits. Add more."}},
            {},
            F.BILLING,
            None,
        ),
        (
            403,
            {"error": {"code": 403, "message": "Insufficient credits on this key"}},
            {},
            F.BILLING,
            None,
        ),
        (
            401,
            {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
            {},
            F.AUTH,
            None,
        ),
        (403, {"error": {"message": "forbidden"}}, {}, F.AUTH, None),
        (
            404,
            {"error": {"message": "The model `gpt-5x` does not exist", "code": "model_not_found"}},
            {},
            F.MODEL_NOT_FOUND,
            None,
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens.",
                    "code": "context_length_exceeded",
                }
            },
            {},
            F.CONTEXT_OVERFLOW,
            None,
        ),
        (
            400,
            {"error": {"message": "Invalid value for 'temperature'", "code": None}},
            {},
            F.BAD_REQUEST,
            None,
        ),
        (
            400,
            {"error": {"message": "Your request was rejected by our content_policy"}},
            {},
            F.CONTENT_POLICY,
            None,
        ),
        (
            500,
            {"error": {"message": "The server had an error", "type": "server_error"}},
            {},
            F.SERVER_ERROR,
            None,
        ),
        (502, "<html>Bad gateway</html>", {}, F.SERVER_ERROR, None),
        (503, {"error": {"message": "The engine is currently overloaded"}}, {}, F.OVERLOADED, None),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            {},
            F.OVERLOADED,
            None,
        ),
        (408, "", {}, F.TIMEOUT, None),
        (200, {"error": {"code": 429, "message": "Rate limited upstream"}}, {}, F.RATE_LIMIT, None),
        (
            429,
            {
                "error": {
                    "message": "Rate limit exceeded: free-models-per-day-high-balance.",
                    "type": "rate_limit_error",
                    "code": "429",
                }
            },
            {},
            F.QUOTA_EXHAUSTED,
            None,
        ),
        (
            429,
            {
                "error": {
                    "message": "Rate limit exceeded",
                    "code": 429,
                    "metadata": {
                        "headers": {
                            "X-RateLimit-Limit": "20",
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": str(int((NOW + 40) * 1000)),
                        }
                    },
                }
            },
            {},
            F.RATE_LIMIT,
            40.0,
        ),
        (
            429,
            {"error": {"message": "slow down"}},
            {"retry-after": "1e12"},
            F.QUOTA_EXHAUSTED,
            1e12,
        ),
        (429, {"error": {"message": "slow down"}}, {"retry-after": "inf"}, F.RATE_LIMIT, None),
        (200, {"error": {"message": "upstream failed"}}, {}, F.SERVER_ERROR, None),
    ],
)
def test_openai_failures(
    status: int, body: Any, headers: dict[str, str], cls: F, retry_after: float | None
) -> None:
    err = classify(status, body, headers)
    assert err.failure_class is cls, err.message
    assert err.retry_after == retry_after


def test_quota_reset_is_known_from_text() -> None:
    err = classify(429, {"error": {"message": "Daily request limit reached; resets in 4 hr"}})
    assert err.reset_in == 14400.0
    assert classify(429, QUOTA).reset_in is None


def test_retry_after_http_date() -> None:
    headers = {"retry-after": "Fri, 15 Jan 2027 08:00:30 GMT"}
    when = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert hints.from_headers(headers, when) == 30.0


def test_anthropic_reset_timestamps() -> None:
    headers = {
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:05Z",
    }
    assert hints.from_headers(headers, 1_800_000_000.0) == 60.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("59s", 59.0),
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m", 3720.0),
        ("4 hr", 14400.0),
        ("2 hours 30 minutes", 9000.0),
        ("10", 10.0),
        ("soon", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert hints.parse_duration(text) == seconds


def test_absurd_hints_are_capped_when_they_become_cooldowns() -> None:
    from hermes_mcp.errors import iso_utc
    from hermes_mcp.llm.router import MAX_COOLDOWN_S, cooldown_until

    err = classify(429, {"error": {"message": "slow down"}}, {"retry-after": "1e12"})
    mark = cooldown_until(err, NOW)
    assert mark.cooldown_until == NOW + MAX_COOLDOWN_S
    assert iso_utc(1e300) is None and iso_utc(NOW) == "2027-01-15T08:00:00Z"
