"""The router: one model interface over a chain of (provider, model) routes.

For each request it walks the chain (``[model] default`` or the ``--model`` override,
then the configured fallbacks) and acts on the failure class of each attempt
(DESIGN.md, "The router's rules"):

- rate limit, spent quota, billing, auth: mark the credential (cooling or dead, in the
  shared SQLite state) and move on at once: to a sibling credential if the pool has one
  available, else to the next route. A single-credential pool never waits on itself.
- overloaded, server error, timeout: one retry on the same credential after at most
  0.5 s of jitter, then the next route; a provider failing this way twice in a row is
  skipped for 30 s. No credential cooldown.
- model not found: that provider+model is skipped for the life of the process.
- context overflow, bad request, content policy: surfaced as they are.

Every attempt is recorded in the result's route and logged as one structured event.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, Self

import anyio

from hermes_mcp.config import ModelRef, Settings
from hermes_mcp.credentials import Credential
from hermes_mcp.errors import (
    ConfigError,
    FailureClass,
    ProviderError,
    UsageError,
    iso_utc,
)
from hermes_mcp.llm import catalog
from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore, StateKey
from hermes_mcp.llm.pool import CredentialPool
from hermes_mcp.llm.prices import (
    is_local,
    no_price_reason,
    prices,
    unpriced_remote,
    with_prices,
)
from hermes_mcp.llm.profiles import ModelProfile, profile_for, unmet_need
from hermes_mcp.llm.provider import Provider
from hermes_mcp.llm.routed_stream import RouterStream, prime
from hermes_mcp.llm.served import Op, Served, T
from hermes_mcp.llm.types import (
    Action,
    Attempt,
    ChatRequest,
    Completion,
    Result,
)
from hermes_mcp.llm.walk import AttemptObserver, Walk, no_route, surface
from hermes_mcp.llm.wires import wire_for
from hermes_mcp.log import get_logger

log = get_logger("hermes_mcp.router")

#: Told of each attempt the moment it is recorded, with the route the router moves to
#: next when the attempt moves on (rotate: the same route; fallback, skip: the next one;
#: ``None`` when the walk stops there). It must not block: it runs inside the walk.

DEFAULT_RATE_LIMIT_COOLDOWN_S = 60.0
DEFAULT_QUOTA_COOLDOWN_S = 24 * 3600.0
DEFAULT_BILLING_COOLDOWN_S = 24 * 3600.0
MAX_RETRY_JITTER_S = 0.5
FAILING_PROVIDER_SKIP_S = 30.0


# A half-open probe's lease: at most this long (a prober that died frees it then).
MAX_PROBE_LEASE_S = 120.0
PROBE_POLL_S = 0.05  # how often a request waiting on a probe elsewhere looks again

MAX_COOLDOWN_S = 31 * 24 * 3600.0  # no hint, however large, cools a key for longer


def _bounded(seconds: float | None) -> float | None:
    """A provider's hint, if it is a number we can act on (finite, capped)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_COOLDOWN_S)


def cooldown_until(err: ProviderError, now: float) -> CredentialState:
    """The mark a credential-class failure leaves on its credential."""
    cls = err.failure_class
    retry_after, reset_in = _bounded(err.retry_after), _bounded(err.reset_in)
    if cls is FailureClass.AUTH:
        return CredentialState("dead", None, cls.value, now, err.message[:300])
    if cls is FailureClass.RATE_LIMIT:
        wait = retry_after if retry_after is not None else DEFAULT_RATE_LIMIT_COOLDOWN_S
    elif cls is FailureClass.QUOTA_EXHAUSTED:
        known_reset = reset_in if reset_in is not None else DEFAULT_QUOTA_COOLDOWN_S
        wait = max(retry_after or 0.0, known_reset)
    else:  # billing
        wait = retry_after if retry_after is not None else DEFAULT_BILLING_COOLDOWN_S
    return CredentialState("cooling", now + wait, cls.value, now, err.message[:300])


class Router:
    """Holds one ``Provider`` per configured provider and serves requests along a chain.

    Use as an async context manager (it owns the providers' HTTP clients).
    """

    def __init__(
        self,
        settings: Settings,
        store: CredentialStateStore,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.providers: dict[str, Provider] = {}
        for name, section in settings.config.providers.items():
            wire = wire_for(section)
            creds = settings.credentials.get(name, [])
            pool = CredentialPool(
                provider=name,
                endpoint=section.base_url,
                credentials=creds,
                strategy=section.strategy,
                store=store,
                clock=clock,
                rng=self._rng,
            )
            self.providers[name] = Provider(name, section, wire, pool, clock)
        self._missing_models: set[tuple[str, str]] = set()
        self._profiles: dict[ModelRef, ModelProfile] = {}
        self._unpriced_said: set[ModelRef] = set()  # cost.unknown said for these
        # A route (provider and model) that failed twice in a row, and until when it is
        # skipped: per model, since overload is often one model's, not the provider's.
        self._skip_until: dict[ModelRef, float] = {}

    async def __aenter__(self) -> Self:
        await self.warm_prices()
        return self

    async def warm_prices(self) -> None:
        """Look up the chain's unpriced models in a worker thread, before any request:
        the first genai-prices lookup of a machine costs most of a second, which must
        not stall the event loop on the request path. Local endpoints need nothing."""
        todo = unpriced_remote(self.settings)
        if todo:
            home = self.settings.home
            await anyio.to_thread.run_sync(lambda: [prices(home, *t) for t in todo])

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        # Shielded: an edge closes its runtime while its connection is being cancelled,
        # and every provider's connection pool must still be closed, not only the first.
        with anyio.CancelScope(shield=True):
            for provider in self.providers.values():
                await provider.aclose()

    def chain(self, model: str | None = None) -> list[ModelRef]:
        """The routes for a request: the override (or default), then the fallbacks."""
        routes = self.settings.chain
        if model is not None:
            try:
                first = ModelRef.parse(model)
            except ValueError as exc:
                raise UsageError(f"--model: {exc}") from None
            if first.provider not in self.providers:
                raise ConfigError(
                    f"--model names provider {first.provider!r}, which is not configured",
                    file=_file(self.settings),
                )
            routes = [first, *(r for r in routes[1:] if r != first)]
        return routes

    async def complete(self, request: ChatRequest, *, model: str | None = None) -> Result:
        """Serve ``request`` along the chain; raises ``NoRouteError`` when nothing can."""

        async def send(provider: Provider, route: ModelRef, credential: Credential) -> Completion:
            return await provider.send(request, route.model, credential)

        served = await self.walk(send, model=model, request=request)
        served.release()
        return served.result(served.value)

    @asynccontextmanager
    async def stream(
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        on_attempt: AttemptObserver | None = None,
    ) -> AsyncIterator[RouterStream]:
        """Open a stream along the chain. Failures before the first token fail over
        invisibly (DESIGN.md invariant 8); after it, iteration raises ``StreamBroken``.
        Leaving the block closes the HTTP response at once."""
        served = await self.walk(
            partial(prime, request),
            model=model,
            request=request,
            streaming=True,
            on_attempt=on_attempt,
        )
        try:
            yield RouterStream(served)
        finally:
            try:
                await served.value.stream.aclose()
            finally:
                served.release()

    def models(self, model: str | None = None) -> dict[str, Any]:
        """The chain and every configured model with its profile (``catalog.py``)."""
        return catalog.models_report(
            self.settings, self.providers, lambda: self.chain(model), self.profile
        )

    def status(self) -> dict[str, Any]:
        """Credentials, cooldowns and the routes skipped now, with reasons and recovery
        times (``catalog.py``); fingerprints only."""
        try:
            routes = self.chain()
        except ConfigError:
            routes = []
        return catalog.status_report(
            self.settings,
            self.store,
            self.providers,
            routes,
            self._skip_until,
            self._missing_models,
            self._clock(),
        )

    def next_route(self, model: str | None = None) -> ModelRef | None:
        """The route that would serve a request now: the first of the chain that is not
        skipped (a model found missing, a provider failing, every credential cooling or
        dead); ``None`` when every route is. What the agent compacts for: the next
        route may have a smaller window than the first."""
        now = self._clock()
        for route in self.chain(model):
            if (route.provider, route.model) in self._missing_models:
                continue
            if self._skip_until.get(route, 0.0) > now:
                continue
            if self.providers[route.provider].pool.available(route.model):
                return route
        return None

    def profile(self, route: ModelRef) -> ModelProfile:
        """What a route's model can do and costs (built-in table + config overrides)."""
        found = self._profiles.get(route)
        if found is None:
            section = self.providers[route.provider].section
            found = profile_for(route.model, section.models)
            if found.input_per_mtok is None or found.output_per_mtok is None:
                found = self._priced(route, found)
            self._profiles[route] = found
        return found

    def _priced(self, route: ModelRef, profile: ModelProfile) -> ModelProfile:
        """The profile with genai-prices' prices where the config sets none."""
        section = self.providers[route.provider].section
        found = with_prices(profile, self.settings.home, section.wire, section.base_url, route)
        return profile if found is None else found

    def _served_unpriced(self, route: ModelRef, profile: ModelProfile) -> None:
        """Say once per process, when a model without a price has served a call, that
        its cost is not counted: not for every chain model at every start, and never for
        a local endpoint (loopback or private address), whose calls cost nothing."""
        if profile.input_per_mtok is not None and profile.output_per_mtok is not None:
            return
        if route in self._unpriced_said or is_local(self.providers[route.provider].endpoint):
            return
        self._unpriced_said.add(route)
        log.warning(
            "cost.unknown",
            provider=route.provider,
            model=route.model,
            reason=no_price_reason(route, budget=False),
        )

    async def walk(
        self,
        op: Op[T],
        *,
        model: str | None = None,
        request: ChatRequest | None = None,
        streaming: bool = False,
        on_attempt: AttemptObserver | None = None,
    ) -> Served[T]:
        """Run ``op`` along the chain with the router's rules; the caller must call
        ``release()`` on what it returns. With ``request``, routes whose model cannot serve
        it (tools, images, context window, streaming) are skipped, and say why.
        ``on_attempt`` is told of each attempt as it happens (see ``AttemptObserver``)."""
        routes = self.chain(model)
        walk = Walk(request, streaming, on_attempt=on_attempt)
        for index, route in enumerate(routes):
            has_next = index + 1 < len(routes)
            walk.next_route = routes[index + 1] if has_next else None
            served = await self._try_route(op, route, walk, has_next)
            if served is not None:
                return served
        raise no_route(self.providers, routes, walk)

    async def _try_route(
        self, op: Op[T], route: ModelRef, walk: Walk, has_next: bool
    ) -> Served[T] | None:
        provider = self.providers[route.provider]
        model = route.model
        onward: Action = "fallback" if has_next else "surface"
        if (route.provider, model) in self._missing_models:
            self._record(walk, route, None, None, None, "skip", 0.0, "model not found earlier")
            return None
        if self._skip_until.get(route, 0.0) > self._clock():
            at = self._skip_until[route]
            why = f"failing until {iso_utc(at)}"
            self._record(walk, route, None, None, None, "skip", 0.0, why, retry_at=at)
            return None
        unfit = self._unfit(route, walk)
        if unfit is not None:
            self._record(walk, route, None, None, None, "skip", 0.0, unfit)
            return None
        tried: set[str] = set()
        waited = False
        claims = 0
        while True:
            credential = provider.pool.acquire(model, exclude=tried)
            if credential is None:
                if not tried:
                    if not has_next and not waited:
                        # Nothing after this route: rather than fail, wait for a probe
                        # in flight elsewhere to settle the credential, then try again.
                        waited = await self._await_probe(provider, model)
                        if waited:
                            continue
                    recovery = provider.pool.recovery(model)
                    why = "no credential available"
                    until = recovery.at if recovery is not None else None
                    if recovery is not None:
                        when = iso_utc(recovery.at) if recovery.at else "reset"
                        why = f"every credential {recovery.failure_class} until {when}"
                    self._record(walk, route, None, None, None, "skip", 0.0, why, retry_at=until)
                return None
            leases: list[tuple[StateKey, float]] = []
            ended = provider.pool.ended(credential, model)
            if ended:  # half-open: only the request that claims the probe may send
                claimed = await self._claim_probe(provider, route, ended, walk)
                if claimed is None:
                    provider.pool.release(credential)
                    claims += 1
                    if claims > 3:  # the state will not settle: leave this one out
                        tried.add(credential.fingerprint)
                    continue  # another request probes: it now counts as cooling
                leases = claimed
            try:
                outcome = await self._attempt(op, provider, route, credential, walk, onward)
            except BaseException:
                provider.pool.release(credential)
                raise
            finally:
                if leases:
                    with anyio.CancelScope(shield=True):  # a cancelled probe frees it too
                        for key, lease_end in leases:
                            await self.store.end_probe(key, lease_end)
            if isinstance(outcome, Served):
                return outcome
            provider.pool.release(credential)
            if outcome == "next_credential":
                tried.add(credential.fingerprint)
                continue
            return None

    def _probe_lease_s(self, provider: Provider, streaming: bool) -> float:
        """How long a probe may take before another request may probe instead."""
        section = provider.section
        answer = section.first_token_timeout_s if streaming else section.read_timeout_s
        return min(section.connect_timeout_s + answer, MAX_PROBE_LEASE_S)

    async def _claim_probe(
        self,
        provider: Provider,
        route: ModelRef,
        ended: list[tuple[StateKey, CredentialState]],
        walk: Walk,
    ) -> list[tuple[StateKey, float]] | None:
        """Claim the probe of each ended mark; None (and nothing held) if another request
        holds any of them."""
        until = self._clock() + self._probe_lease_s(provider, walk.streaming)
        held: list[tuple[StateKey, float]] = []
        for key, mark in ended:
            if not await self.store.claim_probe(key, mark, until):
                for done_key, done_until in held:
                    await self.store.end_probe(done_key, done_until)
                return None
            held.append((key, until))
        log.info(
            "route.probe",
            provider=route.provider,
            model=route.model,
            credential=ended[0][0].credential,
            error_class=ended[0][1].last_class,
        )
        return held

    async def _await_probe(self, provider: Provider, model: str) -> bool:
        """Wait (polling the shared state) while a probe elsewhere holds every credential
        of this pool, until it answers or its lease ends; False if there was none."""
        lease_end = provider.pool.probe_in_flight(model)
        if lease_end is None:
            return False
        with anyio.move_on_after(max(lease_end - self._clock(), 0.0) + PROBE_POLL_S):
            # Another process's answer arrives only through the database: poll it.
            while provider.pool.probe_in_flight(model) is not None:  # noqa: ASYNC110
                await anyio.sleep(PROBE_POLL_S)
        return True

    async def _attempt(
        self,
        op: Op[T],
        provider: Provider,
        route: ModelRef,
        credential: Credential,
        walk: Walk,
        onward: Action,
    ) -> Served[T] | str:
        """One credential's turn: a request; one retry if the failure is transient; one
        token refresh and retry if a refreshable credential gets an auth failure."""
        retried = refreshed = False
        while True:
            started = time.perf_counter()
            try:
                value = await op(provider, route, credential)
            except ProviderError as err:
                elapsed = (time.perf_counter() - started) * 1000
                err.provider, err.model = route.provider, route.model
                walk.last_error, walk.last_provider = err, route.provider
                cls = err.failure_class
                refreshable = credential.refreshable and not err.from_token_exchange
                if cls is FailureClass.AUTH and refreshable and not refreshed:
                    refreshed = True
                    try:
                        await provider.refresh(credential, err)
                    except ProviderError as refused:
                        # The exchange's own failure decides: refused (auth) kills the
                        # credential; a 5xx or timeout is transient, as any other.
                        err, cls = refused, refused.failure_class
                        err.provider, err.model = route.provider, route.model
                        walk.last_error = err
                        refreshed = not cls.transient  # a hiccup may refresh once more
                    else:
                        self._record(
                            walk,
                            route,
                            credential,
                            err.status,
                            cls,
                            "retry",
                            elapsed,
                            "token refreshed",
                        )
                        continue
                if cls.cools_credential:
                    return await self._cool(err, provider, route, credential, walk, onward, elapsed)
                if cls.transient:
                    if not retried:
                        retried = True
                        self._record(walk, route, credential, err.status, cls, "retry", elapsed)
                        await self._sleep(self._rng.uniform(0.0, MAX_RETRY_JITTER_S))
                        continue
                    # Failed twice in a row (the try and its retry): skip it for a while.
                    self._skip_until[route] = self._clock() + FAILING_PROVIDER_SKIP_S
                    self._record(walk, route, credential, err.status, cls, onward, elapsed)
                    return "next_route"
                if cls is FailureClass.CONTEXT_OVERFLOW and onward == "fallback":
                    # Only a model with a larger window may try next (see _unfit).
                    window = self.profile(route).context_window
                    walk.min_window = max(window or walk.tokens, walk.min_window or 0)
                    self._record(walk, route, credential, err.status, cls, onward, elapsed)
                    return "next_route"
                if cls is FailureClass.MODEL_NOT_FOUND:
                    self._missing_models.add((route.provider, route.model))
                    self._record(walk, route, credential, err.status, cls, onward, elapsed)
                    return "next_route"
                # context overflow, bad request, content policy: the caller must see it.
                self._record(walk, route, credential, err.status, cls, "surface", elapsed)
                raise surface(err, walk) from err
            elapsed = (time.perf_counter() - started) * 1000
            self._record(walk, route, credential, 200, None, "served", elapsed)
            profile = self.profile(route)
            self._served_unpriced(route, profile)
            return Served(value, route, provider, credential, walk.attempts, profile)

    async def _cool(
        self,
        err: ProviderError,
        provider: Provider,
        route: ModelRef,
        credential: Credential,
        walk: Walk,
        onward: Action,
        elapsed: float,
    ) -> str:
        """Mark a credential cooling or dead, then rotate to a sibling or move on."""
        cls = err.failure_class
        mark = cooldown_until(err, self._clock())
        scope = route.model if cls in provider.wire.per_model_classes else ""
        await self.store.mark(provider.pool.key(credential, scope), mark)
        sibling = provider.pool.available(route.model, exclude={credential.fingerprint})
        action: Action = "rotate" if sibling else onward
        self._record(
            walk, route, credential, err.status, cls, action, elapsed, retry_at=mark.cooldown_until
        )
        return "next_credential" if sibling else "next_route"

    def _unfit(self, route: ModelRef, walk: Walk) -> str | None:
        """Why this route's model cannot serve the request, if a known limit says so."""
        if walk.request is None:
            return None
        profile = self.profile(route)
        if walk.streaming and profile.streaming is False:
            return "no streaming"
        if walk.min_window is not None:
            window = profile.context_window
            if window is None or window <= walk.min_window:
                known = f"its window ({window})" if window else "its window (unknown)"
                return f"context overflow earlier: {known} is not larger than {walk.min_window}"
        return unmet_need(profile, walk.request, lambda: walk.tokens)

    def _record(
        self,
        walk: Walk,
        route: ModelRef,
        credential: Credential | None,
        status: int | str | None,
        cls: FailureClass | None,
        action: Action,
        elapsed_ms: float,
        reason: str | None = None,
        *,
        retry_at: float | None = None,
    ) -> None:
        attempt = Attempt(
            provider=route.provider,
            model=route.model,
            credential=credential.fingerprint if credential else None,
            status=status,
            error_class=cls.value if cls else None,
            action=action,
            elapsed_ms=elapsed_ms,
            reason=reason,
            retry_at=retry_at,
        )
        walk.attempts.append(attempt)
        if walk.on_attempt is not None:
            moves_to = {"rotate": route, "fallback": walk.next_route, "skip": walk.next_route}
            walk.on_attempt(attempt, moves_to.get(action))
        if action != "served":
            fields = {**attempt.to_json(), "label": credential.label if credential else None}
            # A skip sent nothing: no credential, label or status to show as "None".
            log.info(f"route.{action}", **{k: v for k, v in fields.items() if v is not None})


def _file(settings: Settings) -> str | None:
    return str(settings.source) if settings.source else None
