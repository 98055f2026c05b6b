"""Group commit: the store's writes of every session, batched into shared transactions.

Each write is a function of the write connection. Writes that arrive while a batch is
being committed wait for the next batch; a batch is one ``BEGIN IMMEDIATE`` transaction
in one worker thread, each write inside it under a savepoint of its own (one failing
write is rolled back alone and fails alone). Fifty sessions storing at once cost a few
thread hops and commits, not fifty of each: worker threads hand over slowly on a busy
machine, and every hop costs the event loop the GIL.

The batch runs in whichever task found no batch running, shielded from cancellation:
others' writes are in it, and a cancelled turn still stores what it must. A write
waits for its batch however long SQLite waits for the lock (``busy_timeout``), as a
coroutine: the event loop keeps serving.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio

from hermes_mcp.state import Database

R = TypeVar("R")


@dataclass
class _Slot(Generic[R]):
    fn: Callable[[sqlite3.Connection], R]
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Any = None
    error: BaseException | None = None


class GroupWriter:
    def __init__(
        self,
        db: Database,
        run_in_thread: Callable[[Callable[[], None]], Awaitable[None]],
        wrap_error: Callable[[sqlite3.Error], Exception],
    ) -> None:
        self._db = db
        self._run_in_thread = run_in_thread
        self._wrap = wrap_error
        self._queue: list[_Slot[Any]] = []
        self._flushing = False

    async def write(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        slot: _Slot[R] = _Slot(fn)
        self._queue.append(slot)
        if not self._flushing:
            self._flushing = True
            try:
                with anyio.CancelScope(shield=True):
                    while self._queue:
                        batch, self._queue = self._queue, []
                        await self._flush(batch)
            finally:
                self._flushing = False
        await slot.done.wait()
        if slot.error is not None:
            raise slot.error
        result: R = slot.result
        return result

    async def _flush(self, batch: list[_Slot[Any]]) -> None:
        def commit() -> None:
            with self._db.write() as conn:
                for slot in batch:
                    conn.execute("SAVEPOINT hermes_write")
                    try:
                        slot.result = slot.fn(conn)
                    except Exception as exc:
                        conn.execute("ROLLBACK TO hermes_write")
                        slot.error = self._wrap(exc) if isinstance(exc, sqlite3.Error) else exc
                    conn.execute("RELEASE hermes_write")

        try:
            await self._run_in_thread(commit)
        except Exception as exc:  # the transaction itself failed: every write did
            error = self._wrap(exc) if isinstance(exc, sqlite3.Error) else exc
            for slot in batch:
                if slot.error is None:
                    slot.error = error
        finally:
            for slot in batch:
                slot.done.set()
