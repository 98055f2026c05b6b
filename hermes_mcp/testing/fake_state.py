"""The fake provider's scripting and bookkeeping, shared by the server thread and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import anyio.to_thread

from .fake_steps import Step, reply, script_from_json

#: How long the waits below wait by default: a guard against a hang, not a measurement;
#: generous for a loaded machine, and under the test suite's 60 s per-test limit.
WAIT_S = 30.0

DEFAULT_STEP: Step = reply()


class RequestRecord(NamedTuple):
    """One request the fake received (``at``: ``time.monotonic()`` on arrival)."""

    at: float
    method: str
    path: str
    key: str | None
    model: str | None
    body: dict[str, Any] | None
    stream: bool


class DisconnectRecord(NamedTuple):
    """A request whose client closed the connection before the response finished."""

    key: str | None
    path: str
    at: float


@dataclass(slots=True)
class _Waiter:
    predicate: Callable[[], bool]
    wake: Callable[[], None]


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class ProviderState:
    """Thread-safe queues, defaults, records, in-flight counters and waits."""

    def __init__(self, *, record_bodies: bool = True) -> None:
        self._record_bodies = record_bodies
        self._lock = threading.RLock()
        self._queues: dict[str | None, deque[Step]] = {}
        self._defaults: dict[str | None, Step] = {}
        self._requests: list[RequestRecord] = []
        self._disconnects: list[DisconnectRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._by_key: dict[str | None, int] = {}
        self._max_by_key: dict[str | None, int] = {}
        self._keys_max = 0
        self._waiters: list[_Waiter] = []

    # -- scripting -------------------------------------------------------------------------

    def script(self, key: str | None, *steps: Step) -> None:
        """Append steps to ``key``'s queue (``"*"``: keys without a queue of their own)."""
        with self._lock:
            self._queues.setdefault(key, deque()).extend(steps)

    def set_default(self, key: str | None, step: Step | None) -> None:
        """The step served to ``key`` once its queue is empty (None: remove it)."""
        with self._lock:
            if step is None:
                self._defaults.pop(key, None)
            else:
                self._defaults[key] = step

    def load_script(self, data: Any) -> None:
        """Apply a script's JSON (see ``fake_steps.script_from_json``)."""
        queues, defaults = script_from_json(data)
        with self._lock:
            for key, steps in queues.items():
                self.script(key, *steps)
            self._defaults.update(defaults)

    def remaining(self, key: str | None) -> int:
        """Steps still queued for ``key``."""
        with self._lock:
            return len(self._queues.get(key, ()))

    def reset(self) -> None:
        """Clear queues, defaults, records and maxima."""
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._requests.clear()
            self._disconnects.clear()
            self._max_in_flight = self._in_flight
            self._max_by_key = dict(self._by_key)
            self._keys_max = len(self._by_key)

    def _next_step(self, key: str | None) -> Step:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues.get("*")
        if queue:
            return queue.popleft()
        return self._default_for(key)

    def _default_for(self, key: str | None) -> Step:
        with self._lock:
            step = self._defaults.get(key)
            if step is None:
                step = self._defaults.get("*", DEFAULT_STEP)
            return step

    # -- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> list[DisconnectRecord]:
        with self._lock:
            return list(self._disconnects)

    def count(
        self, key: str | None = None, model: str | None = None, path: str | None = None
    ) -> int:
        """Requests received, filtered by key / model / path (None: any)."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (key is None or r.key == key)
                and (model is None or r.model == model)
                and (path is None or r.path == path)
            )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def in_flight_by_key(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._by_key)

    def max_in_flight_by_key(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._max_by_key)

    def keys_in_flight_max(self) -> int:
        """The most distinct keys that had a request in flight at the same time."""
        return self._keys_max

    # -- waiting ---------------------------------------------------------------------------
    # The async waits take a timeout (ASYNC109) on purpose: the condition is met on another
    # thread, and a built-in deadline keeps a test without its own fail_after from hanging.
    # The deadline is a guard, not a measurement: WAIT_S is generous for a loaded machine.

    def block_until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Block this thread until ``predicate()`` holds (checked on each request start/end
        and disconnect); TimeoutError after ``timeout`` seconds."""
        event = threading.Event()
        waiter = _Waiter(predicate, event.set)
        with self._lock:
            if predicate():
                return
            self._waiters.append(waiter)
        try:
            if not event.wait(timeout):
                raise TimeoutError(f"fake provider: condition not met within {timeout}s")
        finally:
            self._drop_waiter(waiter)
        predicate()  # re-raise here if it raised in the server thread

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        """``block_until`` for async code: never blocks the caller's event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (e.g. trio): wait in a worker thread
            await anyio.to_thread.run_sync(
                self.block_until, predicate, timeout, abandon_on_cancel=True
            )
            return
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the waiting loop is gone
                loop.call_soon_threadsafe(_set_result, fut)

        waiter = _Waiter(predicate, wake)
        with self._lock:
            if predicate():
                return
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(f"fake provider: condition not met within {timeout}s") from None
        finally:
            self._drop_waiter(waiter)
        predicate()

    async def wait_disconnect(
        self,
        timeout: float = WAIT_S,  # noqa: ASYNC109
        *,
        count: int = 1,
        key: str | None = None,
        path: str | None = None,
    ) -> DisconnectRecord:
        """Wait until ``count`` disconnects (of ``key`` / ``path``; None: any) were recorded
        since start or the last ``reset``; return the ``count``-th."""

        def matching() -> list[DisconnectRecord]:
            return [
                d
                for d in self._disconnects
                if (key is None or d.key == key) and (path is None or d.path == path)
            ]

        await self.wait_until(lambda: len(matching()) >= count, timeout)
        with self._lock:
            return matching()[count - 1]

    async def wait_in_flight(self, n: int, timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        """Wait until at least ``n`` requests are in flight at once."""
        await self.wait_until(lambda: self._in_flight >= n, timeout)

    async def wait_keys_in_flight(self, n: int, timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        """Wait until requests of at least ``n`` distinct keys are in flight at once."""
        await self.wait_until(lambda: len(self._by_key) >= n, timeout)

    async def wait_requests(
        self,
        n: int,
        timeout: float = WAIT_S,  # noqa: ASYNC109
        *,
        key: str | None = None,
    ) -> None:
        """Wait until at least ``n`` requests (of ``key``; None: any) have arrived."""
        await self.wait_until(lambda: self.count(key=key) >= n, timeout)

    def _drop_waiter(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _check_waiters(self) -> None:  # with self._lock held
        pending = []
        for waiter in self._waiters:
            try:
                done = waiter.predicate()
            except Exception:  # the waiting side re-evaluates and raises
                done = True
            if done:
                waiter.wake()
            else:
                pending.append(waiter)
        self._waiters = pending

    # -- bookkeeping (server thread) --------------------------------------------------------

    def _begin(self, record: RequestRecord) -> Step:
        """Count a request in flight and take its step."""
        if not self._record_bodies and record.body is not None:
            record = record._replace(body=None)
        key = record.key
        with self._lock:
            step = self._next_step(key)
            self._requests.append(record)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            n = self._by_key[key] = self._by_key.get(key, 0) + 1
            if n > self._max_by_key.get(key, 0):
                self._max_by_key[key] = n
            self._keys_max = max(self._keys_max, len(self._by_key))
            if self._waiters:
                self._check_waiters()
        return step

    def _end(self, key: str | None) -> None:
        with self._lock:
            self._in_flight -= 1
            n = self._by_key[key] - 1
            if n:
                self._by_key[key] = n
            else:
                del self._by_key[key]
            if self._waiters:
                self._check_waiters()

    def _record_disconnect(self, key: str | None, path: str) -> None:
        with self._lock:
            self._disconnects.append(DisconnectRecord(key, path, time.monotonic()))
            if self._waiters:
                self._check_waiters()

    def stats(self) -> dict[str, Any]:
        """Counters as JSON-able data (also served at ``GET /_fake/stats``)."""
        with self._lock:
            by_key: dict[str, int] = {}
            for r in self._requests:
                name = "" if r.key is None else r.key
                by_key[name] = by_key.get(name, 0) + 1
            return {
                "requests": len(self._requests),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "keys_in_flight_max": self._keys_max,
                "disconnects": len(self._disconnects),
                "by_key": by_key,
            }
