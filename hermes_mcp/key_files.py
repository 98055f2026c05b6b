"""The key files ``hermes-mcp setup`` writes: each API key it finds in the environment,
copied to ``$HERMES_MCP_HOME/keys/<VARIABLE>`` (the directory 0700, the file 0600), so
that the config can name it as ``file:PATH``.

Why copy a key at all: Claude Desktop, and Zed started from the dock, start their
servers with a minimal environment (``HOME``, ``PATH``), so an ``env:`` reference set in
a shell profile resolves in the terminal and nowhere else. Writing the key into the
client's own config file would put it where other tools read and sync it. A file of
ours, readable by its owner only, is what the desktop server can read and nothing else
needs to.

What a file mode cannot stop: any process running as the same user reads it, as it
reads the shell profile the key came from.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from hermes_mcp.errors import ConfigError

KEYS_DIR = "keys"


def keys_dir(home: Path) -> Path:
    return home / KEYS_DIR


def store_key(home: Path, variable: str, value: str) -> Path:
    """Write one key to ``home/keys/<variable>`` (0600, replacing an older copy
    atomically) and return its absolute path. The directory is made 0700."""
    directory = keys_dir(home).absolute()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(directory.stat().st_mode) & 0o077:
            directory.chmod(0o700)
        target = directory / variable
        temp = directory / f".{variable}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(value.strip() + "\n")
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(
            f"cannot write the key file: {exc.strerror}", file=str(directory)
        ) from None
    return target


def store_keys(home: Path, variables: list[str], env: Mapping[str, str]) -> dict[str, Path]:
    """Each named variable's value written to its key file: variable → path."""
    return {name: store_key(home, name, env[name]) for name in variables}


def loose_mode(path: Path) -> bool:
    """Whether a key file can be read by anyone but its owner."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    except OSError:
        return False
