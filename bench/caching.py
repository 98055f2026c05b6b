"""Prompt caching: what a 30-turn tool-using session costs with each provider's caching
against the same session without it, per wire.

A loopback fake (aiohttp, in process) answers every request of the session the way each
provider caches and counts it:

* Anthropic: explicit breakpoints only. At each ``cache_control`` the prefix up to it is
  looked up (and, as the API does, the block boundaries up to 20 blocks before it); the
  longest prefix found is read (``cache_read_input_tokens``), the prefix up to the last
  breakpoint past it is written (``cache_creation_input_tokens``), and only prefixes of
  1,024 tokens or more are cached.
* OpenAI (chat and Responses): automatic, on the longest repeated prefix of 1,024 tokens
  or more, counted in 128-token steps (``cached_tokens``); no write charge.
* Gemini: implicit, the same rule from 4,096 tokens (2.5 Pro's minimum).

The session is what the agent sends: its system prompt and every built-in tool's schema
(in the order the engine sends them), then 30 turns of a user question, a ``read_file``
call, a 3 KB file as its result, and an answer. Requests go through the real router and
wires (so the breakpoints, the cache key and the usage parsing are ours); prices are
genai-prices' for each provider's real endpoint, set in the config; cost is the router's
``cost_usd``. Tokens are counted as 4 bytes of the JSON each. The same session is run
with the fake's caching on and off; ``ratio`` = cost with caching / cost without.

    python3 -m uv run --frozen python bench/caching.py [--turns 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as ``python bench/caching.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402
from aiohttp import web  # noqa: E402

from hermes_mcp.agent.engine import tool_defs  # noqa: E402
from hermes_mcp.agent.prompts import system_prompt  # noqa: E402
from hermes_mcp.config import load_settings  # noqa: E402
from hermes_mcp.llm.credential_state import CredentialStateStore  # noqa: E402
from hermes_mcp.llm.prices import prices  # noqa: E402
from hermes_mcp.llm.router import Router  # noqa: E402
from hermes_mcp.llm.types import ChatRequest, Message  # noqa: E402
from hermes_mcp.state import open_database  # noqa: E402
from tools import build_registry  # noqa: E402

KEY = "sk-bench-caching-000000000000000000"
MIN_ANTHROPIC, MIN_OPENAI, MIN_GEMINI = 1024, 1024, 4096
LOOKBACK = 20  # blocks the Anthropic API looks back from a breakpoint for a hit
OUTPUT_TOKENS = {"call": 30, "answer": 120}

# wire → (provider name, model, the real endpoint genai-prices is asked about)
WIRES = {
    "anthropic": ("claude", "claude-sonnet-4-5", "https://api.anthropic.com"),
    "openai": ("oai", "gpt-5", "https://api.openai.com/v1"),
    "responses": ("resp", "gpt-5", "https://api.openai.com/v1"),
    "gemini": ("gem", "gemini-2.5-pro", "https://generativelanguage.googleapis.com"),
}


def tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, separators=(",", ":"))) // 4)


def without_marks(value: Any) -> Any:
    if isinstance(value, list):
        return [without_marks(v) for v in value]
    if isinstance(value, dict):
        return {k: without_marks(v) for k, v in value.items() if k != "cache_control"}
    return value


@dataclass
class Segment:
    key: str  # hash of the prefix up to and including this segment
    total: int  # tokens of that prefix
    breakpoint: bool


def segments(pieces: list[tuple[Any, bool]]) -> list[Segment]:
    """The prompt as a chain of blocks, each with the cumulative hash and size."""
    out: list[Segment] = []
    digest, total = hashlib.sha256(), 0
    for piece, marked in pieces:
        data = json.dumps(without_marks(piece), sort_keys=False).encode()
        digest.update(data)
        total += tokens(without_marks(piece))
        out.append(Segment(digest.copy().hexdigest(), total, marked))
    return out


def anthropic_pieces(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    pieces: list[tuple[Any, bool]] = [(t, "cache_control" in t) for t in body.get("tools", [])]
    pieces += [(b, "cache_control" in b) for b in body.get("system", [])]
    for message in body["messages"]:
        for block in message["content"]:
            pieces.append(({"role": message["role"], **block}, "cache_control" in block))
    return pieces


def openai_pieces(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    pieces: list[tuple[Any, bool]] = [(t, False) for t in body.get("tools", [])]
    if body.get("instructions"):
        pieces.append((body["instructions"], False))
    pieces += [(m, False) for m in body.get("messages", body.get("input", []))]
    return pieces


def gemini_pieces(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    pieces: list[tuple[Any, bool]] = [(body.get("systemInstruction"), False)]
    pieces.append((body.get("tools"), False))
    for content in body["contents"]:
        pieces += [({"role": content["role"], **p}, False) for p in content["parts"]]
    return pieces


@dataclass
class Cache:
    """One provider's cache: prefix hash → its size in tokens."""

    entries: dict[str, int] = field(default_factory=dict)

    def anthropic(self, chain: list[Segment]) -> tuple[int, int]:
        """(tokens read, tokens written) under explicit breakpoints."""
        marks = [i for i, s in enumerate(chain) if s.breakpoint]
        read = 0
        for mark in marks:
            for i in range(mark, max(mark - LOOKBACK, -1), -1):
                if chain[i].key in self.entries:
                    read = max(read, chain[i].total)
                    break
        written = 0
        for mark in marks:
            if chain[mark].total >= MIN_ANTHROPIC:
                self.entries[chain[mark].key] = chain[mark].total
                written = max(written, chain[mark].total - read)
        return read, written

    def automatic(self, chain: list[Segment], minimum: int) -> int:
        """Tokens read under automatic prefix caching (128-token steps past the minimum)."""
        hit = max((s.total for s in chain if s.key in self.entries), default=0)
        for s in chain:
            if s.total >= minimum:
                self.entries[s.key] = s.total
        if hit < minimum:
            return 0
        return minimum + (hit - minimum) // 128 * 128


@dataclass
class Fake:
    caches: dict[str, Cache] = field(default_factory=dict)

    def cache(self, mode: str, wire: str) -> Cache:
        return self.caches.setdefault(f"{mode}/{wire}", Cache())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{mode}/v1/messages", self.anthropic)
        app.router.add_post("/{mode}/v1/chat/completions", self.openai)
        app.router.add_post("/{mode}/v1/responses", self.responses)
        app.router.add_post("/{mode}/v1beta/models/{method}", self.gemini)
        return app

    @staticmethod
    def _turn(text: str) -> int:
        return int(text.rsplit(" ", 1)[-1].strip("?"))

    async def anthropic(self, request: web.Request) -> web.Response:
        body = await request.json()
        chain = segments(anthropic_pieces(body))
        read = written = 0
        if request.match_info["mode"] == "cache":
            read, written = self.cache("cache", "anthropic").anthropic(chain)
        total = chain[-1].total
        last = body["messages"][-1]["content"]
        answered = any(b.get("type") == "tool_result" for b in last)
        kind = "answer" if answered else "call"
        turn = (
            self._turn(next(b["text"] for b in last if b.get("type") == "text"))
            if not answered
            else 0
        )
        content = (
            [{"type": "text", "text": answer_text()}]
            if answered
            else [
                {
                    "type": "tool_use",
                    "id": f"toolu_{turn:04d}",
                    "name": "read_file",
                    "input": {"path": path(turn)},
                }
            ]
        )
        return web.json_response(
            {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "end_turn" if answered else "tool_use",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": total - read - written,
                    "cache_creation_input_tokens": written,
                    "cache_read_input_tokens": read,
                    "output_tokens": OUTPUT_TOKENS[kind],
                },
            }
        )

    async def openai(self, request: web.Request) -> web.Response:
        body = await request.json()
        chain = segments(openai_pieces(body))
        cached = 0
        if request.match_info["mode"] == "cache":
            cached = self.cache("cache", "openai").automatic(chain, MIN_OPENAI)
        last = body["messages"][-1]
        answered = last["role"] == "tool"
        kind = "answer" if answered else "call"
        if answered:
            message: dict[str, Any] = {"role": "assistant", "content": answer_text()}
        else:
            turn = self._turn(last["content"])
            args = json.dumps({"path": path(turn)})
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{turn:04d}",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": args},
                    }
                ],
            }
        return web.json_response(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "stop" if answered else "tool_calls",
                    }
                ],
                "usage": {
                    "prompt_tokens": chain[-1].total,
                    "completion_tokens": OUTPUT_TOKENS[kind],
                    "total_tokens": chain[-1].total + OUTPUT_TOKENS[kind],
                    "prompt_tokens_details": {"cached_tokens": cached},
                },
            }
        )

    async def responses(self, request: web.Request) -> web.Response:
        body = await request.json()
        chain = segments(openai_pieces(body))
        cached = 0
        if request.match_info["mode"] == "cache":
            cached = self.cache("cache", "responses").automatic(chain, MIN_OPENAI)
        last = body["input"][-1]
        answered = last.get("type") == "function_call_output"
        kind = "answer" if answered else "call"
        reasoning = {
            "type": "reasoning",
            "id": "rs_bench",
            "summary": [],
            "encrypted_content": "gAAAA" + "x" * 400,
        }
        if answered:
            output: list[dict[str, Any]] = [
                reasoning,
                {
                    "type": "message",
                    "id": "msg_bench",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": answer_text(), "annotations": []}],
                },
            ]
        else:
            turn = self._turn(last["content"][0]["text"])
            output = [
                reasoning,
                {
                    "type": "function_call",
                    "id": f"fc_{turn:04d}",
                    "call_id": f"call_{turn:04d}",
                    "name": "read_file",
                    "arguments": json.dumps({"path": path(turn)}),
                    "status": "completed",
                },
            ]
        return web.json_response(
            {
                "id": "resp_bench",
                "object": "response",
                "status": "completed",
                "model": body["model"],
                "output": output,
                "usage": {
                    "input_tokens": chain[-1].total,
                    "input_tokens_details": {"cached_tokens": cached},
                    "output_tokens": OUTPUT_TOKENS[kind],
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": chain[-1].total + OUTPUT_TOKENS[kind],
                },
            }
        )

    async def gemini(self, request: web.Request) -> web.Response:
        body = await request.json()
        chain = segments(gemini_pieces(body))
        cached = 0
        if request.match_info["mode"] == "cache":
            cached = self.cache("cache", "gemini").automatic(chain, MIN_GEMINI)
        last = body["contents"][-1]["parts"]
        answered = any("functionResponse" in p for p in last)
        kind = "answer" if answered else "call"
        if answered:
            parts: list[dict[str, Any]] = [{"text": answer_text()}]
        else:
            turn = self._turn(next(p["text"] for p in last if "text" in p))
            parts = [{"functionCall": {"name": "read_file", "args": {"path": path(turn)}}}]
        return web.json_response(
            {
                "candidates": [
                    {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
                ],
                "usageMetadata": {
                    "promptTokenCount": chain[-1].total,
                    "candidatesTokenCount": OUTPUT_TOKENS[kind],
                    "cachedContentTokenCount": cached,
                },
                "modelVersion": body.get("model", "gemini-2.5-pro"),
            }
        )


def path(turn: int) -> str:
    return f"src/module_{turn:02d}.py"


def answer_text() -> str:
    return "The module defines a parser and its tests; nothing in it touches the network. " * 5


def file_text(turn: int) -> str:
    """A deterministic ~3 KB Python file: the tool result of turn ``turn``."""
    lines = [f'"""Module {turn}: parsing helpers."""', "", "from __future__ import annotations", ""]
    for n in range(40):
        lines.append(f"def helper_{turn}_{n}(value: str) -> str:  # step {n}")
        lines.append(f"    return value.strip().lower() + '{turn}-{n}'")
    return "\n".join(lines)


def write_config(home: Path, url: str, mode: str) -> None:
    lines = ["[model]", 'default = "claude:claude-sonnet-4-5"']
    for wire, (name, model, real) in WIRES.items():
        found = prices(home, wire, real, model)
        if found is None:
            raise SystemExit(f"genai-prices knows no price for {model} at {real}")
        fresh, out, read, written = found
        root = f"{url}/{mode}"
        base = f"{root}/v1" if wire in ("openai", "responses") else root
        lines += [
            f"[providers.{name}]",
            f'wire = "{wire}"',
            f'base_url = "{base}"',
            'credentials = ["env:HERMES_BENCH_KEY"]',
            f'[providers.{name}.models."{model}"]',
            f"input_per_mtok = {fresh}",
            f"output_per_mtok = {out}",
            f"cached_per_mtok = {read}",
            f"cache_write_per_mtok = {written}",
        ]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


async def run_session(router: Router, route: str, turns: int) -> dict[str, float]:
    registry = build_registry()
    system = Message.system(system_prompt(Path("/work/project"), registry.names, delegated=False))
    tools = tool_defs(registry)
    history: list[Message] = []
    cost = 0.0
    totals = {"input": 0, "read": 0, "written": 0, "requests": 0}
    for turn in range(1, turns + 1):
        history.append(Message.user(f"What does the next module do? Turn {turn}"))
        while True:
            request = ChatRequest((system, *history), tools, cache_key="hermes-bench-session")
            result = await router.complete(request, model=route)
            usage = result.completion.usage
            cost += result.cost_usd or 0.0
            totals["input"] += usage.input_tokens
            totals["read"] += usage.cached_tokens
            totals["written"] += usage.cache_write_tokens
            totals["requests"] += 1
            history.append(result.completion.message())
            if not result.completion.tool_calls:
                break
            for call in result.completion.tool_calls:
                history.append(Message.tool(call.id, call.name, file_text(turn)))
    return {"cost_usd": cost, **totals}


async def run(turns: int) -> None:
    fake = Fake()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    os.environ["HERMES_BENCH_KEY"] = KEY
    ratios: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures: dict[str, dict[str, dict[str, float]]] = {}
            for mode in ("cache", "nocache"):
                home = Path(tmp) / mode
                home.mkdir()
                os.environ["HERMES_MCP_HOME"] = str(home)
                write_config(home, url, mode)
                settings = load_settings()
                db = open_database(settings.db_path)
                try:
                    async with Router(settings, CredentialStateStore(db)) as router:
                        for wire, (name, model, _) in WIRES.items():
                            figures.setdefault(wire, {})[mode] = await run_session(
                                router, f"{name}:{model}", turns
                            )
                finally:
                    db.close()
            for wire, by_mode in figures.items():
                with_cache, without = by_mode["cache"], by_mode["nocache"]
                ratio = with_cache["cost_usd"] / without["cost_usd"]
                ratios[wire] = round(ratio, 3)
                emit(
                    {
                        "wire": wire,
                        "model": WIRES[wire][1],
                        "turns": turns,
                        "requests": int(with_cache["requests"]),
                        "input_tokens": int(with_cache["input"]),
                        "cache_read_tokens": int(with_cache["read"]),
                        "cache_write_tokens": int(with_cache["written"]),
                        "cost_with_caching_usd": round(with_cache["cost_usd"], 4),
                        "cost_without_usd": round(without["cost_usd"], 4),
                        "ratio": round(ratio, 3),
                    }
                )
    finally:
        await runner.cleanup()
    emit({f"{wire}_ratio": r for wire, r in ratios.items()} | {"target": 0.35})


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    anyio.run(run, args.turns)


if __name__ == "__main__":
    main()
