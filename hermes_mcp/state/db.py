"""The SQLite database: WAL, a busy timeout, ``BEGIN IMMEDIATE`` writes, migrations.

Calls are blocking; async code runs them with ``anyio.to_thread.run_sync``. One
connection per process is shared behind a lock (SQLite serialises writers anyway).
``change_token()`` changes whenever any connection commits, which lets a process notice
another process's writes before each request without re-reading tables (see
``_ShmWatch``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hermes_mcp.errors import StateError
from hermes_mcp.state.schema import MIGRATIONS

_CREATED = re.compile(
    r"CREATE\s+(?:VIRTUAL\s+)?(TABLE|INDEX|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I
)
_DROPPED = re.compile(r"DROP\s+(TABLE|INDEX|TRIGGER)\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)


def schema_objects() -> list[tuple[str, str]]:
    """(kind, name) of every table, index and trigger the migrations leave in place."""
    objects: dict[str, str] = {}
    for statements in MIGRATIONS:
        for statement in statements:
            for kind, name in _CREATED.findall(statement):
                objects[name] = kind.upper()
            for _kind, name in _DROPPED.findall(statement):
                objects.pop(name, None)
    return [(kind, name) for name, kind in objects.items()]


BUSY_TIMEOUT_MS = 5000


class _ShmWatch:
    """The WAL-index header in ``<db>-shm``, read with ``pread``.

    Every commit in WAL mode rewrites this header (its change counter, last frame and
    salts: https://www.sqlite.org/walformat.html, "The WAL-Index Header"), and every
    process using the database shares the same file. Comparing its first 48 bytes tells
    "nothing committed since" in about a microsecond, where ``PRAGMA data_version`` opens
    a read transaction (about 14 µs with cold caches, measured in bench/router_overhead.py).
    A torn or short read can only look like a change, which costs one needless reload.

    Not ``mmap``: SQLite truncates the ``-shm`` file when a process opens the database
    first after a crash, and touching a mapped page past the end of a truncated file
    kills the process with SIGBUS (seen with concurrent ``sessions`` commands).
    """

    HEADER = 48

    def __init__(self, path: Path) -> None:
        fd = os.open(f"{path}-shm", os.O_RDONLY)
        try:
            if os.fstat(fd).st_size < 2 * self.HEADER:
                raise OSError("wal-index not initialised")
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def token(self) -> bytes:
        return os.pread(self._fd, self.HEADER, 0)

    def close(self) -> None:
        os.close(self._fd)


class Database:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self.path = path
        try:
            self._shm: _ShmWatch | None = _ShmWatch(path)
        except (OSError, ValueError):
            self._shm = None  # no shared memory here: fall back to PRAGMA data_version

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read on a connection of its own: it never waits for this process's writer
        (which may sit in ``busy_timeout`` holding the main connection), and in WAL mode
        it never waits for other processes' writers either. For the event loop's reads."""
        with self._read_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                self._reader.row_factory = sqlite3.Row
            return self._reader.execute(sql, params).fetchall()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on exit, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def data_version(self) -> int:
        return int(self.read("PRAGMA data_version")[0][0])

    def change_token(self) -> bytes:
        """Differs from the last call's value whenever any connection has committed since
        (it may also differ without a commit; never the reverse)."""
        if self._shm is not None:
            return self._shm.token()
        return self.data_version().to_bytes(8, "little")

    def problems(self) -> list[str]:
        """What ``PRAGMA quick_check`` finds (corrupt pages, broken indexes) and every
        table, index or trigger of the schema that is missing (e.g. a dropped FTS table);
        empty when the database is sound."""
        found = [str(r[0]) for r in self.query("PRAGMA quick_check") if str(r[0]) != "ok"]
        present = {str(r[0]) for r in self.query("SELECT name FROM sqlite_master")}
        for kind, name in schema_objects():
            if name not in present:
                found.append(f"{kind.lower()} {name} is missing")
        return found

    def journal_mode(self) -> str:
        return str(self.query("PRAGMA journal_mode")[0][0])

    def close(self) -> None:
        with self._lock, self._read_lock:
            if self._shm is not None:
                self._shm.close()
            if self._reader is not None:
                self._reader.close()
            self._conn.close()


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StateError(
                f"database schema v{version} is newer than this hermes-mcp knows "
                f"(v{len(MIGRATIONS)}); upgrade hermes-mcp"
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _private(path: Path) -> None:
    """The state holds transcripts, file contents and command output: a directory we
    create is 0700, and the database file is 0600 (SQLite gives its -wal and -shm files
    the database file's mode). An existing directory is left as it is (it may be one the
    user chose for other things too); an existing database file of ours is tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        info = os.fstat(fd)
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        try:
            if stat.S_IMODE(side.stat().st_mode) & 0o077 and side.stat().st_uid == os.getuid():
                side.chmod(0o600)
        except OSError:
            continue  # not there yet: SQLite creates it with the database file's mode


def _set_up(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StateError(f"{path}: SQLite cannot use WAL here (journal_mode={mode})")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn)


def _retry_while_busy(step: Callable[[], None]) -> None:
    """Run ``step``, again while another process holds the database busy. Processes
    opening a new database at the same moment race to turn it into WAL and migrate it,
    and SQLite answers some of those steps "database is locked" at once, without waiting
    ``busy_timeout`` (seen with processes starting together). Bounded by the same
    timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def open_database(path: Path) -> Database:
    """Open (creating and migrating) the database at ``path``; errors become StateError."""
    try:
        _private(path)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StateError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise StateError(f"{path}: {exc.strerror}") from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _retry_while_busy(lambda: _set_up(conn, path))
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise StateError(f"{path}: {exc}") from exc
        raise
    return Database(conn, path)
