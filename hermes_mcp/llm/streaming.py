"""Streaming responses: one open SSE stream from one provider, read with deadlines.

The SSE decoding is httpx2's ``EventSource`` (derived from httpx-sse, maintained with
httpx2, spec-compliant: comment lines, ``\\r\\n`` and ``\\r`` separators, multi-line
``data:``, ``event:``/``id:``/``retry:`` fields, an event-size limit). Each wire's
``StreamDecoder`` turns events into deltas; this module adds the timeouts:

- **connect**: the HTTP client's connect timeout;
- **first token**: from the request's start to its first non-empty text or tool-call
  delta (enforced by the router, which fails over when it passes);
- **idle**: the longest silence between two events (comments and pings count as life);
- **total**: the whole stream, from the request's start.

Each is a classified ``timeout``. Closing a stream closes its HTTP response, and with
it the connection, at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import httpx2

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.http import transport_failure
from hermes_mcp.llm.types import Delta
from hermes_mcp.llm.wires.base import StreamDecoder
from hermes_mcp.llm.wires.common import guarded


@dataclass(frozen=True)
class StreamTimeouts:
    first_token_s: float = 60.0
    idle_s: float = 60.0
    total_s: float = 900.0


class ProviderStream:
    """An open streaming response. ``next()`` returns the next deltas (possibly empty),
    or ``None`` once the provider has ended the answer; it raises ``ProviderError``."""

    def __init__(
        self,
        response: httpx2.Response,
        decoder: StreamDecoder,
        timeouts: StreamTimeouts,
        started: float,
        clock: Callable[[], float] = time.time,
        max_bytes: int | None = None,
    ) -> None:
        self.response = response
        self._max_bytes = max_bytes  # the events' data, in all: past it, a broken stream
        self._received = 0
        self.decoder = decoder
        self.timeouts = timeouts
        self.started = started  # monotonic
        self._clock = clock
        self._events: AsyncIterator[httpx2.ServerSentEvent] = aiter(httpx2.EventSource(response))
        self._closed = False

    async def next(self) -> list[Delta] | None:
        if self.decoder.done:
            return None
        remaining_total = self.timeouts.total_s - (time.monotonic() - self.started)
        limit = min(self.timeouts.idle_s, remaining_total)
        which = "idle" if limit == self.timeouts.idle_s else "total"
        event: httpx2.ServerSentEvent | None = None
        with anyio.move_on_after(max(limit, 0.0)):
            try:
                event = await anext(self._events)
            except StopAsyncIteration:
                if self.decoder.finished:
                    return None
                raise ProviderError(
                    FailureClass.SERVER_ERROR,
                    "the stream ended before the answer did",
                    status="broken",
                ) from None
            except httpx2.SSEError as exc:
                raise ProviderError(
                    FailureClass.SERVER_ERROR, f"unreadable event stream: {exc}", status="broken"
                ) from exc
            except httpx2.TransportError as exc:
                raise transport_failure(exc) from exc
        if event is None:
            seconds = self.timeouts.idle_s if which == "idle" else self.timeouts.total_s
            raise ProviderError(
                FailureClass.TIMEOUT,
                f"stream {which} timeout: nothing within {seconds:g}s",
                status="timeout",
            )
        if self._max_bytes is not None:
            self._received += len(event.data)
            if self._received > self._max_bytes:
                raise ProviderError(
                    FailureClass.SERVER_ERROR,
                    f"malformed response: the stream is larger than max_body_bytes = "
                    f"{self._max_bytes}",
                    status="malformed",
                )
        return guarded(
            "an unreadable stream event", self.decoder.feed, event.event, event.data, self._clock()
        )

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            with anyio.CancelScope(shield=True):
                closer = getattr(self._events, "aclose", None)
                if closer is not None:
                    # A generator already broken by the failure being reported may complain.
                    with contextlib.suppress(httpx2.TransportError, RuntimeError):
                        await closer()
                await self.response.aclose()
