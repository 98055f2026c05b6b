"""``web_fetch`` against a real HTTP server on 127.0.0.1 (the only host tests contact)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import anyio
import pytest

from tests.tools_helpers import LocalServer, RecordingApprover, call, http_server, make_ctx, respond
from tools import Limits, Rule
from tools.html_text import html_to_text
from tools.web import private_address

PAGE = b"""<html><head><title>Docs</title><style>p{}</style><script>alert(1)</script></head>
<body><h1>Install</h1><p>Run   the <a href="/guide">guide</a> now.</p>
<ul><li>one</li><li>two</li></ul><pre>  indented
    code</pre></body></html>"""


def _slow(server_state: list[LocalServer]) -> object:
    def route(handler: BaseHTTPRequestHandler) -> None:
        server_state[0].release.wait(10)  # held until the test ends
        respond(200, b"late")(handler)

    return route


@pytest.fixture
def server() -> Iterator[LocalServer]:
    holder: list[LocalServer] = []
    routes = {
        "/page": respond(200, PAGE, "text/html; charset=utf-8"),
        "/json": respond(
            200, b'{"ok": true, "key": "sk-or-v1-0123456789abcdef0123"}', "application/json"
        ),
        "/big": respond(200, b"z" * 50_000, "text/plain"),
        "/bin": respond(200, b"\x89PNG\0\0\0\0data", "image/png"),
        "/redirect": respond(302, b"", Location="/page"),
        "/loop": respond(302, b"", Location="/loop"),
        "/missing": respond(404, b"not here", "text/plain"),
        "/slow": _slow(holder),  # type: ignore[dict-item]
    }
    with http_server(routes) as state:  # type: ignore[arg-type]
        holder.append(state)
        yield state


@pytest.mark.anyio
async def test_html_is_converted_to_text(tmp_path: Path, server: LocalServer) -> None:
    ctx = make_ctx(tmp_path, allow_private_network=True)
    result = await call(ctx, "web_fetch", url=f"{server.base}/page")
    assert not result.is_error
    assert result.text.startswith(f"URL: {server.base}/page\nStatus: 200\n")
    body = result.text.split("\n\n", 1)[1]
    assert body == (
        "# Docs\n\n# Install\n\nRun the guide "
        f"({server.base}/guide) now.\n\n- one\n- two\n\n  indented\n    code"
    )
    raw = await call(ctx, "web_fetch", url=f"{server.base}/page", raw=True)
    assert "<h1>Install</h1>" in raw.text


@pytest.mark.anyio
async def test_private_addresses_go_to_the_approver(tmp_path: Path, server: LocalServer) -> None:
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    result = await call(ctx, "web_fetch", url=f"{server.base}/json")
    assert not result.is_error and '"ok": true' in result.text
    assert approver.requests[0].url == f"{server.base}/json"
    assert approver.requests[0].risk == "private network address 127.0.0.1"
    # even in auto mode the request is classified risky (auto then approves it)
    assert (await private_address("localhost", 80)) is not None


@pytest.mark.anyio
async def test_config_can_allow_private_destinations(tmp_path: Path, server: LocalServer) -> None:
    approver = RecordingApprover(allowed=False)
    by_rule = make_ctx(tmp_path, mode="ask", allow=("fetch:http://127.0.0.1:*",), approver=approver)
    assert not (await call(by_rule, "web_fetch", url=f"{server.base}/json")).is_error
    by_flag = make_ctx(tmp_path, mode="ask", approver=approver, allow_private_network=True)
    assert not (await call(by_flag, "web_fetch", url=f"{server.base}/json")).is_error
    assert approver.requests == []


@pytest.mark.anyio
async def test_denied_fetch_never_reaches_the_server(tmp_path: Path, server: LocalServer) -> None:
    approver = RecordingApprover(allowed=False)
    result = await call(
        make_ctx(tmp_path, mode="auto", deny=("fetch:*",), approver=approver),
        "web_fetch",
        url=f"{server.base}/page",
    )
    assert result.is_error and server.hits == []


@pytest.mark.anyio
async def test_every_redirect_hop_is_checked(tmp_path: Path, server: LocalServer) -> None:
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    result = await call(ctx, "web_fetch", url=f"{server.base}/redirect")
    assert f"URL: {server.base}/page" in result.text and "# Install" in result.text
    assert [r.url for r in approver.requests] == [f"{server.base}/redirect", f"{server.base}/page"]
    loop = await call(
        make_ctx(tmp_path, allow_private_network=True), "web_fetch", url=f"{server.base}/loop"
    )
    assert loop.is_error and "more than 5 redirects" in loop.text


@pytest.mark.anyio
async def test_caps_binary_errors_and_redaction(tmp_path: Path, server: LocalServer) -> None:
    limits = Limits(fetch_max_bytes=10_000)
    ctx = make_ctx(tmp_path, allow_private_network=True, limits=limits)
    big = await call(ctx, "web_fetch", url=f"{server.base}/big")
    assert big.text.endswith("z" * 100 + "\n[... content truncated at the size limit]")
    assert "z" * 10_000 + "\n" in big.text and "z" * 10_001 not in big.text
    binary = await call(ctx, "web_fetch", url=f"{server.base}/bin")
    assert binary.is_error and "binary content (image/png)" in binary.text
    missing = await call(ctx, "web_fetch", url=f"{server.base}/missing")
    assert missing.is_error and "Status: 404" in missing.text
    secret = await call(ctx, "web_fetch", url=f"{server.base}/json")
    assert "sk-or-v1" not in secret.text and "[REDACTED]" in secret.text
    scheme = await call(ctx, "web_fetch", url="file:///etc/passwd")
    assert scheme.is_error and "url: must start with http:// or https://" in scheme.text


@pytest.mark.anyio
async def test_slow_servers_hit_the_time_cap(tmp_path: Path, server: LocalServer) -> None:
    ctx = make_ctx(tmp_path, allow_private_network=True, limits=Limits(fetch_timeout_s=0.5))
    with anyio.fail_after(30):
        result = await call(ctx, "web_fetch", url=f"{server.base}/slow")
    assert result.is_error and "longer than 0.5 s" in result.text


def test_html_to_text_drops_scripts_and_keeps_links() -> None:
    text = html_to_text('<p>a<script>x()</script> <a href="b.html">b</a></p>', "https://h/d/")
    assert text == "a b (https://h/d/b.html)"


@pytest.mark.anyio
async def test_hosts_are_normalised_before_rules_and_the_address_check(
    tmp_path: Path, server: LocalServer
) -> None:
    port = server.base.rsplit(":", 1)[1]
    for url in [f"http://localhost.:{port}/page", f"http://LocalHost.:{port}/page"]:
        assert Rule.parse("fetch:localhost").matches_url(url)
        assert Rule.parse("fetch:http://localhost:*").matches_url(url)
        denied = await call(
            make_ctx(tmp_path, mode="auto", deny=("fetch:localhost",), allow_private_network=True),
            "web_fetch",
            url=url,
        )
        assert denied.is_error and "deny rule 'fetch:localhost'" in denied.text, url
    assert not Rule.parse("fetch:localhost").matches_url("http://localhost.evil.test/")
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    asked = await call(ctx, "web_fetch", url=f"http://localhost.:{port}/page")
    assert asked.is_error and "not approved" in asked.text
    assert (approver.requests[0].risk or "").startswith("private network address")
    assert server.hits == []
