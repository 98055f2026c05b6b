"""A provider: one endpoint, its credential pool, its HTTP client and its wire format.

``send`` makes exactly one HTTP request with one credential and either returns the
parsed completion or raises a classified ``ProviderError``; transport failures are
translated here (connect → ``server_error`` with status "connect", timeouts →
``timeout``). It never retries: that is the router's job alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
import httpx2

from hermes_mcp.config import ProviderSection
from hermes_mcp.credentials import Credential
from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.body import ERROR_BODY_BYTES, cut, read_capped
from hermes_mcp.llm.classify import classify_http
from hermes_mcp.llm.http import make_client, transport_failure
from hermes_mcp.llm.pool import CredentialPool
from hermes_mcp.llm.streaming import ProviderStream, StreamTimeouts
from hermes_mcp.llm.tokens import TokenSource
from hermes_mcp.llm.types import ChatRequest, Completion
from hermes_mcp.llm.wires import Wire
from hermes_mcp.llm.wires.common import JSON_ERRORS, SHAPE_ERRORS, guarded
from hermes_mcp.log import redact


class Provider:
    def __init__(
        self,
        name: str,
        section: ProviderSection,
        wire: Wire,
        pool: CredentialPool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.section = section
        self.wire = wire
        self.pool = pool
        self._clock = clock
        self._client: httpx2.AsyncClient | None = None
        self._token_sources: dict[str, TokenSource] = {}

    @property
    def endpoint(self) -> str:
        return self.section.base_url

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = make_client(
                connect_timeout_s=self.section.connect_timeout_s,
                read_timeout_s=self.section.read_timeout_s,
                base_url=self.endpoint,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _tokens(self, credential: Credential) -> TokenSource:
        source = self._token_sources.get(credential.fingerprint)
        if source is None:
            source = TokenSource(credential, self._http, self.section.token_url, self._clock)
            self._token_sources[credential.fingerprint] = source
        return source

    async def _headers(self, credential: Credential, accept: str) -> tuple[dict[str, str], int]:
        """Request headers with the credential's auth, and the token generation used
        (0 for static secrets)."""
        headers = {"content-type": "application/json", "accept": accept}
        generation = 0
        secret: str | None
        if credential.refreshable:
            secret, generation = await self._tokens(credential).token()
        else:
            secret = credential.secret.get_secret_value() if credential.secret else None
        headers.update(self.wire.auth_headers(secret))
        return headers, generation

    async def refresh(self, credential: Credential, failure: ProviderError) -> None:
        """After an auth failure: exchange for a new token (once, however many requests
        failed with the old one). Raises the classified failure when refused."""
        await self._tokens(credential).refresh(failure.token_generation or 0)

    @property
    def timeouts(self) -> StreamTimeouts:
        return StreamTimeouts(
            first_token_s=self.section.first_token_timeout_s,
            idle_s=self.section.idle_timeout_s,
            total_s=self.section.total_timeout_s,
        )

    async def open_stream(
        self, request: ChatRequest, model: str, credential: Credential, started: float
    ) -> ProviderStream:
        """Send a streaming request; returns once the response headers say 200 and an
        event stream follows, or raises the classified failure."""
        headers, generation = await self._headers(credential, "text/event-stream")
        request = self._tuned(request, model)
        payload = json.dumps(self.wire.stream_body(request, model)).encode()
        timeouts = self.timeouts
        client = self._http()
        http_request = client.build_request(
            "POST",
            self.wire.stream_url(self.endpoint, model),
            content=payload,
            headers=headers,
            timeout=httpx2.Timeout(
                connect=self.section.connect_timeout_s,
                read=timeouts.idle_s,
                write=30.0,
                pool=self.section.connect_timeout_s,
            ),
        )
        try:
            response = await client.send(http_request, stream=True)
        except httpx2.TransportError as exc:
            raise transport_failure(exc) from exc
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if response.status_code == 200 and kind == "text/event-stream":
            return ProviderStream(
                response,
                self.wire.stream_decoder(),
                timeouts,
                started,
                self._clock,
                max_bytes=self.section.max_body_bytes,
            )
        with anyio.move_on_after(timeouts.first_token_s) as deadline:
            try:
                body, _ = await read_capped(response, ERROR_BODY_BYTES)
            except httpx2.TransportError as exc:
                raise transport_failure(exc) from exc
            finally:
                await response.aclose()
        if deadline.cancelled_caught:
            raise ProviderError(
                FailureClass.TIMEOUT,
                f"no whole error body within first_token_timeout_s = {timeouts.first_token_s:g} s",
                status="timeout",
            )
        lowered = _lowered(response)
        if response.status_code != 200:
            raise self._failure(response.status_code, lowered, body, generation)
        try:
            data: Any = json.loads(body)
        except JSON_ERRORS:
            data = None
        if data is not None and self.wire.is_error(data):
            raise self._failure(200, lowered, body, generation)
        raise ProviderError(
            FailureClass.SERVER_ERROR,
            f"malformed response: expected an event stream, got {kind or 'no content type'}",
            status="malformed",
        )

    async def send(self, request: ChatRequest, model: str, credential: Credential) -> Completion:
        """One non-streamed request. ``read_timeout_s`` bounds the whole answer (sending
        the request to the answer's last byte), not only the gap between two reads."""
        headers, generation = await self._headers(credential, "application/json")
        request = self._tuned(request, model)
        payload = json.dumps(self.wire.body(request, model)).encode()
        url = self.wire.url(self.endpoint, model)
        client = self._http()
        limit = self.section.read_timeout_s
        with anyio.move_on_after(limit) as deadline:
            try:
                response = await client.send(
                    client.build_request("POST", url, content=payload, headers=headers),
                    stream=True,
                )
                try:
                    ok = response.status_code == 200
                    cap = self.section.max_body_bytes if ok else ERROR_BODY_BYTES
                    body, over = await read_capped(response, cap)
                finally:
                    await response.aclose()
            except httpx2.TransportError as exc:
                raise transport_failure(exc) from exc
        if deadline.cancelled_caught:
            raise ProviderError(
                FailureClass.TIMEOUT,
                f"no whole answer within read_timeout_s = {limit:g} s",
                status="timeout",
            )
        if response.status_code != 200:
            raise self._failure(response.status_code, _lowered(response), body, generation)
        if over:
            raise ProviderError(
                FailureClass.SERVER_ERROR,
                f"malformed response: the answer is larger than max_body_bytes = {cap}",
                status="malformed",
            )
        try:
            data: Any = json.loads(body)
        except JSON_ERRORS as exc:
            raise ProviderError(
                FailureClass.SERVER_ERROR,
                "malformed response: the body is not JSON (or is nested too deeply)",
                status="malformed",
            ) from exc
        if self.wire.is_error(data):
            raise self._failure(200, _lowered(response), body, generation)
        return guarded("an unreadable answer", self.wire.parse, data)

    def _tuned(self, request: ChatRequest, model: str) -> ChatRequest:
        """The request with this model's configured ``reasoning`` (a per-model setting:
        the same conversation may go to a model configured otherwise on fallback)."""
        settings = self.section.models.get(model)
        reasoning = settings.reasoning if settings is not None else None
        if reasoning == request.reasoning:
            return request
        return replace(request, reasoning=reasoning)

    def _failure(
        self, status: int, headers: dict[str, str], body: bytes, generation: int
    ) -> ProviderError:
        now = self._clock()
        try:
            err = self.wire.classify(status, headers, body, now)
        except SHAPE_ERRORS:  # an error body of an unexpected shape: the status decides
            err = classify_http(status, message=f"HTTP {status}", headers=headers, now=now)
        err.token_generation = generation
        if status == 404 and _is_html(headers, body):
            # Not an API's answer: a web server's page. The path is wrong, not the model.
            err.message = (
                f"HTTP 404 with an HTML page, not an API error: base_url "
                f"{self.endpoint} is probably wrong (a missing /v1?)"
            )
        err.message = cut(redact(err.message))  # redact first: a cut may split a secret
        return err


def _is_html(headers: dict[str, str], body: bytes) -> bool:
    kind = headers.get("content-type", "").partition(";")[0].strip().lower()
    start = body[:200].lstrip().lower()
    return kind == "text/html" or start.startswith((b"<!doctype html", b"<html"))


def _lowered(response: httpx2.Response) -> dict[str, str]:
    """Response headers with lower-cased names, for classification (failures only)."""
    return {k.lower(): v for k, v in response.headers.items()}
