"""A fake LLM provider: a real HTTP server on loopback, scripted per API key and per call.

Use it to test a router or check a configuration offline, without any real provider.

In Python (tests)::

    from hermes_mcp.testing import FakeProvider, reply, rate_limited, stream

    with FakeProvider() as fp:              # serves from a daemon thread on 127.0.0.1:<free port>
        fp.script("sk-a", rate_limited(retry_after=2), reply("hi"))  # sk-a: a 429, then "hi"
        fp.script("*", reply("for any other key"))                    # keys without a queue
        fp.set_default("sk-b", rate_limited())                         # sk-b: always 429
        client = OpenAI(base_url=fp.openai_base_url, api_key="sk-a")   # or any HTTP client
        ...
        assert fp.count(key="sk-a") == 2

Each request takes the next step of its key's queue (the key is the bearer token, or the
``x-api-key`` / ``x-goog-api-key`` header; no credential is key ``None``). A key that was
never scripted uses the ``"*"`` queue. Once the queue is empty: the key's default, else the
``"*"`` default, else a 200 reply "Hello from the fake provider" (10 input / 5 output tokens).

Steps (``hermes_mcp.testing.fake_steps``): ``reply``, ``stream`` (chunking, delays, stalls,
broken streams, in-stream errors), ``rate_limited``, ``daily_quota``, ``payment_required``,
``unauthorized``, ``server_error``, ``context_overflow``, ``model_not_found``, ``fail``,
``slow``, ``hold`` (until ``fp.release()``), ``malformed``, ``error_in_200``. A request with
``"stream": true`` gets a reply as server-sent events; failures stay plain HTTP errors.

Observation: ``fp.requests``, ``fp.count(...)``, ``fp.in_flight``, ``fp.max_in_flight``,
``fp.keys_in_flight_max()``, ``fp.disconnects``; async tests wait with
``await fp.wait_disconnect(timeout)``, ``fp.wait_in_flight(n)``, ``fp.wait_keys_in_flight(n)``,
``fp.wait_until(predicate)`` (sync code: ``fp.block_until(predicate)``).

Formats: the same steps render as OpenAI chat completions (``POST /v1/chat/completions``,
``fp.openai_base_url``), Anthropic Messages (``POST /v1/messages``), Gemini
(``POST /v1beta/models/{model}:generateContent`` / ``:streamGenerateContent?alt=sse``) and
Vertex AI (``/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:...``), each with
its provider's real error bodies (``fake_openai``, ``fake_anthropic``, ``fake_gemini``).
``POST /token`` is an OAuth token endpoint for service accounts and refresh tokens
(``fake_token``): ``fp.token_url``, ``fp.token_script(...)``, ``fp.token_hits``.

From a shell (or a benchmark's parent process)::

    python -m hermes_mcp.testing.fake_provider [--host 127.0.0.1] [--port 0] \\
        [--script FILE.json] [--latency-ms N]

prints one line ``{"url": "http://127.0.0.1:PORT"}`` on stdout, then serves until SIGINT or
SIGTERM. The script file maps keys to a list of steps (a queue) or to one step (a default)::

    {"sk-a": [{"kind": "daily_quota", "retry_after": 86400}, {"kind": "reply", "text": "hi"}],
     "*": {"kind": "slow", "seconds": 0.5, "then": {"kind": "reply"}}}

While running, ``GET /_fake/stats`` returns counters, ``POST /_fake/script`` (same JSON)
adds to the script, ``POST /_fake/reset`` clears everything. Only loopback addresses serve.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .fake_server import DisconnectRecord, FakeProvider, RequestRecord, loopback_host
from .fake_steps import (
    context_overflow,
    daily_quota,
    error_in_200,
    fail,
    hold,
    malformed,
    model_not_found,
    payment_required,
    rate_limited,
    reply,
    server_error,
    slow,
    stream,
    unauthorized,
)

__all__ = [
    "DisconnectRecord",
    "FakeProvider",
    "RequestRecord",
    "context_overflow",
    "daily_quota",
    "error_in_200",
    "fail",
    "hold",
    "main",
    "malformed",
    "model_not_found",
    "payment_required",
    "rate_limited",
    "reply",
    "server_error",
    "slow",
    "stream",
    "unauthorized",
]


async def _serve_until_signal(fp: FakeProvider) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, fp.stop)

    def announce() -> None:
        # The one intended stdout write: the line a parent process reads to learn the port.
        sys.stdout.write(json.dumps({"url": fp.url}) + "\n")
        sys.stdout.flush()

    await fp.serve(announce)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hermes_mcp.testing.fake_provider",
        description="A scripted fake LLM provider (OpenAI, Anthropic, Gemini, Vertex) on loopback.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    parser.add_argument("--script", type=Path, help="JSON file: {key: [steps] | step}")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every reply")
    args = parser.parse_args(argv)
    try:
        host = loopback_host(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    fp = FakeProvider(host, args.port, latency_s=args.latency_ms / 1000, record_bodies=False)
    if args.script is not None:
        try:
            fp.load_script(json.loads(args.script.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            parser.error(f"--script {args.script}: {exc}")
    try:
        asyncio.run(_serve_until_signal(fp))
    except OSError as exc:  # e.g. the port is taken
        parser.error(f"cannot listen on {host}:{args.port}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
