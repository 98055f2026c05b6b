"""An MCP client that stops reading: ``hermes-mcp serve --protocol mcp``'s resident memory
while requests keep coming and no answer is read, and whether every answer arrives once
the client reads again.

After ``initialize``, ``tools/list`` requests are written to the server's stdin as fast as
it takes them for ``--seconds`` (60), nothing read from its stdout; its VmRSS is sampled
every 0.5 s. A server with backpressure stops reading new requests while its unsent
answers exceed a bound, so the writes block and its memory stays flat (before, about
6,600 requests were taken in 40 s and memory went from 90 MB to 813 MB and rising).
Then the client reads: every request written must be answered, each once.

Prints one JSON line: ``rss_idle_mb`` (after ``initialize`` and one ``tools/list``, the
baseline of the same run), ``rss_max_mb``, ``rss_ratio`` (max over idle), the requests
written and taken, the answers read, ``all_answered``; target ``rss_max_mb`` < 200.

    python3 -m uv run --frozen python bench/stalled_reader.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def request(request_id: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode() + b"\n"


class Reader:
    """Answers from the server's stdout, by id."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.ids: list[Any] = []

    def pump(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout``); False at EOF."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            return False
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                message = json.loads(line)
                if "id" in message and "method" not in message:
                    self.ids.append(message["id"])
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        (base / "ws").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
        env["HERMES_MCP_HOME"] = str(base / "home")
        hermes = str(Path(sys.executable).parent / "hermes-mcp")
        command = [hermes, "serve", "--protocol", "mcp", "--workspace", str(base / "ws")]
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        stdin, reader = proc.stdin.fileno(), Reader(proc.stdout.fileno())
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "stalled", "version": "0"},
        }
        os.write(stdin, request(0, "initialize", init))
        os.write(
            stdin,
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode() + b"\n",
        )
        os.write(stdin, request(1, "tools/list"))
        while len(reader.ids) < 2:
            reader.pump(5.0)
        rss_idle = rss_mb(proc.pid)
        os.set_blocking(stdin, False)

        written, pending, next_id = 2, b"", 2
        samples: list[float] = []
        start = last_sample = time.monotonic()
        while time.monotonic() - start < args.seconds:
            if not pending:
                pending = request(next_id, "tools/list")
                next_id += 1
            try:
                pending = pending[os.write(stdin, pending) :]
                if not pending:
                    written += 1
            except BlockingIOError:
                select.select([], [stdin], [], 0.05)
            if time.monotonic() - last_sample >= 0.5:
                samples.append(rss_mb(proc.pid))
                last_sample = time.monotonic()
        samples.append(rss_mb(proc.pid))

        # The client reads again: finish the request it was writing, read every answer.
        deadline = time.monotonic() + 120
        while (pending or len(reader.ids) < written) and time.monotonic() < deadline:
            if pending:
                try:
                    pending = pending[os.write(stdin, pending) :]
                    if not pending:
                        written += 1
                except BlockingIOError:
                    pass
            if not reader.pump(0.05):
                break
        os.set_blocking(stdin, True)
        proc.stdin.close()
        proc.wait(timeout=30)
        ids = reader.ids
        report = {
            "seconds": args.seconds,
            "rss_idle_mb": round(rss_idle, 1),
            "rss_max_mb": round(max(samples), 1),
            "rss_ratio": round(max(samples) / rss_idle, 3),
            "requests_written": written,
            "answers_read": len(ids),
            "all_answered": sorted(ids) == list(range(written)),
            "target_rss_max_mb": 200,
        }
        print(json.dumps(report))


if __name__ == "__main__":
    main()
