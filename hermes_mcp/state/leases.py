"""A session's turn held across processes: at most one process runs a turn of a session.

Two ``run --session ID`` at once both ran, and their turns interleaved in one
transcript. A turn now holds a lease on its session: an exclusive ``flock`` on
``<state dir>/leases/<session id>.lock``, taken without waiting (the second process is
told at once, naming the session and the pid that holds it) and released when the
turn ends. Why a lock file and not a row with the owner's pid: the kernel releases a
``flock`` when its process dies, ``kill -9`` included, so a stale lease is recovered
by the next taker at once, with no pid-reuse or clock guess; the pid in the file is
only for the message. The file is removed on release; a taker checks that the file it
locked is still the one at the path (a release may unlink it in between) and tries
again if not.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from hashlib import sha256
from pathlib import Path

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,128}")


class SessionLease:
    """One process's hold on a session's turn (:meth:`take`, then :meth:`release`)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, directory: Path, session_id: str) -> SessionLease | int:
        """The lease, or the pid holding it (``0`` when unknown). Never waits."""
        directory.mkdir(parents=True, exist_ok=True)
        name = (
            session_id if _SAFE.fullmatch(session_id) else sha256(session_id.encode()).hexdigest()
        )
        path = directory / f"{name}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _pid_in(fd)
                os.close(fd)
                return owner
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                return cls(path, fd)
            os.close(fd)  # released and removed meanwhile: lock the new file

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)  # and with it the lock
        self._fd = None


def _pid_in(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0) or b"0")
    except (OSError, ValueError):
        return 0
