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
from hermes_mcp.config import ModelRef
from hermes_mcp.llm.types import Attempt, ChatRequest, Delta, Result
from hermes_mcp.llm.walk import AttemptObserver  # Router.stream's on_attempt

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
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        on_attempt: AttemptObserver | None = None,
    ) -> AbstractAsyncContextManager[ModelStream]:
        """Open a stream along the route (``model``: ``provider:model`` override);
        ``on_attempt`` hears of each attempt while the walk runs."""
        ...


def switch_for(attempt: Attempt, to: ModelRef | None) -> ModelSwitch | None:
    """The ``model_switch`` for an attempt that moved on to ``to``, if it is a move."""
    if to is None or attempt.action not in SWITCH_ACTIONS:
        return None
    return ModelSwitch(
        from_=f"{attempt.provider}:{attempt.model}",
        to=str(to),
        reason=attempt.error_class or attempt.reason or attempt.action,
        action=attempt.action,
        attempt=attempt,
    )


def reads_images(model: ChatModel, name: str | None = None) -> bool:
    """Whether a route of ``model``'s chain is known to read images (its profile says
    vision). A model interface that cannot say (no ``chain``/``profile``) is trusted to."""
    chain = getattr(model, "chain", None)
    profile = getattr(model, "profile", None)
    if chain is None or profile is None:
        return True
    return any(profile(route).vision is True for route in chain(name))
