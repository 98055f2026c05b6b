"""Admission to a fixed number of running jobs, first come first served.

A burst of ``agent_run`` calls past ``[mcp] max_jobs`` used to be refused; now each call
takes a :class:`Ticket` before anything is built for it (no session, no database row),
waiting in a FIFO queue while the cap is reached, and the ticket is given back when its
job has ended, straight to the first caller in line (a freed slot is never taken by a
newcomer ahead of the queue). A caller that is cancelled while it waits leaves the
queue; one cancelled just as it was handed a slot passes the slot on.

Nothing here knows a protocol: the edge says what a wait looks like (MCP progress).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import anyio

OnWait = Callable[[int], Awaitable[None]]  # called with how many callers are ahead


class Ticket:
    """One admitted job's slot; :meth:`release` gives it back (once)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._give_back()

    async def release_after(self, done: Callable[[], Awaitable[object]]) -> None:
        """Give the slot back once ``done()`` returns (a job's ``wait``)."""
        try:
            await done()
        finally:
            self.release()


class Admission:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._line: deque[anyio.Event] = deque()

    @property
    def running(self) -> int:
        return self._held

    @property
    def queued(self) -> int:
        return len(self._line)

    def try_acquire(self) -> Ticket | None:
        """A slot now, or ``None`` when every slot is held or someone is waiting."""
        if self._held < self.limit and not self._line:
            self._held += 1
            return Ticket(self)
        return None

    async def acquire(self, on_wait: OnWait | None = None, every_s: float = 5.0) -> Ticket:
        """A slot, waiting in line for it; ``on_wait(ahead)`` is awaited when the wait
        begins and every ``every_s`` while it lasts."""
        ticket = self.try_acquire()
        if ticket is not None:
            return ticket
        turn = anyio.Event()
        self._line.append(turn)
        try:
            while not turn.is_set():
                if on_wait is not None:
                    await on_wait(self._line.index(turn) if turn in self._line else 0)
                with anyio.move_on_after(every_s):
                    await turn.wait()
        except BaseException:
            if turn in self._line:
                self._line.remove(turn)
            elif turn.is_set():  # handed a slot as we were cancelled: the next one gets it
                self._give_back()
            raise
        return Ticket(self)

    def _give_back(self) -> None:
        if self._line:
            self._line.popleft().set()  # handed over: the count of held slots stays
        else:
            self._held -= 1
