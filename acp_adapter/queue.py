"""The prompts of one ACP session, one at a time, in arrival order.

A ``session/prompt`` that arrives while another runs waits for its turn instead of
being refused: up to :data:`MAX_WAITING` wait, and one more is refused (``-32003``).
``session/cancel`` cancels the running prompt and every prompt waiting at that moment
(each answers ``cancelled`` without running): after Stop, nothing starts by itself.
A prompt that arrives after the cancel waits and runs as usual.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum

import anyio

MAX_WAITING = 8


class QueueFull(Exception):
    """:data:`MAX_WAITING` prompts are waiting already."""


class Start(Enum):
    AT_ONCE = "at_once"  # nothing ran: the prompt started when it arrived
    WAITED = "waited"  # it waited for the prompts before it
    CANCELLED = "cancelled"  # cancelled while it waited: it must not run


@dataclass
class _Waiter:
    ready: anyio.Event = field(default_factory=anyio.Event)
    cancelled: bool = False


class PromptQueue:
    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self._running = False
        self._waiting: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> bool:
        return self._running

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[Start]:
        """Hold the session's one prompt slot for the block; yields how the prompt
        started. A ``CANCELLED`` prompt holds no slot. Raises :class:`QueueFull`."""
        if not self._running and not self._waiting:
            self._running = True
            start = Start.AT_ONCE
        else:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} prompts are already waiting")
            waiter = _Waiter()
            self._waiting.append(waiter)
            try:
                await waiter.ready.wait()
            except BaseException:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                elif not waiter.cancelled:
                    self._hand_over()  # the slot was handed to us: pass it on
                raise
            if waiter.cancelled:
                yield Start.CANCELLED
                return
            start = Start.WAITED
        try:
            yield start
        finally:
            self._hand_over()

    def cancel_waiting(self) -> int:
        """Cancel every waiting prompt; how many there were."""
        count = len(self._waiting)
        while self._waiting:
            waiter = self._waiting.popleft()
            waiter.cancelled = True
            waiter.ready.set()
        return count

    def _hand_over(self) -> None:
        if self._waiting:
            self._waiting.popleft().ready.set()  # the slot stays taken: it is theirs
        else:
            self._running = False
