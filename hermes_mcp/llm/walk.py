"""One request's walk along the chain: its bookkeeping (:class:`Walk`), and the error
that ends a walk nothing could answer (:func:`no_route`) or one that must be surfaced
(:func:`surface`). The router's rules themselves are in ``router.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hermes_mcp.config import ModelRef
from hermes_mcp.errors import FailureClass, NoRouteError, ProviderError, iso_utc
from hermes_mcp.llm.profiles import estimate_tokens
from hermes_mcp.llm.provider import Provider
from hermes_mcp.llm.types import Attempt, ChatRequest

#: Told of each attempt the moment it is recorded, with the route the walk moves to
#: next (``None`` when it stops there).
AttemptObserver = Callable[[Attempt, ModelRef | None], None]


@dataclass(slots=True)
class Walk:
    """The bookkeeping of one request's walk along the chain."""

    request: ChatRequest | None
    streaming: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    on_attempt: AttemptObserver | None = None
    next_route: ModelRef | None = None  # where a fallback or skip of this route goes
    last_error: ProviderError | None = None
    last_provider: str | None = None
    _tokens: int | None = None

    @property
    def tokens(self) -> int:
        """The request's estimated prompt tokens, computed on first need."""
        if self._tokens is None:
            self._tokens = estimate_tokens(self.request) if self.request else 0
        return self._tokens

    min_window: int | None = None  # after a context overflow: later routes need more


def surface(err: ProviderError, walk: Walk) -> NoRouteError:
    """A failure the caller must see (no rotation, no fallback), with the walk so far."""
    return NoRouteError(
        f"{err.provider}: {err.failure_class.value}: {err.message}",
        provider=err.provider or "",
        failure_class=err.failure_class,
        retry_at=None,
        attempts=[a.to_json() for a in walk.attempts],
    )


def no_route(providers: Mapping[str, Provider], routes: list[ModelRef], walk: Walk) -> NoRouteError:
    """Nothing answered. Name the route that recovers first when credentials are
    cooling, else the last failure, else why the last route was skipped."""
    attempts = [a.to_json() for a in walk.attempts]
    err = walk.last_error
    overflow = err is not None and err.failure_class is FailureClass.CONTEXT_OVERFLOW
    best: tuple[float, str, str] | None = None
    dead: tuple[str, str] | None = None  # (provider, class) of a credential marked dead
    for route in routes if not overflow else ():
        recovery = providers[route.provider].pool.recovery(route.model)
        if recovery is None:
            continue
        at = recovery.at
        if at is None:
            dead = dead or (route.provider, recovery.failure_class)
        elif best is None or at < best[0]:
            best = (at, route.provider, recovery.failure_class)
    if best is not None:
        at, provider, cls = best
        return NoRouteError(
            f"no route could answer; {provider} recovers first, at {iso_utc(at)} ({cls})",
            provider=provider,
            failure_class=FailureClass(cls),
            retry_at=at,
            attempts=attempts,
        )
    if err is None and dead is not None:
        provider, cls = dead
        return NoRouteError(
            f"no route could answer; {provider}'s credentials are dead ({cls}); "
            "fix them, then `hermes-mcp providers --reset FINGERPRINT`",
            provider=provider,
            failure_class=FailureClass(cls),
            retry_at=None,
            attempts=attempts,
        )
    if err is not None:
        provider = walk.last_provider or routes[0].provider
        why = f"{err.failure_class.value}: {err.message}"
    else:
        skipped = walk.attempts[-1] if walk.attempts else None
        provider = skipped.provider if skipped else routes[0].provider
        why = f"skipped: {skipped.reason}" if skipped and skipped.reason else "no route"
    return NoRouteError(
        f"no route could answer; last: {provider}: {why}",
        provider=provider,
        failure_class=err.failure_class if err else None,
        retry_at=None,
        attempts=attempts,
    )
