"""URLs as ``fetch:`` rules see them: parsed (``yarl``) and normalised, never raw text.

A rule pattern ``scheme://host[:port][/path]`` is split the same way as the URL, and
each part is matched on its own: the scheme, the **host** (lower-case, IDNA-encoded, one
trailing dot dropped, and an IP address in its canonical form — ``2130706434``,
``0x7f000002``, ``127.2`` and ``[::ffff:127.0.0.2]`` are all ``127.0.0.2``), the port
(the scheme's default when the URL gives none; a pattern without a port matches only
the default) and the path with its query. A ``*`` in the host part matches only within
the host, so user-info (``http://127.0.0.1:1@evil/``) and the query
(``/?.example.com/``) can never satisfy a host pattern. A pattern without ``://`` is a
host pattern (``*.internal.example``, optionally ``host:port``).

For a deny rule the fetch also gives the addresses the host resolves to, and a rule
whose host pattern matches any of them matches the URL (``fetch:http://127.0.0.2*``
refuses a name that resolves there).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import yarl

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def canonical_host(host: str) -> str:
    """The host as rules and address checks compare it (see the module docstring)."""
    host = host.strip().lower().strip("[]")
    if host.endswith("."):
        host = host[:-1]
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)
    if _NUMERIC_HOST.fullmatch(host) and any(c.isdigit() for c in host):
        try:  # the forms inet_aton (and so the resolver) accepts: 127.1, 0x7f000001, 2130706433
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str
    port: int | None
    path: str  # path and ?query

    @classmethod
    def parse(cls, url: str) -> ParsedUrl | None:
        try:
            parsed = yarl.URL(url)
        except (ValueError, TypeError):
            return None
        if not parsed.raw_host:
            return None
        query = parsed.raw_query_string
        return cls(
            parsed.scheme.lower(),
            canonical_host(parsed.raw_host),
            parsed.port,
            (parsed.raw_path or "/") + (f"?{query}" if query else ""),
        )


def _glob(pattern: str, anything: str) -> re.Pattern[str]:
    parts = (anything if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class UrlPattern:
    scheme: re.Pattern[str] | None
    host: re.Pattern[str]
    port: re.Pattern[str] | None  # None: the scheme's default port only
    path: re.Pattern[str] | None  # None: any path
    any_port: bool = False

    @classmethod
    def parse(cls, pattern: str) -> UrlPattern:
        text = pattern.strip()
        scheme: re.Pattern[str] | None = None
        path: re.Pattern[str] | None = None
        any_port = "://" not in text
        if "://" in text:
            scheme_text, text = text.split("://", 1)
            scheme = _glob(scheme_text.lower(), "[a-z0-9+.-]*")
            cut = min((i for i in (text.find("/"), text.find("?")) if i >= 0), default=-1)
            if cut >= 0:
                text, path_text = text[:cut], text[cut:]
                path = _glob(path_text if path_text.startswith("/") else "/" + path_text, ".*")
        hostport = text
        port: re.Pattern[str] | None = None
        if hostport.startswith("["):
            host_text, _, rest = hostport[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else None
        elif hostport.count(":") == 1:
            host_text, port_text = hostport.split(":")
        else:
            host_text, port_text = hostport, None
        if port_text is not None:
            port = _glob(port_text, "[0-9]*")
            any_port = False
        elif host_text.endswith("*") and path is None:
            any_port = True  # ``http://127.0.0.2*``: the rule's text covered any port
        if not any(c in host_text for c in "*?"):
            host_text = canonical_host(host_text)
        else:
            host_text = host_text.lower().rstrip(".")
        return cls(scheme, _glob(host_text, "[^/?#@]*"), port, path, any_port)

    def matches(self, url: ParsedUrl, addresses: Sequence[str] = ()) -> bool:
        if self.scheme is not None and not self.scheme.fullmatch(url.scheme):
            return False
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)
        if self.port is not None:
            if port is None or not self.port.fullmatch(str(port)):
                return False
        elif not self.any_port and port != _DEFAULT_PORTS.get(url.scheme):
            return False
        if self.path is not None and not self.path.fullmatch(url.path):
            return False
        hosts = [url.host, *(canonical_host(a) for a in addresses)]
        return any(self.host.fullmatch(h) for h in hosts)
