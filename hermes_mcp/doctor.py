"""``hermes-mcp doctor``: is this machine ready to serve?

Checks, in order: the config (file and key of each problem), the state directory and
its SQLite database (WAL works there, a write transaction commits), and each provider
(its wire is available, its credentials resolve, which are cooling or dead). With
``--probe`` it also sends one cheap request (``max_tokens = 1``) per credential of each
provider in the model chain, straight to the provider: no rotation, no fallback, and no
change to any credential's state. Each ``[mcp_servers]`` entry is connected, and its
tools or its problem listed (``hermes_mcp/mcp_client/doctor.py``). Skills are found
from the current directory as a workspace: each one that breaks the format is named (it
is skipped everywhere else), and each one shadowed by a skill of the same name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes_mcp.config import Settings, load_settings
from hermes_mcp.errors import ConfigError, HermesError, ProviderError, StateError
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.prices import no_price_reason
from hermes_mcp.llm.status import credential_report
from hermes_mcp.llm.types import ChatRequest, Message
from hermes_mcp.log import redact
from hermes_mcp.mcp_client.doctor import check_servers
from hermes_mcp.runtime import open_runtime
from hermes_mcp.state import open_database
from hermes_mcp.zero_config import describe

PROBE = ChatRequest((Message.user("Reply with the single word: ok"),), max_tokens=1)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": redact(self.detail)}


def _state_checks(settings: Settings) -> list[Check]:
    try:
        db = open_database(settings.db_path)
    except StateError as exc:
        return [Check("state", False, str(exc))]
    try:
        mode = db.journal_mode()
        with db.write() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS doctor_probe (x)")
            conn.execute("INSERT INTO doctor_probe VALUES (1)")
        ok = mode.lower() == "wal"
        checks = [Check("state", ok, f"{settings.db_path} (journal_mode={mode})")]
        found = db.problems()  # PRAGMA quick_check and the schema's tables
        detail = "; ".join(found[:5]) if found else "quick_check ok, schema complete"
        if found:
            detail += "; move the file aside and a new one is created"
        return [*checks, Check("state integrity", not found, f"{settings.db_path}: {detail}")]
    except Exception as exc:  # any SQLite failure is the finding itself
        return [Check("state", False, f"{settings.db_path}: {exc}")]
    finally:
        db.close()


def _credential_checks(settings: Settings) -> list[Check]:
    db = open_database(settings.db_path)
    try:
        rows = credential_report(settings, CredentialStateStore(db))
    finally:
        db.close()
    checks = []
    for row in rows:
        state = row["state"]
        detail = f"{row['label']} ({row['credential']}): {state}"
        if state == "cooling":
            detail += f" until {row['cooldown_until']} after {row['last_class']}"
        elif state == "dead":
            detail += f" after {row['last_class']}; `hermes-mcp providers --reset` revives it"
        checks.append(Check(f"credential {row['provider']}", state != "dead", detail))
    return checks


async def _probe(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    async with open_runtime(settings) as runtime:
        routes = [] if settings.config.model is None else settings.chain
        for route in routes:
            provider = runtime.router.providers[route.provider]
            for cred in provider.pool.credentials:
                name = f"probe {route.provider}:{route.model}"
                started = time.perf_counter()
                try:
                    await provider.send(PROBE, route.model, cred)
                except ProviderError as err:
                    detail = f"{cred.label}: {err.failure_class.value} ({err.status}): "
                    checks.append(Check(name, False, detail + err.message[:200]))
                    continue
                ms = (time.perf_counter() - started) * 1000
                checks.append(Check(name, True, f"{cred.label}: answered in {ms:.0f} ms"))
    return checks


async def _agent_check(settings: Settings) -> list[Check]:
    """Open what ``run`` opens (runtime: router; a session: tools, policy) without running
    a turn: a config ``run`` rejects (a rule, a toolset, a provider) raises ConfigError
    here. The session is deleted again. Returns what is known of each chain model's price
    (a budget counts only those)."""
    async with open_runtime(settings) as runtime:
        session = await runtime.create_session(Path.cwd(), title="hermes-mcp doctor")
        await session.close()
        await runtime.store.delete(session.id)
        checks = []
        for route in settings.chain:
            profile = runtime.router.profile(route)
            if profile.input_per_mtok is None or profile.output_per_mtok is None:
                detail = f"warning: {no_price_reason(route)}"
            else:
                detail = (
                    f"${profile.input_per_mtok:g} in / ${profile.output_per_mtok:g} out "
                    "per million tokens"
                )
            checks.append(Check(f"price {route}", True, detail))
        return checks


def _skill_checks(settings: Settings) -> list[Check]:
    from tools.skills import discover, skill_roots

    found = discover(skill_roots(settings.home, [Path.cwd()]))
    names = ", ".join(found.names) or "none"
    checks = [Check("skills", True, f"{len(found.skills)} found: {names}")]
    checks += [Check("skill", False, f"skipped {problem}") for problem in found.problems]
    for lost in found.shadowed:
        winner = found.get(lost.name)
        where = winner.folder if winner is not None else "another root"
        detail = f"warning: {lost.folder} is shadowed by {where} (same name; the first root wins)"
        checks.append(Check("skill", True, detail))
    return checks


async def run_doctor(probe: bool) -> tuple[list[Check], int]:
    """All checks, and the exit code: 0 all good, 1 a problem, 2 a configuration error."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return [Check("config", False, str(exc))], 2
    if settings.config.model is None:
        return [Check("config", False, f"{settings.source}: model: no [model] section")], 2
    checks = [Check("config", True, describe(settings))]  # the file, or the env's chain
    checks += [Check("config", False, warning) for warning in settings.warnings]
    checks += _state_checks(settings)
    if not all(c.ok for c in checks if c.name.startswith("state")):
        return checks, 1
    try:
        prices = await _agent_check(settings)
    except ConfigError as exc:
        checks.append(Check("agent", False, str(exc)))
        return checks, 2
    checks.append(Check("agent", True, f"toolsets {', '.join(settings.config.agent.toolsets)}"))
    checks += prices
    for name, creds in settings.credentials.items():
        section = settings.config.providers[name]
        checks.append(
            Check(
                f"provider {name}",
                True,
                f"{section.wire} at {section.base_url}, {len(creds)} distinct credential(s)",
            )
        )
    checks += _credential_checks(settings)
    checks += [Check(*row) for row in await check_servers(settings)]  # [mcp_servers]
    checks += _skill_checks(settings)
    if probe:
        try:
            checks += await _probe(settings)
        except HermesError as exc:
            checks.append(Check("probe", False, str(exc)))
    return checks, 0 if all(c.ok for c in checks) else 1


def format_checks(checks: list[Check]) -> str:
    return "\n".join(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {redact(c.detail)}" for c in checks)
