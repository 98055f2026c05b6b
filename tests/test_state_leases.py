"""A session's turn lease across processes (``state/leases.py``): one holder at a time,
the holder's pid named to the next, released for the next taker; a lock file moved
away under a taker is not trusted."""

from __future__ import annotations

import os
from pathlib import Path

from hermes_mcp.state.leases import SessionLease


def test_one_holder_at_a_time_and_released_for_the_next(tmp_path: Path) -> None:
    first = SessionLease.take(tmp_path, "abc123")
    assert isinstance(first, SessionLease)
    assert SessionLease.take(tmp_path, "abc123") == os.getpid()  # flock is per open file
    other = SessionLease.take(tmp_path, "other")
    assert isinstance(other, SessionLease)
    first.release()
    first.release()  # twice is harmless
    again = SessionLease.take(tmp_path, "abc123")
    assert isinstance(again, SessionLease)
    again.release()
    other.release()
    assert list(tmp_path.iterdir()) == []


def test_an_odd_session_id_never_leaves_the_directory(tmp_path: Path) -> None:
    lease = SessionLease.take(tmp_path / "leases", "../../etc/x")
    assert isinstance(lease, SessionLease)
    assert lease.path.parent == tmp_path / "leases" and len(lease.path.stem) == 64
    lease.release()
