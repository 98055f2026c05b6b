"""What ``hermes-mcp providers`` shows: every configured credential with its state.

A credential whose provider limits per model may carry several marks (one per model);
the report shows its worst: dead over cooling over available, the latest cooldown end,
and the most recent failure.
"""

from __future__ import annotations

import time
from typing import Any

from hermes_mcp.config import Settings
from hermes_mcp.errors import iso_utc
from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore


def _summary(marks: list[CredentialState], now: float) -> dict[str, Any]:
    state = "available"
    until: float | None = None
    for mark in marks:
        if mark.state == "dead":
            state = "dead"
        elif mark.blocks(now) and state != "dead":
            state = "cooling"
            until = max(until or 0.0, mark.cooldown_until or 0.0)
    latest = max(marks, key=lambda m: m.last_error_at, default=None)
    return {
        "state": state,
        "cooldown_until": iso_utc(until) if state == "cooling" else None,
        "last_class": latest.last_class if latest else None,
        "last_error_at": iso_utc(latest.last_error_at) if latest else None,
    }


def credential_report(
    settings: Settings, store: CredentialStateStore, now: float | None = None
) -> list[dict[str, Any]]:
    now = time.time() if now is None else now
    snapshot = store.snapshot()
    rows: list[dict[str, Any]] = []
    for name, section in settings.config.providers.items():
        for cred in settings.credentials.get(name, []):
            marks = [
                state
                for key, state in snapshot.items()
                if key.provider == name
                and key.endpoint == section.base_url
                and key.credential == cred.fingerprint
            ]
            rows.append(
                {
                    "provider": name,
                    "credential": cred.fingerprint,
                    "label": cred.label,
                    **_summary(marks, now),
                }
            )
    return rows


def format_report(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no providers configured"
    headers = ["provider", "credential", "label", "state", "cooldown_until", "last_class"]
    table = [[str(row.get(h) or "-") for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(line.rstrip() for line in lines)
