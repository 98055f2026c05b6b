"""Running an edge in the test's own process: its environment and working directory as a
process started with them would see them, and a pair of pipes for its stdio.

An edge started this way runs the same code as ``hermes-mcp serve`` / ``hermes-acp`` from
the first line it reads: its own stdio transport on one end of the pipes, the SDK's
client on the other. What it skips is what only a process has (start-up, the stdout
guard, the logging set-up, signals); each edge keeps a few real-process tests for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import structlog


@contextlib.contextmanager
def environment(env: Mapping[str, str], cwd: Path | None = None) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` (and the working directory ``cwd``) inside."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """The logging set-up as it was before: an entry point configures structlog and the
    standard library's root logger for the whole process (``sticky``, for ``serve``)."""
    from hermes_mcp import log

    config = structlog.get_config()
    chosen = log._configured, log._chosen_level, log._chosen_renderer
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.configure(**config)
        log._configured, log._chosen_level, log._chosen_renderer = chosen
        root.handlers[:] = handlers
        root.setLevel(level)


@dataclass
class Pipes:
    """Two pipes: the edge reads ``edge_in`` (a descriptor, as its stdin) and writes
    ``edge_out`` (a file, as its guarded stdout); the client holds the other ends."""

    edge_in: int
    edge_out: BinaryIO
    client_read: int
    client_write: int
    _transports: list[asyncio.BaseTransport | asyncio.StreamWriter] = field(default_factory=list)

    @classmethod
    def open(cls) -> Pipes:
        edge_in, client_write = os.pipe()
        client_read, edge_out = os.pipe()
        return cls(edge_in, os.fdopen(edge_out, "wb", buffering=0), client_read, client_write)

    async def client_streams(
        self, limit: int = 64 * 1024 * 1024
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The client's ends as asyncio streams (what the SDKs use for a process)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit)
        read, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader),
            os.fdopen(self.client_read, "rb", buffering=0),
        )
        write, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
            os.fdopen(self.client_write, "wb", buffering=0),
        )
        writer = asyncio.StreamWriter(write, protocol, None, loop)
        self._transports += [read, writer]
        return reader, writer

    def close_client_ends(self) -> None:
        for transport in self._transports:
            transport.close()

    def close_edge_ends(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.edge_in)
        self.edge_out.close()
