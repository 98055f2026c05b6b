"""Model prices from ``genai-prices`` (maintained price data for the major providers),
for models whose price the config does not set.

Prices follow the installed package's version: upgrading ``genai-prices`` updates them,
and nothing is fetched at run time. Importing the package and building its snapshot
costs most of a second, so a looked-up price (or the fact that there is none) is kept
in ``$HERMES_MCP_HOME/prices-<version>.json``: each model is looked up once per machine
and package version, and every later process reads a small file.

An endpoint on a loopback or private address (a local server, a test's fake) has no
price here: whatever model name it serves, it is not the vendor's priced API. Set its
prices in the config to give it a budget.

A price is flat: USD per million input, output and cache-read tokens at the model's
base tier (a provider charging more above some prompt length is under-counted there).
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hermes_mcp.config import Settings
from hermes_mcp.llm.profiles import ModelProfile
from hermes_mcp.log import get_logger

log = get_logger("hermes_mcp.prices")

# Our wire → genai-prices' provider id, when the endpoint's URL names no known provider.
_WIRE_PROVIDER = {
    "openai": "openai",
    "responses": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex": "google",
}
# input, output, cache read, cache write: USD per million tokens
Prices = tuple[float, float, float, float]

_lock = threading.Lock()
_memo: dict[Path, dict[str, Prices | None]] = {}


def _version() -> str:
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return ""


def _lookup(wire: str, base_url: str, model: str) -> Prices | None:
    """Ask genai-prices (slow the first time in a process)."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover  (a dependency; absent only in a broken install)
        return None

    def per_mtok(usage: Any, ref: str, where: tuple[str, str]) -> float:
        kind, value = where
        if kind == "url":
            found = calc_price(usage, model_ref=ref, provider_api_url=value)
        else:
            found = calc_price(usage, model_ref=ref, provider_id=value)
        return float(found.total_price)

    # Asked about 100k tokens and scaled: a million would fall in a long-context tier
    # (Claude's prices double past 200k prompt tokens).
    probe, scale = 100_000, 10.0
    refs = [model] + ([model.rsplit("/", 1)[-1]] if "/" in model else [])
    tries: list[tuple[str, str]] = [("url", base_url)]
    if wire in _WIRE_PROVIDER:
        tries.append(("id", _WIRE_PROVIDER[wire]))
    for where in tries:
        for ref in refs:
            try:
                fresh = per_mtok(Usage(input_tokens=probe), ref, where)
                out = per_mtok(Usage(output_tokens=probe), ref, where)
                read = per_mtok(Usage(input_tokens=probe, cache_read_tokens=probe), ref, where)
                write = per_mtok(Usage(input_tokens=probe, cache_write_tokens=probe), ref, where)
            except (LookupError, ValueError):
                continue
            return fresh * scale, out * scale, read * scale, write * scale
    return None


def _cache_file(home: Path) -> Path:
    return home / f"prices-{_version() or 'none'}.json"


def _load(path: Path) -> dict[str, Prices | None]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, Prices | None] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if value is None:
                out[str(key)] = None
            elif isinstance(value, list) and len(value) == 4:  # older entries: asked again
                out[str(key)] = (float(value[0]), float(value[1]), float(value[2]), float(value[3]))
    return out


def _save(path: Path, table: dict[str, Prices | None]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({k: list(v) if v else None for k, v in table.items()}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: look it up again next time
        log.warning("prices.cache_write_failed", error=str(exc))


def is_local(base_url: str) -> bool:
    """Whether ``base_url`` names a loopback or private address (or ``localhost``)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def prices(home: Path, wire: str, base_url: str, model: str) -> Prices | None:
    """The model's prices, or ``None`` when genai-prices knows none for it (or the
    endpoint is local)."""
    if is_local(base_url):
        return None
    path = _cache_file(home)
    key = f"{wire} {base_url} {model}"
    with _lock:
        table = _memo.get(path)
        if table is None:
            table = _memo[path] = _load(path)
        if key in table:
            return table[key]
        found = _lookup(wire, base_url, model)
        table[key] = found
        _save(path, table)
        return found


def no_price_reason(route: object) -> str:
    """What to say about a model without a price (the turn's start, ``doctor``)."""
    provider, _, model = str(route).partition(":")
    return (
        f"no price is known for {route}: agent.max_cost_usd cannot count what it spends; "
        f'set input_per_mtok and output_per_mtok in [providers.{provider}.models."{model}"]'
    )


def with_prices(
    profile: ModelProfile, home: Path, wire: str, base_url: str, route: object
) -> ModelProfile | None:
    """``profile`` with genai-prices' prices for what the config leaves unset, or None
    when none is known."""
    known = prices(home, wire, base_url, str(route).partition(":")[2])
    if known is None:
        return None
    fresh, out, cached, written = known
    if profile.input_per_mtok is not None:  # the config set one price: keep it
        fresh = profile.input_per_mtok
    if profile.output_per_mtok is not None:
        out = profile.output_per_mtok
    if profile.cached_per_mtok is not None:
        cached = profile.cached_per_mtok
    if profile.cache_write_per_mtok is not None:
        written = profile.cache_write_per_mtok
    return replace(
        profile,
        input_per_mtok=fresh,
        output_per_mtok=out,
        cached_per_mtok=cached,
        cache_write_per_mtok=written,
    )


def unpriced_remote(settings: Settings) -> list[tuple[str, str, str]]:
    """(wire, base_url, model) of each chain model on a remote endpoint that the config
    does not price: what genai-prices will be asked about."""
    if settings.config.model is None:
        return []
    out: list[tuple[str, str, str]] = []
    for route in settings.chain:
        section = settings.config.providers[route.provider]
        given = section.models.get(route.model)
        priced = given is not None and None not in (given.input_per_mtok, given.output_per_mtok)
        if not priced and not is_local(section.base_url):
            out.append((section.wire, section.base_url, route.model))
    return out
