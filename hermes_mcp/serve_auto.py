"""``hermes-mcp serve --protocol auto``: the first line on stdin says which protocol.

Both protocols are newline-delimited JSON-RPC 2.0 on stdin/stdout, and each client
opens with a request only its protocol sends (PROTOCOLS.md):

- ``initialize`` whose ``params.protocolVersion`` is an **integer**: ACP (version 1).
- ``initialize`` whose ``protocolVersion`` is a **string** (a date, ``"2025-11-25"``):
  MCP in the handshake era.
- ``server/discover``, or any request carrying MCP's per-request
  ``params._meta["io.modelcontextprotocol/protocolVersion"]``: MCP's stateless era
  (2026-07-28).

Anything else gets a JSON-RPC error on stdout (-32700 for a line that is not JSON,
-32600 for JSON that opens neither protocol, with the request's id when it has one), a
message on stderr, and exit code 2.

The first line is read from fd 0 one byte at a time, so not a byte past its newline is
consumed: the chosen edge gets the line as ``prefix`` and reads the rest of the stream
itself, exactly as the client wrote it. (A pipe cannot be peeked; a first line is a few
hundred bytes, so this costs well under a millisecond, see ``bench/serve_auto.py``; each
start logs it as ``serve.protocol`` with ``detect_ms``, from the first byte.)
The command line imports only the chosen edge: detection does not pay for the other SDK.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from hermes_mcp.jsonrpc_lines import batch_answer, dumps, loads
from hermes_mcp.log import get_logger, redact
from hermes_mcp.stdio_guard import guard_stdout

Protocol = Literal["mcp", "acp"]
MCP_VERSION_META = "io.modelcontextprotocol/protocolVersion"
FIRST_LINE_LIMIT = 4 * 1024 * 1024  # bytes; a first message is a few hundred
PARSE_ERROR, INVALID_REQUEST = -32700, -32600
EXIT_NOT_A_CLIENT = 2


@dataclass(frozen=True)
class Detection:
    """The protocol the first line opens, or the JSON-RPC error that answers it."""

    protocol: Protocol | None
    reason: str
    error: Any = None  # the whole response (an array for a batch), when protocol is None

    @property
    def error_line(self) -> bytes:
        return dumps(self.error)


def _error(code: int, message: str, request_id: Any = None) -> Detection:
    if not (isinstance(request_id, str | int) and not isinstance(request_id, bool)):
        request_id = None
    response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return Detection(None, message, response)


def detect(line: bytes) -> Detection:
    """Which protocol ``line`` (the first message) opens; pure."""
    try:
        message = loads(line)  # bad UTF-8 and nesting past 1,024 levels are errors too
    except ValueError as exc:
        return _error(PARSE_ERROR, f"Parse error: the first line is not JSON ({exc})")
    if isinstance(message, list):
        reason = "Invalid request: the first message is a batch; batches are not supported"
        return Detection(None, reason, batch_answer(message))
    if not isinstance(message, dict):
        kind = type(message).__name__
        return _error(
            INVALID_REQUEST, f"Invalid request: the first message is {kind}, not an object"
        )
    request_id = message.get("id")
    method = message.get("method")
    params = message.get("params")
    if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return _error(INVALID_REQUEST, "Invalid request: not a JSON-RPC 2.0 request", request_id)
    if method == "server/discover":
        return Detection("mcp", "server/discover (MCP 2026-07-28)")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if method != "initialize" and isinstance(meta, dict) and MCP_VERSION_META in meta:
        return Detection("mcp", f"{method} with MCP's per-request protocol version")
    if method != "initialize":
        return _error(
            INVALID_REQUEST,
            f"Invalid request: {method!r} opens neither protocol; an MCP client starts with "
            "initialize or server/discover, an ACP client with initialize",
            request_id,
        )
    version = params.get("protocolVersion") if isinstance(params, dict) else None
    if isinstance(version, int) and not isinstance(version, bool):
        return Detection("acp", f"initialize with protocolVersion {version} (ACP)")
    if isinstance(version, str):
        return Detection("mcp", f"initialize with protocolVersion {version!r} (MCP)")
    return _error(
        INVALID_REQUEST,
        "Invalid request: initialize needs params.protocolVersion, an integer (ACP) or "
        "a date string (MCP)",
        request_id,
    )


def read_first_line(
    fd: int = 0, limit: int = FIRST_LINE_LIMIT, *, started: list[float] | None = None
) -> bytes:
    """The first non-blank line from ``fd``, with its newline, and not a byte more.

    Blank lines before it are dropped. Returns what there was at end of input (``b""``
    for none) and at most ``limit + 1`` bytes when no newline came in time. ``started``
    gets the ``perf_counter()`` of the first byte (what detection costs starts there,
    not while the client has not written yet)."""
    line = bytearray()
    while len(line) <= limit:
        byte = os.read(fd, 1)
        if not byte:
            break
        if started is not None and not started:
            started.append(time.perf_counter())
        if byte == b"\n" and not line.strip():
            line.clear()  # a blank line before the first message
            continue
        line += byte
        if byte == b"\n":
            break
    return bytes(line)


Runner = Callable[[bytes], int]


def serve_auto(
    workspaces: Sequence[Path],
    *,
    run_mcp: Callable[[Sequence[Path], bytes], int],
    run_acp: Runner,
    stdin_fd: int = 0,
    err: Callable[[str], None] | None = None,
) -> int:
    """Read the first line, then hand the stream to the edge it names (fd 1 guarded
    throughout; the edges' own guards nest in this one). ``run_mcp(workspaces, prefix)``
    and ``run_acp(prefix)`` start the edges: the command line passes functions that
    import only the chosen one (this module sits below the edges and imports neither)."""
    say = err or _stderr
    with guard_stdout() as wire:
        started: list[float] = []
        line = read_first_line(stdin_fd, started=started)
        if not line.strip():
            say("hermes-mcp serve: stdin closed before the first message")
            return EXIT_NOT_A_CLIENT
        if len(line) > FIRST_LINE_LIMIT:
            return _refuse(
                wire, _error(INVALID_REQUEST, "Invalid request: first line too long"), say
            )
        found = detect(line)
        if found.protocol is None:
            return _refuse(wire, found, say)
        detect_ms = (time.perf_counter() - started[0]) * 1000
        get_logger("hermes_mcp.serve").info(
            "serve.protocol",
            protocol=found.protocol,
            reason=found.reason,
            detect_ms=round(detect_ms, 3),
        )
        if found.protocol == "mcp":
            return run_mcp(workspaces, line)
        return run_acp(line)


def _refuse(wire: BinaryIO, found: Detection, say: Callable[[str], None]) -> int:
    wire.write(found.error_line)
    wire.flush()
    say(f"hermes-mcp serve: {found.reason}; expected an MCP or ACP client (exit 2)")
    return EXIT_NOT_A_CLIENT


def _stderr(text: str) -> None:
    sys.stderr.write(redact(text).rstrip("\n") + "\n")
    sys.stderr.flush()
