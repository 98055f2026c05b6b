"""Zero-config start: with no config file, the well-known API key variables that are set
become a default model chain (``env_chain.py``, which ``config.load_settings`` reads),
and ``hermes-mcp setup`` writes that chain down. The chain is announced once per process
on stderr (``config.zero``) and shown by ``doctor`` (:func:`describe`).

Only the default location counts as "no config file": a missing ``$HERMES_MCP_CONFIG``
or ``--config`` is still an error, since someone asked for that file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

from hermes_mcp.config import Settings, config_path, parse_config
from hermes_mcp.env_chain import KEY_VARIABLES as KEY_VARIABLES
from hermes_mcp.env_chain import KNOWN as KNOWN
from hermes_mcp.env_chain import ChosenProvider as ChosenProvider
from hermes_mcp.env_chain import KnownProvider as KnownProvider
from hermes_mcp.env_chain import base_url_variable as base_url_variable
from hermes_mcp.env_chain import config_data as config_data
from hermes_mcp.env_chain import detect as detect
from hermes_mcp.errors import ConfigError, UsageError


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


def render_config(chosen: list[ChosenProvider]) -> str:
    """The chain as a commented ``config.toml``."""
    lines = [
        "# hermes-mcp configuration, written by `hermes-mcp setup` from the API key",
        "# variables set at the time. Edit freely; see the README's Configuration section.",
        "# Credentials are references (env:NAME, file:PATH): no key is stored here. List",
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
            f"wire = {_toml(c.wire)}",
            f"base_url = {_toml(c.base_url)}"
            + (f"  # from {base_url_variable(c.known.name)}" if c.overridden else ""),
            "credentials = [" + ", ".join(_toml(f"env:{v}") for v in c.variables) + "]",
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


def write_starter_config(path: Path, env: Mapping[str, str] | None = None) -> Path:
    """Write the chain from the environment to ``path``; never overwrites.

    Raises :class:`UsageError` when the file exists or no key variable is set. For
    ``hermes-mcp setup`` and ``hermes-acp --setup``.
    """
    env = os.environ if env is None else env
    chosen = detect(env)
    if not chosen:
        names = ", ".join(KEY_VARIABLES)
        raise UsageError(f"no API key variable is set (one of {names}); set one and run again")
    text = render_config(chosen)
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


def cmd_setup(out: Callable[[str], None], env: Mapping[str, str] | None = None) -> int:
    """``hermes-mcp setup``: write the starter config where hermes looks for it."""
    env = os.environ if env is None else env
    path = write_starter_config(config_path(dict(env)), env)
    chain = " → ".join(c.ref for c in detect(env))
    out(f"wrote {path}: {chain}")
    return 0
