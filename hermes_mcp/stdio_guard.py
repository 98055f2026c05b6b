"""Keep stdout for the protocol: the real fd 1 goes to the protocol writer, and fd 1
itself (with ``sys.stdout``) is pointed at stderr for as long as a server runs.

``serve`` and ``hermes-acp`` speak JSON-RPC on stdout. A stray ``print()`` from a tool
or a library, or a child process that inherits fd 1, would corrupt the wire; with the
guard on, all of that lands on stderr. ``mcp``'s own ``stdio_server()`` does the same
when it opens the streams itself, but not when it is handed explicit streams (as it is
after ``serve --protocol auto`` has peeked at the first line), and the ACP SDK never
does: both edges open their streams through :func:`guard_stdout`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

_active: BinaryIO | None = None


@contextmanager
def guard_stdout() -> Iterator[BinaryIO]:
    """Yield an unbuffered binary file on the real stdout (the protocol wire); until
    the block ends, fd 1 and ``sys.stdout`` write to stderr. Restored on exit.

    Re-entrant: inside a guard (``serve --protocol auto`` guards the whole run, then an
    edge opens its streams through its own guard) it yields the same wire."""
    global _active
    if _active is not None:
        yield _active
        return
    sys.stdout.flush()
    wire_fd = os.dup(1)
    saved_stdout = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    wire = os.fdopen(wire_fd, "wb", buffering=0)
    _active = wire
    try:
        yield wire
    finally:
        _active = None
        sys.stdout = saved_stdout
        try:
            wire.flush()
        finally:
            os.dup2(wire.fileno(), 1)
            wire.close()
