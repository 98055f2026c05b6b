"""The fake provider's HTTP server and lifecycle. See ``fake_provider`` for how to use it."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self, runtime_checkable

from aiohttp import web

from .fake_anthropic import AnthropicDialect, FramedStreamPlan
from .fake_dialect import JSON_CT, Dialect, Rendered, RequestInfo, SSEEvent, dumps
from .fake_gemini import METHODS, GeminiDialect, VertexDialect
from .fake_openai import OpenAIDialect
from .fake_responses import ResponsesDialect
from .fake_state import DisconnectRecord, ProviderState, RequestRecord
from .fake_steps import (
    ErrorIn200,
    Failure,
    Hold,
    Malformed,
    Raw,
    Reply,
    Slow,
    Step,
    Stream,
)
from .fake_token import TOKEN_PATHS, TokenEndpoint, TokenStatus

__all__ = [
    "ROUTES",
    "DisconnectRecord",
    "FakeProvider",
    "Rejection",
    "RequestRecord",
    "loopback_host",
]

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
MAX_BODY = 64 * 1024 * 1024

_GEMINI_MODEL = "models/{model}:{method:" + METHODS + "}"
_VERTEX_MODEL = "projects/{project}/locations/{location}/publishers/google/" + _GEMINI_MODEL

# (method, path, dialect factory).
ROUTES: list[tuple[str, str, Callable[[], Dialect]]] = [
    ("POST", "/v1/chat/completions", OpenAIDialect),
    ("POST", "/chat/completions", OpenAIDialect),
    ("POST", "/api/v1/chat/completions", OpenAIDialect),
    ("POST", "/v1/responses", ResponsesDialect),
    ("POST", "/v1/messages", AnthropicDialect),
    ("POST", "/v1beta/" + _GEMINI_MODEL, GeminiDialect),
    ("POST", "/v1/" + _GEMINI_MODEL, GeminiDialect),
    ("POST", "/v1/" + _VERTEX_MODEL, VertexDialect),
    ("POST", "/v1beta1/" + _VERTEX_MODEL, VertexDialect),
]


@runtime_checkable
class _Prechecked(Protocol):
    """A dialect that refuses some requests before a step is taken (bad auth headers, a key
    in the URL, an unknown token): returns (reason, answer), or None to go on."""

    def precheck(
        self,
        req: RequestInfo,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        token_status: Callable[[str | None], TokenStatus],
    ) -> tuple[str, Rendered] | None: ...


class Rejection(NamedTuple):
    """A request refused before any scripted step (``reason``: ``key_in_url``,
    ``missing_credential``, ``missing_version``, ``unknown_token``, ``expired_token``)."""

    at: float
    path: str
    key: str | None
    reason: str
    status: int


@dataclass(slots=True)
class _Serving:
    aborted: bool = False  # the fake itself closed the connection (break_after)


def loopback_host(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` means 127.0.0.1), else ValueError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback IP address, got {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"refusing to listen on {host}: only loopback (127.0.0.0/8, ::1)")
    return host


def credential(headers: Mapping[str, str]) -> str | None:
    """The API key of a request: bearer token, else ``x-api-key``, else ``x-goog-api-key``."""
    auth = headers.get("Authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return token
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or None


class FakeProvider(ProviderState, TokenEndpoint):
    """A scripted LLM provider on a real loopback HTTP server (see ``fake_provider``).

    Dialects: OpenAI (``openai_base_url``), Anthropic (``anthropic_base_url`` +
    ``/v1/messages``), Gemini (``gemini_base_url`` + ``/v1beta/models/M:generateContent``),
    Vertex (``vertex_base_url`` + ``/v1/projects/P/locations/L/publishers/google/models/M:...``)
    and a Google OAuth token endpoint (``token_url``; see ``fake_token``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_s: float = 0.0,
        record_bodies: bool = True,
    ) -> None:
        super().__init__(record_bodies=record_bodies)
        TokenEndpoint.__init__(self)
        self._rejections: list[Rejection] = []
        self._host = loopback_host(host)
        self._port = port
        self.latency_s = latency_s
        self._dialects: dict[str, Dialect] = {}
        # Loop-thread state.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._gates: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        if self._thread is not None or self._loop is not None:
            raise RuntimeError("the fake provider is already running")
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.serve(ready.set))
            except BaseException as exc:  # reported to start() if it failed to start
                errors.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="fake-provider", daemon=True)
        self._thread.start()
        if not ready.wait(30) or errors:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError("the fake provider failed to start") from (
                errors[0] if errors else None
            )
        return self

    def stop(self) -> None:
        """Close the server (cancelling requests still in flight); safe to call twice."""
        loop, event, thread = self._loop, self._stop_event, self._thread
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)
        if thread is not None and thread is not threading.current_thread():
            thread.join(30)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve on the running asyncio loop until ``stop()``; ``on_ready`` once listening."""
        app = web.Application(client_max_size=MAX_BODY)
        for method, path, factory in ROUTES:
            dialect = self._dialects.setdefault(factory.__name__, factory())
            app.router.add_route(method, path, self._handler(dialect))
        for path in TOKEN_PATHS:
            app.router.add_post(path, self._token_route)
        app.router.add_get("/_fake/stats", self._stats_handler)
        app.router.add_post("/_fake/script", self._script_handler)
        app.router.add_post("/_fake/reset", self._reset_handler)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
            self._bound_port = int(runner.addresses[0][1])
            self._stopping = False
            self._stop_event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            if on_ready is not None:
                on_ready()
            await self._stop_event.wait()
        finally:
            self._stopping = True
            for task in list(self._tasks):
                task.cancel()
            await runner.cleanup()
            self._loop = None
            self._stop_event = None
            self._gates.clear()

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the fake provider has not started")
        return self._bound_port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """What Anthropic clients take as base URL (they append ``/v1/messages``)."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """What Gemini clients take as base URL (they append ``/v1beta/models/...``)."""
        return self.url

    @property
    def vertex_base_url(self) -> str:
        """The Vertex AI endpoint (``https://{location}-aiplatform.googleapis.com``)."""
        return self.url

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint (a service account's or a user's ``token_uri``)."""
        return self.url + "/token"

    @property
    def rejections(self) -> list[Rejection]:
        """Requests refused before any step (they are in ``requests`` too)."""
        with self._lock:
            return list(self._rejections)

    def stats(self) -> dict[str, Any]:
        stats = super().stats()
        stats["rejections"] = len(self.rejections)
        stats["token_hits"] = len(self.token_hits)
        return stats

    # -- scripting -------------------------------------------------------------------------

    def release(self, gate: str = "default") -> None:
        """Let requests held by ``hold(gate)`` go on (now and later, until ``reset``)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the fake provider is not running")
        loop.call_soon_threadsafe(self._open_gate, gate)

    def reset(self) -> None:
        """Clear queues, defaults, records and maxima; open (then forget) all gates.

        Also clears rejections and the token endpoint's queue, default and hits; tokens
        already issued stay valid.
        """
        super().reset()
        self._reset_tokens()
        with self._lock:
            self._rejections.clear()
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._reset_gates)

    def _reset_gates(self) -> None:
        for event in self._gates.values():
            event.set()
        self._gates.clear()

    def _open_gate(self, gate: str) -> None:
        self._gate(gate).set()

    def _gate(self, gate: str) -> asyncio.Event:
        event = self._gates.get(gate)
        if event is None:
            event = self._gates[gate] = asyncio.Event()
        return event

    # -- serving ---------------------------------------------------------------------------

    def _handler(self, dialect: Dialect) -> Callable[[web.Request], Any]:
        checked = dialect if isinstance(dialect, _Prechecked) else None  # decided once

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, dialect, checked)

        return handle

    async def _handle(
        self, request: web.Request, dialect: Dialect, checked: _Prechecked | None = None
    ) -> web.StreamResponse:
        raw = await request.read()
        body: dict[str, Any] | None = None
        if raw:
            try:
                parsed_body = json.loads(raw)
            except ValueError:
                parsed_body = None
            if isinstance(parsed_body, dict):
                body = parsed_body
        key = credential(request.headers)
        parsed = dialect.parse(body, {**request.query, **request.match_info})
        path = request.path
        req = RequestInfo(key, path, parsed.model, parsed.stream, parsed.include_usage, body)
        record = RequestRecord(
            time.monotonic(), request.method, path, key, parsed.model, body, parsed.stream
        )
        if checked is not None:
            refused = checked.precheck(req, request.headers, request.query, self.token_status)
            if refused is not None:
                reason, rendered = refused
                self._record_rejection(record, reason, rendered.status)
                return web.Response(
                    status=rendered.status, body=rendered.body, headers=rendered.headers
                )
        step = self._begin(record)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        state = _Serving()
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            return await self._serve_step(request, step, dialect, req, state)
        except asyncio.CancelledError:
            if not state.aborted and not self._stopping:
                self._record_disconnect(key, path)
            raise
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._end(key)

    async def _serve_step(
        self,
        request: web.Request,
        step: Step,
        dialect: Dialect,
        req: RequestInfo,
        state: _Serving,
    ) -> web.StreamResponse:
        while isinstance(step, Slow | Hold):
            if isinstance(step, Slow):
                await asyncio.sleep(step.seconds)
            else:
                await self._gate(step.gate).wait()
            step = step.then if step.then is not None else self._default_for(req.key)
        if isinstance(step, Raw):
            return await self._raw(request, step, req)
        if isinstance(step, Reply):
            if req.stream:
                return await self._stream(request, Stream(step), dialect, req, state)
            rendered = dialect.render_reply(step, req)
        elif isinstance(step, Stream):
            if req.stream:
                return await self._stream(request, step, dialect, req, state)
            rendered = dialect.render_reply(step.reply, req)
        elif isinstance(step, Failure):
            if step.body is None:
                rendered = dialect.render_failure(step, req)
            else:
                return _explicit_failure(step)
        elif isinstance(step, Malformed):
            text = step.body if step.body is not None else dialect.malformed_body(step)
            return web.Response(status=200, body=text.encode(), headers={"Content-Type": JSON_CT})
        else:
            assert isinstance(step, ErrorIn200)
            rendered = dialect.render_error_in_200(step, req)
        return web.Response(status=rendered.status, body=rendered.body, headers=rendered.headers)

    async def _stream(
        self,
        request: web.Request,
        step: Stream,
        dialect: Dialect,
        req: RequestInfo,
        state: _Serving,
    ) -> web.StreamResponse:
        plan = dialect.stream_plan(step, req)
        framing = plan.framing if isinstance(plan, FramedStreamPlan) else {}
        nl = "\r\n" if step.crlf else "\n"
        comment = f": keep-alive{nl}{nl}".encode() if step.comments else b""

        def encode(event: SSEEvent) -> bytes:
            name = f"event: {event.event}{nl}" if event.event else ""
            return comment + f"{name}data: {event.data}{nl}{nl}".encode()

        resp = web.StreamResponse(status=200, headers=SSE_HEADERS)
        await resp.prepare(request)
        try:
            if step.stall_before_first_s > 0:
                await asyncio.sleep(step.stall_before_first_s)
            content = plan.content
            for sent in range(len(content) + 1):
                if step.break_after is not None and sent >= step.break_after:
                    state.aborted = True
                    if request.transport is not None:
                        request.transport.close()  # flushes what was sent, then FIN
                    return resp
                if step.error_event_after is not None and sent >= step.error_event_after:
                    await resp.write(encode(dialect.stream_error_event(req)))
                    await resp.write_eof()
                    return resp
                if sent == len(content):
                    break
                if sent and step.delay_s > 0:
                    await asyncio.sleep(step.delay_s)
                for event in framing.get(sent, ()):
                    await resp.write(encode(event))
                await resp.write(encode(content[sent]))
            for event in plan.tail:
                if step.delay_s > 0:
                    await asyncio.sleep(step.delay_s)
                await resp.write(encode(event))
            if plan.done is not None:
                await resp.write(encode(plan.done))
            await resp.write_eof()
        except ConnectionResetError:  # the client went away between two writes
            if not self._stopping:
                self._record_disconnect(req.key, req.path)
        return resp

    async def _raw(self, request: web.Request, step: Raw, req: RequestInfo) -> web.StreamResponse:
        resp = web.StreamResponse(status=step.status, headers={"Content-Type": step.content_type})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = step.chunk.encode()
        try:
            if step.prefix:
                await resp.write(step.prefix.encode())
            sent = 0
            while step.repeat is None or sent < step.repeat:
                if step.delay_s > 0:
                    await asyncio.sleep(step.delay_s)
                await resp.write(chunk)
                sent += 1
            if step.suffix:
                await resp.write(step.suffix.encode())
            await resp.write_eof()
        except ConnectionResetError:  # the client stopped reading and went away
            if not self._stopping:
                self._record_disconnect(req.key, req.path)
        return resp

    def _record_rejection(self, record: RequestRecord, reason: str, status: int) -> None:
        if not self._record_bodies and record.body is not None:
            record = record._replace(body=None)
        with self._lock:
            self._requests.append(record)
            self._rejections.append(Rejection(record.at, record.path, record.key, reason, status))
            if self._waiters:
                self._check_waiters()

    async def _token_route(self, request: web.Request) -> web.Response:
        try:
            return await self._token_handler(request)
        finally:
            with self._lock:
                if self._waiters:
                    self._check_waiters()

    # -- control endpoints (for a fake running in another process) --------------------------

    async def _stats_handler(self, request: web.Request) -> web.Response:
        return web.Response(body=dumps(self.stats()).encode(), headers={"Content-Type": JSON_CT})

    async def _script_handler(self, request: web.Request) -> web.Response:
        try:
            self.load_script(await request.json())
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        return web.Response(status=204)

    async def _reset_handler(self, request: web.Request) -> web.Response:
        self.reset()
        return web.Response(status=204)


def _explicit_failure(step: Failure) -> web.Response:
    body = step.body
    if isinstance(body, str):
        data = body.encode()
        content_type = step.content_type or "text/plain; charset=utf-8"
    else:
        data = dumps(dict(body or {})).encode()
        content_type = step.content_type or JSON_CT
    headers = {"Content-Type": content_type}
    if step.headers:
        headers.update(step.headers)
    return web.Response(status=step.status, body=data, headers=headers)
