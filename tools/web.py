"""``web_fetch``: GET one URL and return its text (HTML converted to readable text).

Size and time are capped (``Limits.fetch_max_bytes``; ``fetch_timeout_s`` for the network
part of the whole call, redirects included, time spent waiting for approval excluded); a
longer body is cut and the text says so. Only http and
https. Binary content types are refused.

Before each request — the first and every redirect hop, which is followed by hand — the
host is normalised (``tools/urls.py``: lower-case, one trailing dot dropped, IP
addresses in canonical form, so ``0x7f000002`` is ``127.0.0.2``) and resolved; deny
rules are checked on the URL and again on every address it resolves to; then when any of
its addresses is loopback, private (RFC 1918, CGNAT, IPv6 unique-local), link-local
(cloud metadata lives there), multicast, reserved or unspecified, the fetch is a risky
action that goes to the approver unless ``ctx.allow_private_network`` or a ``fetch:``
allow rule lets it through. The check resolves the name separately from the HTTP
client's own connection, so a DNS server that answers differently the second time
(rebinding) is not caught; deny rules and the approver are the guard, not a network
sandbox."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from typing import Any

import anyio
import httpx2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.html_text import html_to_text
from tools.policy import normalize_host
from tools.registry import Tool, ToolAnnotations, ToolError, ToolResult

MAX_REDIRECTS = 5
USER_AGENT = "hermes-mcp/0.1 (web_fetch)"
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class WebFetchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="http:// or https:// URL to GET")
    raw: bool = Field(default=False, description="Return HTML as-is instead of as text")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


async def resolve_host(host: str, port: int) -> tuple[str, ...]:
    """The addresses ``host`` (canonical, see ``tools/urls.py``) resolves to."""
    try:
        ipaddress.ip_address(host)
        return (host,)
    except ValueError:
        pass  # a name, not an address
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolError(f"cannot resolve {host}: {exc}") from None
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


async def private_address(host: str, port: int) -> str | None:
    """The first loopback/private/link-local address ``host`` resolves to, if any."""
    return next((a for a in await resolve_host(host, port) if _is_private(a)), None)


async def _check(url: httpx2.URL, ctx: ToolContext) -> None:
    if url.scheme not in ("http", "https") or not url.host:
        raise ToolError(f"refusing to fetch {url}: only http and https URLs")
    port = url.port or (443 if url.scheme == "https" else 80)
    request = ApprovalRequest(
        tool="web_fetch", kind="fetch", action="fetch", title=f"Fetch {url}", url=str(url)
    )
    ctx.refuse_if_denied(request)  # the URL as written, before any DNS lookup
    addresses = await resolve_host(normalize_host(url.host), port)
    request = dataclasses.replace(request, addresses=addresses)
    ctx.refuse_if_denied(request)  # and every address it resolves to
    private = next((a for a in addresses if _is_private(a)), None)
    risky = private is not None and not ctx.allow_private_network
    risk = f"private network address {private}" if risky else None
    await ctx.authorize(dataclasses.replace(request, risk=risk))


def _decode(body: bytes, content_type: str, charset: str | None, url: str, raw: bool) -> str:
    kind = content_type.split(";", 1)[0].strip().lower()
    textual = kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml")) or not kind
    if not textual and b"\0" in body[:1024]:
        raise ToolError(f"{url} is binary content ({kind}); web_fetch returns text only")
    text = body.decode(charset or "utf-8", errors="replace")
    if not raw and (
        kind in ("text/html", "application/xhtml+xml")
        or (not kind and "<html" in text[:1000].lower())
    ):
        return html_to_text(text, url)
    return text


async def _get(
    client: httpx2.AsyncClient, url: httpx2.URL, ctx: ToolContext
) -> tuple[httpx2.URL, int, str, str | None, bytes]:
    """Follow redirects by hand, checking every hop; the time budget excludes approvals."""
    budget = ctx.limits.fetch_timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        await _check(url, ctx)
        began = anyio.current_time()
        with anyio.fail_after(budget):
            async with client.stream("GET", url) as response:
                if not (response.is_redirect and "location" in response.headers):
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > ctx.limits.fetch_max_bytes:
                            break
                    kind = response.headers.get("content-type", "")
                    charset = response.charset_encoding
                    return url, response.status_code, kind, charset, bytes(body)
                location = response.headers["location"]
        budget -= anyio.current_time() - began
        url = url.join(location)
    raise ToolError(f"more than {MAX_REDIRECTS} redirects")


async def web_fetch(args: WebFetchArgs, ctx: ToolContext) -> ToolResult:
    limits = ctx.limits
    try:
        async with httpx2.AsyncClient(
            follow_redirects=False,
            timeout=limits.fetch_timeout_s,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/*;q=0.9,*/*;q=0.5"},
        ) as client:
            url, status, content_type, charset, body = await _get(client, httpx2.URL(args.url), ctx)
    except TimeoutError:
        raise ToolError(
            f"fetching {args.url} took longer than {limits.fetch_timeout_s:g} s"
        ) from None
    except httpx2.HTTPError as exc:
        raise ToolError(f"fetching {args.url} failed: {type(exc).__name__}: {exc}") from None
    cut = len(body) > limits.fetch_max_bytes
    text = await anyio.to_thread.run_sync(
        _decode, body[: limits.fetch_max_bytes], content_type, charset, str(url), args.raw
    )
    if len(text) > limits.fetch_max_chars:
        text, cut = text[: limits.fetch_max_chars], True
    note = "\n[... content truncated at the size limit]" if cut else ""
    header = f"URL: {url}\nStatus: {status}\nContent-Type: {content_type or 'unknown'}\n\n"
    return ToolResult(text=header + text + note, is_error=status >= 400)


WEB_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="web_fetch",
        description=(
            "GET a URL and return its content as text (HTML converted). Size and time "
            "capped. Local and private network addresses need approval."
        ),
        args=WebFetchArgs,
        fn=web_fetch,
        toolset="web",
        annotations=ToolAnnotations(
            read_only=True, destructive=False, idempotent=True, open_world=True, kind="fetch"
        ),
    ),
)
