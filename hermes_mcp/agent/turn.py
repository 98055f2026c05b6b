"""The handle an edge holds while a turn runs: its events, and a way to cancel it."""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from hermes_mcp.agent.events import Event, TurnEnd


class Turn:
    """An async iterator of the turn's events, ending after ``turn_end``.

    ``cancel()`` (from any task: an ACP ``session/cancel``, an MCP
    ``notifications/cancelled``, a SIGINT handler) cancels the turn's cancel scope: the
    model request is closed, running tools and child agents stop, and the turn still
    ends with a ``turn_end`` whose stop reason is ``cancelled``.
    """

    def __init__(
        self,
        session_id: str,
        events: MemoryObjectReceiveStream[Event],
        scope: anyio.CancelScope | None = None,
    ) -> None:
        self.session_id = session_id
        self.scope = scope if scope is not None else anyio.CancelScope()
        self.outcome: TurnEnd | None = None
        self._events = events

    def cancel(self) -> None:
        self.scope.cancel()

    def __aiter__(self) -> Turn:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self._events.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(event, TurnEnd):
            self.outcome = event
        return event

    async def wait(self) -> TurnEnd:
        """Drain the events and return the ``turn_end``."""
        async for _ in self:
            pass
        if self.outcome is None:
            raise RuntimeError("the turn ended without a turn_end event")
        return self.outcome
