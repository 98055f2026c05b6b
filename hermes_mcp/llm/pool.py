"""A provider's credential pool: which credential serves the next request.

Selection (DESIGN.md invariants 1, 2 and 11):

1. Only *available* credentials are candidates: not dead, not cooling, and not already
   tried by this request. Duplicates were merged when the config was resolved, so "room
   to rotate" means distinct secrets.
2. Among candidates, those with the fewest leases (requests in flight) come first:
   concurrent requests spread over the pool whatever the strategy.
3. The strategy orders the rest: ``fill_first`` (config order), ``round_robin`` (the one
   after the last picked), ``least_used`` (fewest picks in this process, then config
   order), ``random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from hermes_mcp.config import Strategy
from hermes_mcp.credentials import Credential
from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore, StateKey


@dataclass(frozen=True)
class Recovery:
    """When the earliest blocked credential of a pool becomes usable, and why it is not."""

    at: float | None  # None: dead, never by itself
    failure_class: str


class CredentialPool:
    def __init__(
        self,
        *,
        provider: str,
        endpoint: str,
        credentials: list[Credential],
        strategy: Strategy,
        store: CredentialStateStore,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.credentials = list(credentials)
        self.strategy = strategy
        self._store = store
        self._clock = clock
        self._rng = rng or random.Random()
        self._leases: dict[str, int] = {c.fingerprint: 0 for c in credentials}
        self._uses: dict[str, int] = {c.fingerprint: 0 for c in credentials}
        self._next = 0  # round_robin: index to start from
        self._keys: dict[tuple[str, str], StateKey] = {}

    def key(self, credential: Credential, model: str = "") -> StateKey:
        """The state key of a credential for one model, or for every model (``""``)."""
        cache_key = (credential.fingerprint, model)
        key = self._keys.get(cache_key)
        if key is None:
            key = StateKey(self.provider, self.endpoint, *cache_key)
            self._keys[cache_key] = key
        return key

    def _blocking(
        self,
        marks: Mapping[StateKey, CredentialState],
        credential: Credential,
        model: str,
        now: float,
    ) -> CredentialState | None:
        """The mark that keeps a credential out for ``model``: its key-wide mark or its
        mark for that model, whichever lasts longer (dead lasts longest)."""
        found: CredentialState | None = None
        for key in (self.key(credential), self.key(credential, model)):
            mark = marks.get(key)
            if mark is None or not mark.blocks(now):
                continue
            if found is None or _lasts_longer(mark, found):
                found = mark
        return found

    def state(self, credential: Credential, model: str) -> CredentialState | None:
        """The mark blocking ``credential`` for ``model`` now, if any."""
        return self._blocking(self._store.snapshot_view(), credential, model, self._clock())

    def available(self, model: str, exclude: Collection[str] = ()) -> list[Credential]:
        now = self._clock()
        marks = self._store.snapshot_view()  # one freshness check for the whole pool
        return [
            cred
            for cred in self.credentials
            if cred.fingerprint not in exclude and self._blocking(marks, cred, model, now) is None
        ]

    def ended(self, credential: Credential, model: str) -> list[tuple[StateKey, CredentialState]]:
        """The cooling marks of ``credential`` (key-wide and for ``model``) whose cooldown
        has ended: the credential is half-open, and one request must probe it first."""
        marks = self._store.snapshot_view()
        if not marks:
            return []
        now = self._clock()
        found: list[tuple[StateKey, CredentialState]] = []
        for key in dict.fromkeys((self.key(credential), self.key(credential, model))):
            mark = marks.get(key)
            if mark is not None and mark.state == "cooling" and not mark.blocks(now):
                found.append((key, mark))
        return found

    def probe_in_flight(self, model: str) -> float | None:
        """When the earliest probe lease of this pool ends, if every blocked credential
        is blocked only by one (a probe elsewhere will settle it soon)."""
        now = self._clock()
        marks = self._store.snapshot_view()
        leases = []
        for cred in self.credentials:
            mark = self._blocking(marks, cred, model, now)
            if mark is None:
                return None  # one is free: nothing to wait for
            if mark.probing and mark.cooldown_until is not None:
                leases.append(mark.cooldown_until)
        return min(leases) if leases else None

    def acquire(self, model: str, exclude: Collection[str] = ()) -> Credential | None:
        """Lease the next credential, or ``None`` when none is available."""
        candidates = self.available(model, exclude)
        if not candidates:
            return None
        fewest = min(self._leases[c.fingerprint] for c in candidates)
        free = [c for c in candidates if self._leases[c.fingerprint] == fewest]
        chosen = self._pick(free)
        self._leases[chosen.fingerprint] += 1
        self._uses[chosen.fingerprint] += 1
        return chosen

    def release(self, credential: Credential) -> None:
        self._leases[credential.fingerprint] -= 1

    def _pick(self, free: list[Credential]) -> Credential:
        if self.strategy == "random":
            return self._rng.choice(free)
        if self.strategy == "least_used":
            return min(free, key=lambda c: self._uses[c.fingerprint])
        if self.strategy == "round_robin":
            count = len(self.credentials)
            order = [self.credentials[(self._next + i) % count] for i in range(count)]
            chosen = next(c for c in order if c in free)
            self._next = (self.credentials.index(chosen) + 1) % count
            return chosen
        return free[0]  # fill_first: config order

    def recovery(self, model: str) -> Recovery | None:
        """The earliest recovery among blocked credentials (None if none is blocked)."""
        now = self._clock()
        marks = self._store.snapshot_view()
        best: Recovery | None = None
        for cred in self.credentials:
            mark = self._blocking(marks, cred, model, now)
            if mark is None:
                continue
            at = mark.cooldown_until if mark.state == "cooling" else None
            if best is None or (at is not None and (best.at is None or at < best.at)):
                best = Recovery(at, mark.last_class)
        return best


def _lasts_longer(a: CredentialState, b: CredentialState) -> bool:
    if a.state == "dead" or b.state == "dead":
        return a.state == "dead" and b.state != "dead"
    return (a.cooldown_until or 0.0) > (b.cooldown_until or 0.0)
