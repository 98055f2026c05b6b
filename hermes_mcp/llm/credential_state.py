"""Cooldowns and dead marks, persisted in SQLite and shared by every process.

Keyed by provider, endpoint, credential fingerprint and model ('' unless the provider
limits per model). Reads come from an in-process cache that is reloaded only when
the database says some connection committed, so a running process honours a
cooldown written elsewhere before its next request without re-reading tables on every
request. (``Database.change_token`` reads SQLite's shared WAL-index header for that.)
Writes happen only when a state changes (a failure, a reset), inside
``BEGIN IMMEDIATE`` and off the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import anyio

from hermes_mcp.log import get_logger
from hermes_mcp.state import Database

log = get_logger("hermes_mcp.state")

StateName = Literal["cooling", "dead"]

# The message of a mark that stands for a half-open probe in flight: when a cooldown
# ends, one request (across every process) claims the credential by extending its mark
# by a short lease with this message; the others treat it as still cooling until the
# probe answers (the lease ends early then) or the lease runs out (a prober that died).
PROBE_PREFIX = "half-open probe in flight; "


@dataclass(frozen=True)
class StateKey:
    provider: str
    endpoint: str
    credential: str  # fingerprint
    model: str = ""


@dataclass(frozen=True)
class CredentialState:
    state: StateName
    cooldown_until: float | None  # epoch seconds; None when dead
    last_class: str
    last_error_at: float
    message: str = ""

    @property
    def probing(self) -> bool:
        """Whether this mark is a half-open probe's lease (see ``PROBE_PREFIX``)."""
        return self.state == "cooling" and self.message.startswith(PROBE_PREFIX)

    def blocks(self, now: float) -> bool:
        """Whether this mark keeps the credential out of rotation at ``now``."""
        if self.state == "dead":
            return True
        return self.cooldown_until is not None and self.cooldown_until > now


def _outlasts(current: CredentialState, new: CredentialState) -> bool:
    """Whether ``current`` (still in force when ``new`` happened) is the stronger mark."""
    if not current.blocks(new.last_error_at) or current.probing:
        return False  # a probe's lease gives way to what the probe found
    if current.state == "dead":
        return True
    return new.state == "cooling" and (current.cooldown_until or 0.0) >= (new.cooldown_until or 0.0)


class CredentialStateStore:
    """The shared state of every credential this machine has used.

    ``db`` may be ``None`` for a purely in-memory store (tests of pure pool logic).
    """

    def __init__(self, db: Database | None, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._cache: dict[StateKey, CredentialState] = {}
        self._version: bytes | None = None
        self._pending: dict[StateKey, CredentialState] = {}  # marked, not yet committed

    def _reload_if_changed(self) -> None:
        if self._db is None:
            return
        version = self._db.change_token()
        if version == self._version:
            return
        try:
            rows = self._db.read(
                "SELECT provider, endpoint, credential, model, state, cooldown_until, "
                "last_class, last_error_at, message FROM credential_state"
            )
        except sqlite3.Error as exc:  # keep what we know; try again before the next request
            log.warning("state.read_failed", error=str(exc))
            return
        self._cache = {
            StateKey(r["provider"], r["endpoint"], r["credential"], r["model"]): CredentialState(
                r["state"], r["cooldown_until"], r["last_class"], r["last_error_at"], r["message"]
            )
            for r in rows
        }
        self._cache.update(self._pending)
        self._version = version

    def get(self, key: StateKey) -> CredentialState | None:
        self._reload_if_changed()
        return self._cache.get(key)

    def snapshot_view(self) -> Mapping[StateKey, CredentialState]:
        """The current marks, fresh, without copying (read it before the next await)."""
        self._reload_if_changed()
        return self._cache

    def snapshot(self) -> dict[StateKey, CredentialState]:
        self._reload_if_changed()
        return dict(self._cache)

    async def mark(self, key: StateKey, state: CredentialState) -> None:
        """Record a new state: visible to this process at once, persisted off the loop.

        A mark never weakens one still in force: a dead credential stays dead, and a
        cooldown is only extended (concurrent requests failing on one key in different
        ways must not let a short rate limit overwrite a spent daily quota)."""
        current = self.snapshot_view().get(key)
        if current is not None and _outlasts(current, state):
            return
        self._cache[key] = state
        if self._db is not None:
            self._pending[key] = state
            try:
                await anyio.to_thread.run_sync(self._write, key, state)
            except sqlite3.Error as exc:
                # Locked for longer than busy_timeout, or a disk problem: this process
                # still honours the mark; other processes learn of it from their own.
                log.warning("state.write_failed", provider=key.provider, error=str(exc))
            finally:
                if self._pending.get(key) is state:
                    del self._pending[key]

    def _write(self, key: StateKey, state: CredentialState) -> None:
        assert self._db is not None
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO credential_state (provider, endpoint, credential, model, state, "
                "cooldown_until, last_class, last_error_at, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, endpoint, credential, model) DO UPDATE SET "
                "state = excluded.state, cooldown_until = excluded.cooldown_until, "
                "last_class = excluded.last_class, last_error_at = excluded.last_error_at, "
                "message = excluded.message "
                # Another process may hold a stronger mark: never weaken it (see mark()),
                # unless it is a probe's lease, which gives way to the probe's answer.
                f"WHERE credential_state.message LIKE '{PROBE_PREFIX}%' OR NOT ("
                "(credential_state.state = 'dead' AND excluded.state != 'dead') "
                "OR (credential_state.state = 'cooling' AND excluded.state = 'cooling' "
                "AND credential_state.cooldown_until > excluded.cooldown_until "
                "AND credential_state.cooldown_until > excluded.last_error_at))",
                (
                    key.provider,
                    key.endpoint,
                    key.credential,
                    key.model,
                    state.state,
                    state.cooldown_until,
                    state.last_class,
                    state.last_error_at,
                    state.message,
                ),
            )
        # Our own commit changes the token too; the next read reloads, harmlessly.

    async def claim_probe(self, key: StateKey, seen: CredentialState, until: float) -> bool:
        """Claim the half-open probe of a credential whose cooldown ``seen`` has ended:
        True for exactly one claimant across processes (a compare-and-set on the row),
        which then holds a lease until ``until``; False when another got there first."""
        current = self.snapshot_view().get(key)
        if current != seen:
            return False  # changed since the caller looked: someone else moved first
        lease = CredentialState(
            "cooling", until, seen.last_class, seen.last_error_at, PROBE_PREFIX + seen.message
        )
        self._cache[key] = lease
        if self._db is None:
            return True
        self._pending[key] = lease
        try:
            won = await anyio.to_thread.run_sync(self._claim, key, seen, lease)
        except sqlite3.Error as exc:  # cannot coordinate: probe anyway (at worst, twice)
            log.warning("state.write_failed", provider=key.provider, error=str(exc))
            won = True
        finally:
            if self._pending.get(key) is lease:
                del self._pending[key]
        if not won:
            self._cache.pop(key, None)
            self._version = None  # read what the winner wrote
        return won

    def _claim(self, key: StateKey, seen: CredentialState, lease: CredentialState) -> bool:
        assert self._db is not None
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE credential_state SET cooldown_until = ?, message = ? "
                "WHERE provider = ? AND endpoint = ? AND credential = ? AND model = ? "
                "AND state = 'cooling' AND cooldown_until = ?",
                (
                    lease.cooldown_until,
                    lease.message,
                    key.provider,
                    key.endpoint,
                    key.credential,
                    key.model,
                    seen.cooldown_until,
                ),
            )
            return cursor.rowcount == 1

    async def end_probe(self, key: StateKey, lease_until: float) -> None:
        """The probe answered without a new mark (served, or a failure that does not cool
        the credential): the credential is back in rotation. A mark the probe's failure
        wrote instead of the lease is left alone."""
        current = self._cache.get(key)
        if current is not None and current.probing and current.cooldown_until == lease_until:
            del self._cache[key]
        if self._db is None:
            return
        try:
            await anyio.to_thread.run_sync(self._end_probe, key, lease_until)
        except sqlite3.Error as exc:  # the lease runs out by itself
            log.warning("state.write_failed", provider=key.provider, error=str(exc))

    def _end_probe(self, key: StateKey, lease_until: float) -> None:
        assert self._db is not None
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM credential_state WHERE provider = ? AND endpoint = ? "
                "AND credential = ? AND model = ? AND cooldown_until = ? AND message LIKE ?",
                (
                    key.provider,
                    key.endpoint,
                    key.credential,
                    key.model,
                    lease_until,
                    PROBE_PREFIX + "%",
                ),
            )

    def reset(self, fingerprint: str) -> int:
        """Clear every cooldown and dead mark of a credential; returns how many."""
        keys = [k for k in self.snapshot() if k.credential == fingerprint]
        for key in keys:
            self._cache.pop(key, None)
        if self._db is not None:
            with self._db.write() as conn:
                cursor = conn.execute(
                    "DELETE FROM credential_state WHERE credential = ?", (fingerprint,)
                )
                return max(cursor.rowcount, len(keys))
        return len(keys)
