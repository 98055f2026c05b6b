"""``hermes-acp --setup``: write a starter config after asking two questions.

The ACP registry's ``terminal`` auth method: the editor runs ``hermes-acp --setup`` in a
terminal. It asks which provider and which environment variable holds its key, then
writes ``config.toml`` (``$HERMES_MCP_CONFIG``, or ``$HERMES_MCP_HOME/config.toml``)
naming that variable (``env:NAME``: the key itself is never written). An existing config
is never overwritten: setup says where it is and stops. A later ``hermes-mcp setup`` can
reuse :func:`starter_config` and :func:`write_starter`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hermes_mcp.config import config_path


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    wire: str
    base_url: str
    model: str
    key_var: str | None  # None: no key (a local server)


PROVIDERS: tuple[ProviderChoice, ...] = (
    ProviderChoice(
        "openrouter",
        "openai",
        "https://openrouter.ai/api/v1",
        "anthropic/claude-sonnet-4",
        "OPENROUTER_API_KEY",
    ),
    ProviderChoice("openai", "openai", "https://api.openai.com/v1", "gpt-4o", "OPENAI_API_KEY"),
    ProviderChoice(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "claude-sonnet-4-20250514",
        "ANTHROPIC_API_KEY",
    ),
    ProviderChoice(
        "gemini",
        "gemini",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-pro",
        "GEMINI_API_KEY",
    ),
    ProviderChoice("local", "openai", "http://127.0.0.1:11434/v1", "qwen3:8b", None),
)
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def starter_config(choice: ProviderChoice, key_var: str | None) -> str:
    credentials = f'["env:{key_var}"]' if key_var else '["none"]'
    return (
        "# Written by hermes-acp --setup. See the README for every key.\n"
        "[model]\n"
        f'default = "{choice.name}:{choice.model}"\n'
        "fallbacks = []\n\n"
        f"[providers.{choice.name}]\n"
        f'wire = "{choice.wire}"\n'
        f'base_url = "{choice.base_url}"\n'
        f"credentials = {credentials}\n\n"
        "[policy]\n"
        'mode = "ask"\n'
    )


def write_starter(path: Path, text: str) -> bool:
    """Create ``path`` with ``text``; False (nothing written) when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    return True


def run_setup(
    ask: Callable[[str], str] | None = None,
    out: TextIO | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """The interactive setup; returns the exit code (0 written or already there, 2 bad
    answers or no input)."""
    out = out or sys.stdout
    env = dict(os.environ) if env is None else env
    ask = ask or input
    target = config_path(env)
    if target.exists():
        out.write(f"{target} already exists; not overwritten. Edit it, or move it away first.\n")
        return 0
    out.write("Which provider?\n")
    for i, p in enumerate(PROVIDERS, 1):
        out.write(f"  {i}. {p.name} ({p.model})\n")
    try:
        answer = ask(f"provider [1-{len(PROVIDERS)}, default 1]: ").strip() or "1"
        by_name = {p.name: p for p in PROVIDERS}
        if answer in by_name:
            choice = by_name[answer]
        elif answer.isdigit() and 1 <= int(answer) <= len(PROVIDERS):
            choice = PROVIDERS[int(answer) - 1]
        else:
            out.write(f"no provider {answer!r}\n")
            return 2
        key_var = choice.key_var
        if key_var is not None:
            given = ask(f"environment variable holding the key [{key_var}]: ").strip()
            key_var = given or key_var
            if not _VAR.match(key_var):
                out.write(f"{key_var!r} is not an environment variable name\n")
                return 2
    except EOFError:
        out.write("\nno answer; nothing written\n")
        return 2
    if not write_starter(target, starter_config(choice, key_var)):
        out.write(f"{target} already exists; not overwritten.\n")
        return 0
    out.write(f"wrote {target}\n")
    if key_var is not None and not env.get(key_var):
        out.write(f"note: {key_var} is not set here; set it where the editor starts hermes-acp\n")
    return 0
