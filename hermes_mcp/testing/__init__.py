"""Test helpers shipped with the package: a scripted fake LLM provider on loopback.

See ``hermes_mcp.testing.fake_provider`` for how to use it; the Anthropic, Gemini and Vertex
dialects are described in ``fake_anthropic`` and ``fake_gemini``, the OAuth token endpoint in
``fake_token``.
"""

# Imports come from fake_server / fake_steps, not fake_provider, so that
# `python -m hermes_mcp.testing.fake_provider` runs without a double-import warning.
from .fake_server import DisconnectRecord, FakeProvider, Rejection, RequestRecord
from .fake_steps import (
    DEFAULT_TEXT,
    ErrorIn200,
    Failure,
    Hold,
    Malformed,
    Raw,
    Reply,
    Slow,
    Step,
    Stream,
    ToolCall,
    Usage,
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
    raw_body,
    reply,
    server_error,
    slow,
    step_from_dict,
    stream,
    unauthorized,
)
from .fake_token import TokenGrant, TokenHit, TokenRefusal, token_ok, token_refused

__all__ = [
    "DEFAULT_TEXT",
    "DisconnectRecord",
    "ErrorIn200",
    "Failure",
    "FakeProvider",
    "Hold",
    "Malformed",
    "Raw",
    "Rejection",
    "Reply",
    "RequestRecord",
    "Slow",
    "Step",
    "Stream",
    "TokenGrant",
    "TokenHit",
    "TokenRefusal",
    "ToolCall",
    "Usage",
    "context_overflow",
    "daily_quota",
    "error_in_200",
    "fail",
    "hold",
    "malformed",
    "model_not_found",
    "payment_required",
    "permission_denied",
    "rate_limited",
    "raw_body",
    "reply",
    "server_error",
    "slow",
    "step_from_dict",
    "stream",
    "token_ok",
    "token_refused",
    "unauthorized",
]
