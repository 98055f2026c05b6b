"""The schema of one attempt as every surface shows it (``Attempt.to_json()`` renders it):
``agent_run``'s output schema uses it, and the shared schema test checks every surface
against it. Kept apart from ``types.py`` so that building the pydantic model costs only
the processes that need it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hermes_mcp.llm.types import Action


class AttemptRecord(BaseModel):
    """THE shape of one attempt on every surface: ``ask --json``, ``agent_run``'s
    ``structuredContent.attempts``, ACP error data, ``turn_end.error.attempts`` and the
    ``route.*`` log lines. Every key is always present (null when it does not apply)."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    model: str
    credential: str | None = Field(description="the credential's fingerprint")
    action: Action
    status: int | str | None = Field(
        description='HTTP status, "timeout", "connect" or "malformed"; null when not sent'
    )
    error_class: str | None = Field(description="the failure class; null when served/skipped")
    reason: str | None = Field(description="why a route was skipped (or a retry's cause)")
    retry_at: str | None = Field(
        description="ISO 8601 UTC: when the credential (or route) left behind recovers"
    )
    elapsed_ms: float
    cost_usd: float | None = Field(description="the served attempt's cost, once known")
