"""The HTTP client each provider owns: httpx's API (``httpx2``) over aiohttp's transport.

Chosen by measurement (``bench/router_overhead.py``): on a 2-core machine against a
loopback server, httpx2's own pool serves about half the requests per second that the
aiohttp transport does at 50 concurrent requests. ``HERMES_MCP_HTTP_TRANSPORT=httpx``
selects httpx2's native transport, for comparison or if aiohttp misbehaves somewhere.

No retries happen here (DESIGN.md invariant 9): the transport is built with
``retries=0`` and the router is the only retry layer.
"""

from __future__ import annotations

import asyncio
import os
import ssl

import aiohttp
import httpcore2  # noqa: F401  (httpx2.create_ssl_context imports it on first call: pay it here)
import httpx2
from httpx_aiohttp.httpx2 import AiohttpTransport

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.log import redact

DEFAULT_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=100)

_verifying: ssl.SSLContext | None = None


def tls_context(base_url: str | None) -> ssl.SSLContext:
    """The TLS context for a provider's client. Loading the system's CA certificates
    costs 20-160 ms, so it happens once per process (every https provider shares one
    context) and never for a plain-HTTP endpoint, whose context is never used (a
    process's first failover to a second provider then builds no certificate store)."""
    global _verifying
    if base_url is not None and base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # empty: no certificates loaded
    if _verifying is None:
        _verifying = httpx2.create_ssl_context(trust_env=True)
    return _verifying


def make_client(
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    transport_name: str | None = None,
    base_url: str | None = None,
) -> httpx2.AsyncClient:
    """One client per provider: connection reuse, bounded timeouts, no retries.
    ``base_url``: the endpoint, so that a plain-HTTP one loads no certificates."""
    timeout = httpx2.Timeout(
        connect=connect_timeout_s, read=read_timeout_s, write=30.0, pool=connect_timeout_s
    )
    transport: httpx2.AsyncBaseTransport
    name = transport_name or os.environ.get("HERMES_MCP_HTTP_TRANSPORT", "aiohttp")
    context = tls_context(base_url)
    if name == "httpx":
        transport = httpx2.AsyncHTTPTransport(retries=0, limits=DEFAULT_LIMITS, verify=context)
    else:
        transport = AiohttpTransport(
            retries=0, limits=DEFAULT_LIMITS, trust_env=True, verify=context
        )
    return httpx2.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)


def transport_failure(exc: httpx2.TransportError, base_url: str | None = None) -> ProviderError:
    """A transport error as a classified failure: a timeout, or a failed connection.

    httpx-aiohttp maps every ``aiohttp.ClientConnectionError`` (a refused connection, a
    server that hung up) to ``ConnectTimeout``; the aiohttp cause tells the truth. A
    connection that could not be made says so in the user's words ("cannot connect to
    BASE_URL: Connection refused"), not aiohttp's class name.
    """
    cause = exc.__cause__
    timed_out = isinstance(cause, asyncio.TimeoutError | aiohttp.ServerTimeoutError)
    if cause is None or not isinstance(cause, aiohttp.ClientError):
        timed_out = isinstance(exc, httpx2.TimeoutException)
    detail = redact(f"{type(cause or exc).__name__}: {cause or exc}")
    if isinstance(cause, aiohttp.ClientConnectorError) and not timed_out:
        error = cause.os_error
        number = error.errno if isinstance(error.errno, int) else 0  # a DNS failure's is < 0
        why = os.strerror(number) if number > 0 else error.strerror or str(error)
        where = base_url or f"{cause.host}:{cause.port}"
        detail = redact(f"cannot connect to {where}: {why}")
    if timed_out:
        return ProviderError(FailureClass.TIMEOUT, detail, status="timeout")
    return ProviderError(FailureClass.SERVER_ERROR, detail, status="connect")
