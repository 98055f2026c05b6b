"""The project's error tree. Every foreign error is translated into one of these at the
boundary where it happens (``raise ... from exc``).

HermesError
├── ConfigError          a config file, key or value is wrong (exit 2); names file and key
├── UsageError           the command line is wrong (exit 2)
├── StateError           the state directory or its SQLite database is unusable
├── ProviderError        one request to one provider failed; carries its FailureClass
│   └── StreamBroken     a stream failed after its first token (never replayed or switched)
├── NoRouteError         every route of the chain failed or was unavailable (exit 1)
└── ToolError            a tool's expected failure; its message is what the model reads
    └── ToolDenied       the policy or the person refused the action

A ``ToolError`` never leaves ``ToolRegistry.call``: it becomes the tool's error result.

``FailureClass`` is the single vocabulary the router acts on; wire modules classify a
provider failure once, from its status and its body, and the router never looks at HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hermes_mcp.log import redact


class FailureClass(StrEnum):
    """DESIGN.md's failure classes; see the router's rules for the action each takes."""

    RATE_LIMIT = "rate_limit"
    QUOTA_EXHAUSTED = "quota_exhausted"
    BILLING = "billing"
    AUTH = "auth"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONTEXT_OVERFLOW = "context_overflow"
    MODEL_NOT_FOUND = "model_not_found"
    BAD_REQUEST = "bad_request"
    CONTENT_POLICY = "content_policy"

    @property
    def cools_credential(self) -> bool:
        """Failures that cool (or kill) the credential and move on at once."""
        return self in _CREDENTIAL_CLASSES

    @property
    def transient(self) -> bool:
        """Failures worth one retry on the same credential."""
        return self in _TRANSIENT_CLASSES


_CREDENTIAL_CLASSES = frozenset(
    {
        FailureClass.RATE_LIMIT,
        FailureClass.QUOTA_EXHAUSTED,
        FailureClass.BILLING,
        FailureClass.AUTH,
    }
)
_TRANSIENT_CLASSES = frozenset(
    {FailureClass.OVERLOADED, FailureClass.SERVER_ERROR, FailureClass.TIMEOUT}
)


class HermesError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(HermesError):
    """A configuration problem, located by file and dotted key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        self.problem = message
        # Every problem found, as (dotted key, what is wrong); the message lists them all.
        self.problems: list[tuple[str, str]] = [(key or "", message)]
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(HermesError):
    """The command line asks for something that cannot be done."""


class ToolError(HermesError):
    """A tool's expected failure; its message is what the model reads (the registry
    turns it into an error result: it never ends a turn or a request)."""


class ToolDenied(ToolError):
    """The policy or the approver refused the action (``ToolResult.denied``)."""


class StateError(HermesError):
    """The state directory or database cannot be used."""


def iso_utc(epoch: float | None) -> str | None:
    """ISO-8601 UTC for an epoch time, as every output of this project writes times."""
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):  # a time no calendar holds
        return None


class ProviderError(HermesError):
    """One provider request failed, already classified by its wire module.

    ``retry_after`` is the provider's reset hint in seconds from now (parsed from headers
    or body), ``None`` when it gave none; ``reset_in`` is when a spent quota is known to
    reset (a "resets in 4 hr" text, a per-day quota's next reset), ``None`` when unknown.
    ``message`` never holds a secret: wire modules build it from the provider's error
    text, which the log redactor also scrubs.
    """

    def __init__(
        self,
        failure_class: FailureClass,
        message: str,
        *,
        status: int | str | None = None,
        retry_after: float | None = None,
        reset_in: float | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        self.failure_class = failure_class
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.reset_in = reset_in
        # For refreshable credentials: which token generation the failed request carried,
        # and whether the failure came from the token endpoint itself (no refresh helps).
        self.token_generation: int | None = None
        self.from_token_exchange = False
        self.provider = provider
        self.model = model
        super().__init__(f"{failure_class.value}: {message}")


class StreamBroken(ProviderError):
    """A stream failed after delivering its first token. The caller has already seen part
    of the answer, so the router neither replays it nor switches it to another route."""


class NoRouteError(HermesError):
    """No route of the chain could answer. Names the provider, the class and when the
    earliest credential recovers (``retry_at``, epoch seconds, or ``None``)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        failure_class: FailureClass | None,
        retry_at: float | None,
        attempts: list[dict[str, Any]],
    ) -> None:
        self.provider = provider
        self.failure_class = failure_class
        self.retry_at = retry_at
        self.attempts = attempts
        self.message = message
        super().__init__(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {
                "provider": self.provider,
                "class": self.failure_class.value if self.failure_class else None,
                "message": redact(self.message),
                "retry_at": iso_utc(self.retry_at),
            },
            "attempts": self.attempts,
        }
