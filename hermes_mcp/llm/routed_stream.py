"""Streams through the router: priming up to the first token, then the caller's iterator.

Before the first token (DESIGN.md invariant 8) every failure is an ordinary classified
failure and the router fails over invisibly: ``prime`` reads the stream until its first
non-empty text or tool-call delta, within the provider's first-token timeout. After it,
``RouterStream`` hands the deltas to the caller, and a failure ends the stream with
``StreamBroken``: never replayed, never switched to another route.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio

from hermes_mcp.config import ModelRef
from hermes_mcp.credentials import Credential
from hermes_mcp.errors import FailureClass, ProviderError, StreamBroken
from hermes_mcp.llm.provider import Provider
from hermes_mcp.llm.served import Served
from hermes_mcp.llm.streaming import ProviderStream
from hermes_mcp.llm.types import ChatRequest, Delta, Result, is_first_token
from hermes_mcp.llm.wires.common import guarded
from hermes_mcp.log import get_logger

log = get_logger("hermes_mcp.router")


@dataclass
class Primed:
    """A stream that has delivered its first token (or ended without one)."""

    stream: ProviderStream
    buffered: list[Delta]
    ended: bool


async def prime(
    request: ChatRequest, provider: Provider, route: ModelRef, credential: Credential
) -> Primed:
    """Open a stream and read it up to its first token, within the first-token timeout.
    Any failure until then is an ordinary classified failure: the router fails over."""
    started = time.monotonic()
    limit = provider.timeouts.first_token_s
    stream: ProviderStream | None = None
    buffered: list[Delta] = []
    ended = False
    try:
        with anyio.move_on_after(limit) as scope:
            stream = await provider.open_stream(request, route.model, credential, started)
            while True:
                deltas = await stream.next()
                if deltas is None:
                    ended = True
                    break
                buffered.extend(deltas)
                if any(is_first_token(d) for d in deltas):
                    break
        if scope.cancelled_caught:
            raise ProviderError(
                FailureClass.TIMEOUT, f"no first token within {limit:g}s", status="timeout"
            )
    except BaseException:
        if stream is not None:
            await stream.aclose()
        raise
    assert stream is not None
    return Primed(stream, buffered, ended)


class RouterStream:
    """The caller's view of a routed stream: an async iterator of deltas. ``result``
    (the assembled completion with its route) is set once the stream has ended."""

    def __init__(self, served: Served[Primed]) -> None:
        self._served = served
        self._pending = list(served.value.buffered)
        self._ended = served.value.ended
        self.result: Result | None = None
        self.provider = served.route.provider
        self.model = served.route.model
        self.attempts = tuple(served.attempts)
        self.profile = served.profile  # the serving model's (context window, vision, ...)
        if self._ended and not self._pending:
            self._finish()

    def __aiter__(self) -> RouterStream:
        return self

    async def __anext__(self) -> Delta:
        while not self._pending:
            if self._ended:
                raise StopAsyncIteration
            try:
                deltas = await self._served.value.stream.next()
            except ProviderError as err:
                log.warning(
                    "stream.broken",
                    provider=self.provider,
                    model=self.model,
                    credential=self._served.credential.fingerprint,
                    error_class=err.failure_class.value,
                    status=err.status,
                )
                raise StreamBroken(
                    err.failure_class,
                    f"the stream broke after its first token: {err.message}",
                    status=err.status,
                    provider=self.provider,
                    model=self.model,
                ) from err
            if deltas is None:
                self._ended = True
                try:
                    self._finish()
                except ProviderError as err:  # the deltas do not add up to an answer
                    raise StreamBroken(
                        err.failure_class,
                        f"the stream ended with an unreadable answer: {err.message}",
                        status=err.status,
                        provider=self.provider,
                        model=self.model,
                    ) from err
            else:
                self._pending.extend(deltas)
        return self._pending.pop(0)

    def _finish(self) -> None:
        if self.result is None:
            decoder = self._served.value.stream.decoder
            completion = guarded("an unreadable answer", decoder.completion)
            self.result = self._served.result(completion)
