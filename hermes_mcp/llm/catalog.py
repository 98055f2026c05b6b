"""What the router can tell an edge about itself: the models it knows (``Router.models``)
and the state of its routes (``Router.status``). Fingerprints only, never a secret.

- ``models()``: the chain (``[model] default`` then the fallbacks, or an override first)
  and every configured model (the chain's and each provider's ``models`` table), each
  with its profile: context window, output limit, tools, vision, streaming, prices
  (USD per million tokens; ``None`` where unknown).
- ``status()``: every credential (state, cooldown end, last failure class: see
  ``status.credential_report``), and every route the router skips now with the reason
  and when it recovers: a provider failing twice in a row (``failing`` until a time),
  a model the provider does not have (``model_not_found``, for the process's life),
  every credential of a pool cooling (until the first recovers) or dead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hermes_mcp.config import ModelRef, Settings
from hermes_mcp.errors import ConfigError, iso_utc
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.profiles import ModelProfile
from hermes_mcp.llm.status import credential_report

if TYPE_CHECKING:
    from hermes_mcp.llm.provider import Provider


def profile_json(profile: ModelProfile) -> dict[str, Any]:
    return {
        "context_window": profile.context_window,
        "max_output": profile.max_output,
        "tools": profile.tools,
        "vision": profile.vision,
        "streaming": profile.streaming,
        "prices": {
            "input_per_mtok": profile.input_per_mtok,
            "output_per_mtok": profile.output_per_mtok,
            "cached_per_mtok": profile.cached_per_mtok,
        },
    }


def models_report(
    settings: Settings,
    providers: Mapping[str, Provider],
    chain: Callable[[], list[ModelRef]],
    profile: Callable[[ModelRef], ModelProfile],
) -> dict[str, Any]:
    try:
        routes = chain()
    except ConfigError:
        routes = []  # no [model] section: the configured models are still listed
    seen: dict[ModelRef, None] = dict.fromkeys(routes)
    for name, provider in providers.items():
        for model in provider.section.models:
            seen.setdefault(ModelRef(name, model), None)
    return {
        "chain": [str(r) for r in routes],
        "models": [
            {
                "route": str(ref),
                "provider": ref.provider,
                "model": ref.model,
                "in_chain": ref in routes,
                **profile_json(profile(ref)),
            }
            for ref in seen
            if ref.provider in providers
        ],
    }


def status_report(
    settings: Settings,
    store: CredentialStateStore,
    providers: Mapping[str, Provider],
    routes: list[ModelRef],
    skip_until: Mapping[ModelRef, float],
    missing: set[tuple[str, str]],
    now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    skips: list[dict[str, Any]] = []
    candidates = dict.fromkeys([*routes, *skip_until, *(ModelRef(p, m) for p, m in missing)])
    for ref in candidates:
        provider = providers.get(ref.provider)
        if provider is None:
            continue
        entry = {"route": str(ref), "provider": ref.provider, "model": ref.model}
        if (ref.provider, ref.model) in missing:
            skips.append({**entry, "reason": "model_not_found", "until": None})
            continue
        until = skip_until.get(ref, 0.0)
        if until > now:
            skips.append({**entry, "reason": "failing", "until": iso_utc(until)})
            continue
        if provider.pool.available(ref.model):
            continue
        recovery = provider.pool.recovery(ref.model)
        if recovery is None:
            skips.append({**entry, "reason": "no credential", "until": None})
        else:
            at = None if recovery.at is None else iso_utc(recovery.at)
            skips.append({**entry, "reason": recovery.failure_class, "until": at})
    return {
        "credentials": credential_report(settings, store, now),
        "skips": skips,
    }
