"""``hermes-acp --setup``: write a starter config after asking two questions.

The ACP registry's ``terminal`` auth method: the editor runs ``hermes-acp --setup`` in a
terminal. It asks which provider (the zero-config list and models) and which environment
variable holds its key, then writes ``config.toml`` (``$HERMES_MCP_CONFIG``, or
``$HERMES_MCP_HOME/config.toml``). When the variable is set, the key is kept in a 0600
file under ``$HERMES_MCP_HOME/keys`` and the config names it (``file:PATH``), since an
editor started from the dock passes no shell variables; else the config names the
variable (``env:NAME``). The key is never written into the config. An existing config
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

from hermes_mcp.config import config_path, home_dir
from hermes_mcp.key_files import store_key
from hermes_mcp.zero_config import KNOWN


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    wire: str
    base_url: str
    model: str
    key_var: str | None  # None: no key (a local server)


# The providers offered, in the zero-config order and on the same models as
# `hermes-mcp setup` (one list: zero_config.KNOWN), then a local server.
PROVIDERS: tuple[ProviderChoice, ...] = (
    *(ProviderChoice(k.name, k.wire, k.base_url, k.model, k.variables[0]) for k in KNOWN),
    ProviderChoice("local", "openai", "http://127.0.0.1:11434/v1", "qwen3:8b", None),
)
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def starter_config(
    choice: ProviderChoice, key_var: str | None, key_file: Path | None = None
) -> str:
    """The config text; the credential is ``key_file`` (``file:``) when the key was
    stored, else the variable (``env:``), else ``none`` (a local server)."""
    if key_file is not None:
        credentials = f'["file:{key_file}"]'
    else:
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
    # An editor started from the dock gives hermes only HOME and PATH: a key set here is
    # kept in a 0600 file of ours that the config names, as `hermes-mcp setup` does.
    key_file = None
    if key_var is not None and env.get(key_var, "").strip():
        key_file = store_key(home_dir(env), key_var, env[key_var])
    if not write_starter(target, starter_config(choice, key_var, key_file)):
        out.write(f"{target} already exists; not overwritten.\n")
        return 0
    out.write(f"wrote {target}\n")
    if key_file is not None:
        out.write(f"stored {key_var} in {key_file} (readable by you only)\n")
    elif key_var is not None:
        out.write(
            f"note: {key_var} is not set here; set it and run `hermes-mcp setup`, or set it "
            "where the editor starts hermes\n"
        )
    return 0
