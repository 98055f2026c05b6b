"""The providers' HTTP clients: a plain-HTTP endpoint loads no CA certificates, and
every https provider shares one verifying TLS context, so a process's first failover
to a second provider builds no certificate store on the request path
(bench/first_failover.py measures the whole first failover)."""

from __future__ import annotations

import ssl
import subprocess
import sys

import pytest

from hermes_mcp.llm.http import make_client, tls_context


def test_a_plain_http_endpoint_loads_no_certificates() -> None:
    context = tls_context("http://127.0.0.1:8080/v1")
    assert context.cert_store_stats()["x509_ca"] == 0


def test_https_providers_share_one_verifying_context() -> None:
    first = tls_context("https://api.example.invalid/v1")
    second = tls_context("https://other.example.invalid")
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_the_client_uses_that_context(transport: str) -> None:
    client = make_client(
        connect_timeout_s=1, read_timeout_s=1, transport_name=transport, base_url="http://h"
    )
    try:
        transport_obj = client._transport
        context = getattr(transport_obj, "ssl_context", None)
        if context is None:  # httpx2's own transport keeps it on its pool
            context = transport_obj._pool._ssl_context  # type: ignore[attr-defined]
        assert context.cert_store_stats()["x509_ca"] == 0
    finally:
        await client.aclose()


def test_building_a_client_imports_nothing_new() -> None:
    """httpx2.create_ssl_context imports httpcore2 on first call (~0.2 s cold): that is
    paid when the router is imported, not by the first request of a provider."""
    code = (
        "import sys, hermes_mcp.llm.http as h; before = set(sys.modules);"
        "h.make_client(connect_timeout_s=1, read_timeout_s=1, base_url='http://h');"
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.strip() == "[]"
