"""Will the server a client starts find its keys? ``install`` asks before it is done.

Claude Desktop, and editors started from the dock, start their servers with a minimal
environment: ``HOME``, ``PATH`` and what the entry's ``env`` names. A credential that is
an ``env:`` reference to a variable set in a shell profile resolves in the terminal and
nowhere else, and the zero-config chain (no config file, keys from the environment) is
empty there. :func:`desktop_problems` loads the configuration the way that server will
and says, for each credential that cannot resolve, what to do.
"""

from __future__ import annotations

from collections.abc import Mapping

from hermes_mcp.config import config_path, load_settings
from hermes_mcp.errors import ConfigError
from hermes_mcp.zero_config import detect

# What a desktop client's server gets besides the entry's own ``env``.
MINIMAL_PATH = "/usr/bin:/bin"


def minimal_env(env: Mapping[str, str], entry_env: Mapping[str, str]) -> dict[str, str]:
    """The environment a desktop client starts our server with."""
    out = {"HOME": env.get("HOME", ""), "PATH": MINIMAL_PATH}
    out.update(entry_env)
    return out


def desktop_problems(title: str, env: Mapping[str, str], entry_env: Mapping[str, str]) -> list[str]:
    """What stops the server ``title`` starts from answering a turn, each with what to do;
    empty when every credential resolves there."""
    bare = minimal_env(env, entry_env)
    where = f"{title} starts hermes with only HOME and PATH set"
    try:
        settings = load_settings(env=bare, environ=bare, required=True)
        settings.chain  # noqa: B018  (raises ConfigError when [model] is missing)
    except ConfigError as exc:
        if not config_path(bare).exists():
            here = [v for c in detect(env) for v in c.variables]
            seen = f" (here: {', '.join(here)})" if here else ""
            return [
                f"there is no config file, and {where}: it will see no API key variable{seen}. "
                "Run `hermes-mcp setup` (it keeps the keys in 0600 files hermes reads), then "
                f"restart {title}."
            ]
        problems = [f"{key}: {problem}" if key else problem for key, problem in exc.problems]
        if any("environment variable" in p for p in problems):
            problems.append(
                f"{where}: keep each key in a file only you can read (chmod 600) and name it "
                "file:PATH in the config (`hermes-mcp setup` does this for a new config), "
                "or put the variable in the entry's env"
            )
        return problems
    return []
