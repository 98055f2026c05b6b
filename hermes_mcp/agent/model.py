"""The one model interface the loop holds: something that opens a routed stream.

``hermes_mcp.llm.router.Router`` is one; the loop cannot tell whether a request was
served by the primary, a rotated credential or a fallback, except through the route
every result carries, which becomes ``model_switch`` events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from hermes_mcp.agent.events import ModelSwitch
from hermes_mcp.llm.types import Attempt, ChatRequest, Delta, Result

SWITCH_ACTIONS = frozenset({"rotate", "fallback", "skip"})


class ModelStream(Protocol):
    """An open stream: deltas, then ``result`` once it has ended."""

    @property
    def attempts(self) -> tuple[Attempt, ...]: ...

    @property
    def result(self) -> Result | None: ...

    def __aiter__(self) -> AsyncIterator[Delta]: ...


class ChatModel(Protocol):
    def stream(
        self, request: ChatRequest, *, model: str | None = None
    ) -> AbstractAsyncContextManager[ModelStream]:
        """Open a stream along the route (``model``: ``provider:model`` override)."""
        ...


def model_switches(attempts: tuple[Attempt, ...]) -> list[ModelSwitch]:
    """One ``model_switch`` per route the router left before the one that served."""
    if not attempts:
        return []
    served = attempts[-1]
    to = f"{served.provider}:{served.model}"
    return [
        ModelSwitch(
            from_=f"{a.provider}:{a.model}",
            to=to,
            reason=a.error_class or a.reason or a.action,
            action=a.action,
        )
        for a in attempts[:-1]
        if a.action in SWITCH_ACTIONS
    ]


class _Bound:
    """A model interface whose requests go to ``model`` first (then the fallbacks)."""

    def __init__(self, inner: ChatModel, model: str) -> None:
        self.inner = inner
        self.model = model

    def stream(
        self, request: ChatRequest, *, model: str | None = None
    ) -> AbstractAsyncContextManager[ModelStream]:
        return self.inner.stream(request, model=model or self.model)


def bind(model: ChatModel, name: str) -> ChatModel:
    """``model`` with ``name`` (``provider:model``) as the head of every request's chain,
    the configured fallbacks after it: what a session with a model override holds."""
    return _Bound(model, name)
