"""A scripted in-process model interface, for fast tests of what stands on the runtime.

``ScriptedModel`` is a ``hermes_mcp.agent.model.ChatModel`` that answers from a script
instead of a provider: no HTTP, no router. It is for the edges' tests and for
benchmarks of the turn machinery; the router and the wire formats are tested against
the loopback HTTP fake (``FakeProvider``), which this does not replace.

A script is a sequence of steps, one per model call:

- :class:`Say`: an answer: ``text``, ``thought`` (streamed first, as thinking),
  ``calls`` (tool calls), usage, finish reason; ``hops`` are routes that failed (or were
  skipped) before it, announced to ``on_attempt`` as the router would; ``delay_s``
  waits before the first token.
- :class:`Fail`: a walk where every route failed: each hop is announced, then
  ``NoRouteError`` carries them all as attempts.

Steps are taken in order from a shared queue (``ScriptedModel(steps)``), or chosen per
request by a function (``ScriptedModel(script=fn)``; :func:`by_round` picks the step by
how many answers the conversation already has, so concurrent sessions each follow the
same script). An exhausted queue answers ``Say("done")``.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from hermes_mcp.config import ModelRef
from hermes_mcp.errors import FailureClass, NoRouteError
from hermes_mcp.llm.profiles import ModelProfile
from hermes_mcp.llm.types import (
    Action,
    Attempt,
    ChatRequest,
    Completion,
    Delta,
    Result,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

_ids = itertools.count(1)

Observer = Callable[[Attempt, ModelRef | None], None]


@dataclass(frozen=True)
class Hop:
    """A route left before the answer (or before giving up): ``route`` is
    ``provider:model``, ``error_class`` a ``FailureClass`` value (``None`` for a skip),
    ``action`` rotate, fallback, skip or surface, ``to`` the route moved to."""

    route: str
    error_class: str | None
    action: Action
    to: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: f"scripted_{next(_ids):06d}")


@dataclass(frozen=True)
class Say:
    text: str = ""
    thought: str = ""
    calls: tuple[Call, ...] = ()
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    finish_reason: str | None = None  # None: "tool_calls" when there are calls, else "stop"
    hops: tuple[Hop, ...] = ()
    delay_s: float = 0.0
    route: str | None = None  # who serves it (default: the model's own)
    chunks: int = 1  # the text streamed in this many deltas


@dataclass(frozen=True)
class Fail:
    hops: tuple[Hop, ...]
    message: str = "no route could answer"
    delay_s: float = 0.0


Step = Say | Fail


def by_round(steps: Sequence[Step]) -> Callable[[ChatRequest], Step]:
    """A script choosing ``steps[n]`` for a request whose conversation holds ``n``
    assistant messages (after the last step: ``Say("done")``)."""

    def choose(request: ChatRequest) -> Step:
        n = sum(1 for m in request.messages if m.role == "assistant")
        return steps[n] if n < len(steps) else Say("done")

    return choose


class ScriptedStream:
    def __init__(self, deltas: list[Delta], result: Result, delay_s: float) -> None:
        self._deltas = deltas
        self._final = result
        self._delay = delay_s
        self.attempts = result.attempts
        self.result: Result | None = None
        self.profile: ModelProfile | None = None

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Delta]:
        for delta in self._deltas:
            await anyio.lowlevel.checkpoint()
            yield delta
        self.result = self._final


class ScriptedModel:
    """See the module docstring. ``requests`` records every request received."""

    def __init__(
        self,
        steps: Iterable[Step] = (),
        *,
        script: Callable[[ChatRequest], Step] | None = None,
        route: str = "scripted:model",
        fallbacks: Sequence[str] = (),
        profile: ModelProfile | None = None,
        profiles: dict[str, ModelProfile] | None = None,
    ) -> None:
        self._queue: deque[Step] = deque(steps)
        self._script = script
        self.route = ModelRef.parse(route)
        self.fallbacks = [ModelRef.parse(f) for f in fallbacks]
        self._profile = profile or ModelProfile(context_window=128_000, tools=True)
        self._profiles = {ModelRef.parse(k): v for k, v in (profiles or {}).items()}
        self.requests: list[ChatRequest] = []
        self.down: set[str] = set()  # routes next_route skips, as the router would

    def add(self, *steps: Step) -> None:
        self._queue.extend(steps)

    def chain(self, model: str | None = None) -> list[ModelRef]:
        first = ModelRef.parse(model) if model else self.route
        return [first, *(r for r in [self.route, *self.fallbacks] if r != first)]

    def profile(self, route: ModelRef) -> ModelProfile:
        return self._profiles.get(route, self._profile)

    def next_route(self, model: str | None = None) -> ModelRef | None:
        """The chain's first route not in ``down`` (the router's ``next_route``)."""
        return next((r for r in self.chain(model) if str(r) not in self.down), None)

    def _next(self, request: ChatRequest) -> Step:
        if self._script is not None:
            return self._script(request)
        return self._queue.popleft() if self._queue else Say("done")

    @asynccontextmanager
    async def stream(
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        on_attempt: Observer | None = None,
    ) -> AsyncIterator[ScriptedStream]:
        self.requests.append(request)
        step = self._next(request)
        attempts: list[Attempt] = []
        for hop in step.hops:
            ref = ModelRef.parse(hop.route)
            attempt = Attempt(
                ref.provider,
                ref.model,
                None if hop.error_class is None else "scripted-key",
                None if hop.error_class is None else 500,
                hop.error_class,
                hop.action,
                0.0,
                hop.reason,
            )
            attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt, None if hop.to is None else ModelRef.parse(hop.to))
        if step.delay_s:
            await anyio.sleep(step.delay_s)
        if isinstance(step, Fail):
            last = step.hops[-1] if step.hops else None
            cls = last.error_class if last is not None else None
            raise NoRouteError(
                step.message,
                provider=ModelRef.parse(last.route).provider if last else self.route.provider,
                failure_class=None if cls is None else FailureClass(cls),
                retry_at=None,
                attempts=[a.to_json() for a in attempts],
            )
        served = (
            ModelRef.parse(step.route)
            if step.route
            else (ModelRef.parse(model) if model else self.route)
        )
        profile = self.profile(served)
        cost = profile.cost(step.usage)
        attempt = Attempt(
            served.provider, served.model, "scripted-key", 200, None, "served", 0.0, None, cost
        )
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt, None)
        deltas: list[Delta] = []
        if step.thought:
            deltas.append(ThinkingDelta(step.thought))
        deltas.extend(TextDelta(piece) for piece in _pieces(step.text, step.chunks))
        calls = tuple(ToolCall(c.id, c.name, c.arguments) for c in step.calls)
        for index, call in enumerate(calls):
            deltas.append(ToolCallDelta(index, call.id, call.name, json.dumps(call.arguments)))
        finish = step.finish_reason or ("tool_calls" if calls else "stop")
        completion = Completion(step.text, calls, finish, step.usage, served.model)
        result = Result(
            completion, served.provider, served.model, "scripted-key", tuple(attempts), cost
        )
        stream = ScriptedStream(deltas, result, step.delay_s)
        stream.profile = profile
        yield stream


def _pieces(text: str, chunks: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(1, chunks)))
    return [text[i : i + size] for i in range(0, len(text), size)]
