"""Zero-config start: with no config file, the well-known API key variables that are set
become a default model chain, and ``hermes-mcp setup`` writes that chain down.

Each known variable names a provider (wire, endpoint, a default model). The chain is
those providers in the order of :data:`KNOWN` (direct vendors first, then aggregators),
each on its default model; with no config file the credentials are ``env:NAME``
references. ``setup`` copies each key it finds to a 0600 file of ours
(:mod:`hermes_mcp.key_files`) and writes ``file:PATH`` references, so that a server a
desktop client starts with only ``HOME`` and ``PATH`` still finds them (``setup
--env-refs`` writes ``env:NAME`` instead).

``HERMES_MCP_<PROVIDER>_BASE_URL`` (``HERMES_MCP_OPENAI_BASE_URL``, ...) points a
default provider at another endpoint: a local proxy, or the loopback fake in tests. The
chain is announced once per process on stderr (``config.zero``) and shown by
``doctor``.

Only the default location counts as "no config file": a missing ``$HERMES_MCP_CONFIG``
or ``--config`` is still an error, since someone asked for that file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hermes_mcp.config import (
    Settings,
    config_path,
    home_dir,
    parse_config,
    resolve_credentials,
)
from hermes_mcp.errors import ConfigError, UsageError
from hermes_mcp.key_files import store_keys
from hermes_mcp.log import get_logger


@dataclass(frozen=True)
class KnownProvider:
    name: str
    variables: tuple[str, ...]  # any of these set enables it (all set: a pool)
    wire: str
    base_url: str
    model: str
    note: str


# Order = chain order. Models: each vendor's current general model with tool calling
# (checked against genai-prices' data, which prices each of them; mistral and deepseek
# by their API's alias for the latest).
KNOWN: tuple[KnownProvider, ...] = (
    KnownProvider("anthropic", ("ANTHROPIC_API_KEY",), "anthropic",
                  "https://api.anthropic.com", "claude-sonnet-5-5", "Anthropic"),
    KnownProvider("openai", ("OPENAI_API_KEY",), "openai",
                  "https://api.openai.com/v1", "gpt-5.5", "OpenAI"),
    KnownProvider("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gemini",
                  "https://generativelanguage.googleapis.com", "gemini-3.8-flash",
                  "Google Gemini (AI Studio key)"),
    KnownProvider("openrouter", ("OPENROUTER_API_KEY",), "openai",
                  "https://openrouter.ai/api/v1", "anthropic/claude-sonnet-5.5", "OpenRouter"),
    KnownProvider("deepseek", ("DEEPSEEK_API_KEY",), "openai",
                  "https://api.deepseek.com/v1", "deepseek-chat", "DeepSeek"),
    KnownProvider("mistral", ("MISTRAL_API_KEY",), "openai",
                  "https://api.mistral.ai/v1", "mistral-large-latest", "Mistral"),
    KnownProvider("xai", ("XAI_API_KEY",), "openai",
                  "https://api.x.ai/v1", "grok-4.7", "xAI"),
    KnownProvider("groq", ("GROQ_API_KEY",), "openai",
                  "https://api.groq.com/openai/v1", "openai/gpt-oss-120b", "Groq"),
)  # fmt: skip

KEY_VARIABLES: tuple[str, ...] = tuple(v for p in KNOWN for v in p.variables)

_announced = False


def base_url_variable(provider: str) -> str:
    return f"HERMES_MCP_{provider.upper()}_BASE_URL"


@dataclass(frozen=True)
class ChosenProvider:
    known: KnownProvider
    variables: tuple[str, ...]  # the ones that are set
    base_url: str
    overridden: bool  # base_url came from HERMES_MCP_<NAME>_BASE_URL

    @property
    def ref(self) -> str:
        return f"{self.known.name}:{self.known.model}"


def detect(env: Mapping[str, str]) -> list[ChosenProvider]:
    """The known providers whose key variables are set, in chain order."""
    chosen = []
    for known in KNOWN:
        present = tuple(v for v in known.variables if env.get(v, "").strip())
        if not present:
            continue
        override = env.get(base_url_variable(known.name), "").strip()
        chosen.append(ChosenProvider(known, present, override or known.base_url, bool(override)))
    return chosen


def config_data(chosen: list[ChosenProvider]) -> dict[str, object]:
    """The chain as the config file's data (what ``parse_config`` validates)."""
    providers = {
        c.known.name: {
            "wire": c.known.wire,
            "base_url": c.base_url,
            "credentials": [f"env:{v}" for v in c.variables],
        }
        for c in chosen
    }
    refs = [c.ref for c in chosen]
    return {"model": {"default": refs[0], "fallbacks": refs[1:]}, "providers": providers}


def zero_config_settings(home: Path, env: Mapping[str, str]) -> Settings | None:
    """Settings built from the key variables that are set, or None when none is."""
    chosen = detect(env)
    if not chosen:
        return None
    where = "environment (no config file)"
    config = parse_config(config_data(chosen), where)
    settings = Settings(config, None, home, resolve_credentials(config, where, environ=env))
    _announce(chosen)
    return settings


def _announce(chosen: list[ChosenProvider]) -> None:
    global _announced
    if _announced:
        return
    _announced = True
    get_logger("hermes_mcp.config").info(
        "config.zero",
        message="no config file: using the API keys in the environment",
        chain=[c.ref for c in chosen],
        keys=[v for c in chosen for v in c.variables],
        hint="`hermes-mcp setup` writes this chain to a config.toml you can edit",
    )


def is_zero_config(settings: Settings) -> bool:
    return settings.source is None and settings.config.model is not None


def describe(settings: Settings) -> str:
    """One line for ``doctor``: the chain built from the environment."""
    if not is_zero_config(settings):
        return str(settings.source)
    parts = []
    for ref in settings.chain:
        section = settings.config.providers[ref.provider]
        keys = ", ".join(c.removeprefix("env:") for c in section.credentials)
        parts.append(f"{ref} ({keys} at {section.base_url})")
    return "no config file; chain from the environment: " + " → ".join(parts)


# --- hermes-mcp setup ---------------------------------------------------------------


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _refs(c: ChosenProvider, stored: Mapping[str, Path] | None) -> list[str]:
    if stored is None:
        return [f"env:{v}" for v in c.variables]
    return [f"file:{stored[v]}" for v in c.variables]


def render_config(chosen: list[ChosenProvider], stored: Mapping[str, Path] | None = None) -> str:
    """The chain as a commented ``config.toml``; ``stored``: variable → the key file
    holding its value (``file:`` references), else ``env:`` references."""
    where = "0600 files of ours (file:PATH)" if stored else "env:NAME references"
    lines = [
        "# hermes-mcp configuration, written by `hermes-mcp setup` from the API key",
        "# variables set at the time. Edit freely; see the README's Configuration section.",
        f"# Credentials are {where}: no key is written in this file. List",
        "# several in one provider to make a pool that rotates.",
        "",
        "[model]",
        "# The first model answers; the fallbacks are tried in order when it cannot.",
        f"default = {_toml(chosen[0].ref)}",
        "fallbacks = [" + ", ".join(_toml(c.ref) for c in chosen[1:]) + "]",
    ]
    for c in chosen:
        lines += [
            "",
            f"# {c.known.note}: {', '.join(c.variables)}",
            f"[providers.{c.known.name}]",
            f"wire = {_toml(c.known.wire)}",
            f"base_url = {_toml(c.base_url)}"
            + (f"  # from {base_url_variable(c.known.name)}" if c.overridden else ""),
            "credentials = [" + ", ".join(_toml(r) for r in _refs(c, stored)) + "]",
        ]
    unused = [k for k in KNOWN if k.name not in {c.known.name for c in chosen}]
    if unused:
        lines += ["", "# Also known (set the variable, or add the section by hand):"]
        lines += [f"#   {k.name}: {', '.join(k.variables)} → {k.model}" for k in unused]
    lines += [
        "",
        "# [agent]      max_iterations, max_duration_s, max_cost_usd, toolsets",
        '# [policy]     mode = "ask" | "accept_edits" | "auto", allow = [...], deny = [...]',
        "# [delegation] max_concurrency, max_depth",
    ]
    return "\n".join(lines) + "\n"


def write_starter_config(
    path: Path, env: Mapping[str, str] | None = None, *, store: bool = True
) -> Path:
    """Write the chain from the environment to ``path``; never overwrites. ``store``:
    copy each key to its 0600 file under ``$HERMES_MCP_HOME/keys`` and reference those
    (what a desktop client's server can read); else reference the variables.

    Raises :class:`UsageError` when the file exists or no key variable is set. For
    ``hermes-mcp setup`` and ``hermes-acp --setup``.
    """
    env = os.environ if env is None else env
    chosen = detect(env)
    if not chosen:
        raise UsageError(no_key_message())
    if path.exists():
        raise UsageError(f"{path} exists; it was left as it is (edit it, or move it away)")
    stored = None
    if store:
        variables = [v for c in chosen for v in c.variables]
        stored = store_keys(home_dir(dict(env)), variables, env)
    text = render_config(chosen, stored)
    parse_config(tomllib.loads(text), str(path))  # what we write must load
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x") as out:  # exclusive: never replaces a file, even a new one
            out.write(text)
    except FileExistsError:
        raise UsageError(
            f"{path} exists; it was left as it is (edit it, or move it away)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", file=str(path)) from None
    return path


def no_key_message() -> str:
    """What to do when there is neither a config file nor a key variable: the same
    words on every surface (the CLI, MCP, ACP)."""
    names = ", ".join(KEY_VARIABLES)
    return (
        f"no API key: set one of {names} and run `hermes-mcp setup`, which writes a "
        "config file (and keeps the keys in 0600 files that desktop clients can read)"
    )


def cmd_setup(
    out: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    *,
    store: bool = True,
) -> int:
    """``hermes-mcp setup``: write the starter config where hermes looks for it."""
    env = os.environ if env is None else env
    path = write_starter_config(config_path(dict(env)), env, store=store)
    chosen = detect(env)
    chain = " → ".join(c.ref for c in chosen)
    out(f"wrote {path}: {chain}")
    if store:
        keys = ", ".join(v for c in chosen for v in c.variables)
        where = home_dir(dict(env)) / "keys"
        out(f"stored {keys} in {where} (readable by you only); the config reads them there")
    return 0
