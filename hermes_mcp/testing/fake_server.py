"""The fake provider's HTTP server: scripting, bookkeeping, waits. See ``fake_provider``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self

import anyio.to_thread
from aiohttp import web

from .fake_dialect import JSON_CT, Dialect, RequestInfo, SSEEvent, dumps
from .fake_openai import OpenAIDialect
from .fake_steps import (
    ErrorIn200,
    Failure,
    Hold,
    Malformed,
    Reply,
    Slow,
    Step,
    Stream,
    reply,
    script_from_json,
)

DEFAULT_STEP: Step = reply()
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
MAX_BODY = 64 * 1024 * 1024

# (method, path, dialect factory). Anthropic (POST /v1/messages) and Gemini
# (POST /v1beta/models/{model}:generateContent / :streamGenerateContent) go here.
ROUTES: list[tuple[str, str, Callable[[], Dialect]]] = [
    ("POST", "/v1/chat/completions", OpenAIDialect),
    ("POST", "/chat/completions", OpenAIDialect),
    ("POST", "/api/v1/chat/completions", OpenAIDialect),
]


class RequestRecord(NamedTuple):
    """One request the fake received (``at``: ``time.monotonic()`` on arrival)."""

    at: float
    method: str
    path: str
    key: str | None
    model: str | None
    body: dict[str, Any] | None
    stream: bool


class DisconnectRecord(NamedTuple):
    """A request whose client closed the connection before the response finished."""

    key: str | None
    path: str
    at: float


@dataclass(slots=True)
class _Waiter:
    predicate: Callable[[], bool]
    wake: Callable[[], None]


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


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class FakeProvider:
    """A scripted LLM provider on a real loopback HTTP server (see ``fake_provider``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_s: float = 0.0,
        record_bodies: bool = True,
    ) -> None:
        self._host = loopback_host(host)
        self._port = port
        self.latency_s = latency_s
        self._record_bodies = record_bodies
        self._dialects: dict[str, Dialect] = {}
        self._lock = threading.RLock()
        self._queues: dict[str | None, deque[Step]] = {}
        self._defaults: dict[str | None, Step] = {}
        self._requests: list[RequestRecord] = []
        self._disconnects: list[DisconnectRecord] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._by_key: dict[str | None, int] = {}
        self._max_by_key: dict[str | None, int] = {}
        self._keys_max = 0
        self._waiters: list[_Waiter] = []
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

    # -- scripting -------------------------------------------------------------------------

    def script(self, key: str | None, *steps: Step) -> None:
        """Append steps to ``key``'s queue (``"*"``: keys without a queue of their own)."""
        with self._lock:
            self._queues.setdefault(key, deque()).extend(steps)

    def set_default(self, key: str | None, step: Step | None) -> None:
        """The step served to ``key`` once its queue is empty (None: remove it)."""
        with self._lock:
            if step is None:
                self._defaults.pop(key, None)
            else:
                self._defaults[key] = step

    def load_script(self, data: Any) -> None:
        """Apply a script's JSON (see ``fake_steps.script_from_json``)."""
        queues, defaults = script_from_json(data)
        with self._lock:
            for key, steps in queues.items():
                self.script(key, *steps)
            self._defaults.update(defaults)

    def remaining(self, key: str | None) -> int:
        """Steps still queued for ``key``."""
        with self._lock:
            return len(self._queues.get(key, ()))

    def release(self, gate: str = "default") -> None:
        """Let requests held by ``hold(gate)`` go on (now and later, until ``reset``)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the fake provider is not running")
        loop.call_soon_threadsafe(self._open_gate, gate)

    def reset(self) -> None:
        """Clear queues, defaults, records and maxima; open (then forget) all gates."""
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._requests.clear()
            self._disconnects.clear()
            self._max_in_flight = self._in_flight
            self._max_by_key = dict(self._by_key)
            self._keys_max = len(self._by_key)
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

    def _next_step(self, key: str | None) -> Step:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues.get("*")
        if queue:
            return queue.popleft()
        return self._default_for(key)

    def _default_for(self, key: str | None) -> Step:
        with self._lock:
            step = self._defaults.get(key)
            if step is None:
                step = self._defaults.get("*", DEFAULT_STEP)
            return step

    # -- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> list[DisconnectRecord]:
        with self._lock:
            return list(self._disconnects)

    def count(
        self, key: str | None = None, model: str | None = None, path: str | None = None
    ) -> int:
        """Requests received, filtered by key / model / path (None: any)."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (key is None or r.key == key)
                and (model is None or r.model == model)
                and (path is None or r.path == path)
            )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def in_flight_by_key(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._by_key)

    def max_in_flight_by_key(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._max_by_key)

    def keys_in_flight_max(self) -> int:
        """The most distinct keys that had a request in flight at the same time."""
        return self._keys_max

    # -- waiting ---------------------------------------------------------------------------
    # The async waits take a timeout (ASYNC109) on purpose: the condition is met on another
    # thread, and a built-in deadline keeps a test without its own fail_after from hanging.

    def block_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block this thread until ``predicate()`` holds (checked on each request start/end
        and disconnect); TimeoutError after ``timeout`` seconds."""
        event = threading.Event()
        waiter = _Waiter(predicate, event.set)
        with self._lock:
            if predicate():
                return
            self._waiters.append(waiter)
        try:
            if not event.wait(timeout):
                raise TimeoutError(f"fake provider: condition not met within {timeout}s")
        finally:
            self._drop_waiter(waiter)
        predicate()  # re-raise here if it raised in the server thread

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """``block_until`` for async code: never blocks the caller's event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (e.g. trio): wait in a worker thread
            await anyio.to_thread.run_sync(
                self.block_until, predicate, timeout, abandon_on_cancel=True
            )
            return
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the waiting loop is gone
                loop.call_soon_threadsafe(_set_result, fut)

        waiter = _Waiter(predicate, wake)
        with self._lock:
            if predicate():
                return
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(f"fake provider: condition not met within {timeout}s") from None
        finally:
            self._drop_waiter(waiter)
        predicate()

    async def wait_disconnect(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        count: int = 1,
        key: str | None = None,
        path: str | None = None,
    ) -> DisconnectRecord:
        """Wait until ``count`` disconnects (of ``key`` / ``path``; None: any) were recorded
        since start or the last ``reset``; return the ``count``-th."""

        def matching() -> list[DisconnectRecord]:
            return [
                d
                for d in self._disconnects
                if (key is None or d.key == key) and (path is None or d.path == path)
            ]

        await self.wait_until(lambda: len(matching()) >= count, timeout)
        with self._lock:
            return matching()[count - 1]

    async def wait_in_flight(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until at least ``n`` requests are in flight at once."""
        await self.wait_until(lambda: self._in_flight >= n, timeout)

    async def wait_keys_in_flight(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until requests of at least ``n`` distinct keys are in flight at once."""
        await self.wait_until(lambda: len(self._by_key) >= n, timeout)

    async def wait_requests(self, n: int, timeout: float = 5.0, *, key: str | None = None) -> None:  # noqa: ASYNC109
        """Wait until at least ``n`` requests (of ``key``; None: any) have arrived."""
        await self.wait_until(lambda: self.count(key=key) >= n, timeout)

    def _drop_waiter(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _check_waiters(self) -> None:  # with self._lock held
        pending = []
        for waiter in self._waiters:
            try:
                done = waiter.predicate()
            except Exception:  # the waiting side re-evaluates and raises
                done = True
            if done:
                waiter.wake()
            else:
                pending.append(waiter)
        self._waiters = pending

    # -- serving ---------------------------------------------------------------------------

    def _handler(self, dialect: Dialect) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, dialect)

        return handle

    async def _handle(self, request: web.Request, dialect: Dialect) -> web.StreamResponse:
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
        parsed = dialect.parse(body, request.match_info)
        path = request.path
        req = RequestInfo(key, path, parsed.model, parsed.stream, parsed.include_usage, body)
        record = RequestRecord(
            time.monotonic(),
            request.method,
            path,
            key,
            parsed.model,
            body if self._record_bodies else None,
            parsed.stream,
        )
        task = asyncio.current_task()
        with self._lock:
            step = self._next_step(key)
            self._requests.append(record)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            n = self._by_key[key] = self._by_key.get(key, 0) + 1
            if n > self._max_by_key.get(key, 0):
                self._max_by_key[key] = n
            self._keys_max = max(self._keys_max, len(self._by_key))
            if self._waiters:
                self._check_waiters()
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
            with self._lock:
                self._in_flight -= 1
                n = self._by_key[key] - 1
                if n:
                    self._by_key[key] = n
                else:
                    del self._by_key[key]
                if self._waiters:
                    self._check_waiters()

    def _record_disconnect(self, key: str | None, path: str) -> None:
        with self._lock:
            self._disconnects.append(DisconnectRecord(key, path, time.monotonic()))
            if self._waiters:
                self._check_waiters()

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

    # -- control endpoints (for a fake running in another process) --------------------------

    def stats(self) -> dict[str, Any]:
        """Counters as JSON-able data (also served at ``GET /_fake/stats``)."""
        with self._lock:
            by_key: dict[str, int] = {}
            for r in self._requests:
                name = "" if r.key is None else r.key
                by_key[name] = by_key.get(name, 0) + 1
            return {
                "requests": len(self._requests),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "keys_in_flight_max": self._keys_max,
                "disconnects": len(self._disconnects),
                "by_key": by_key,
            }

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
