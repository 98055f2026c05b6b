"""The environment terminal commands start with: the user's, less every credential.

A provider key in the environment reaches every command the model runs, and exact-text
redaction of the output cannot stop ``printenv KEY | base64``. So the key never gets
there: :func:`scrubbed_environment` drops every variable

- whose name says it holds a credential (``*KEY*``, ``*TOKEN*``, ``*SECRET*``,
  ``*PASSWORD*``/``*PASSWD*``, ``*CREDENTIAL*``, ``*AUTH*``, ``*COOKIE*``,
  ``*SESSION*``, ``*PRIVATE*``, ``*_PAT``, case-insensitive, plus a few well-known
  names such as ``DATABASE_URL`` that carry passwords), and
- whose value contains a secret the config resolved (``hermes_mcp.log``'s registry),
  whatever the variable is called.

What this cannot stop: a command can still read a key from a file it may read (the
policy and the sensitive-file rules decide that), and on systems where the hermes
process's own ``/proc/<pid>/environ`` is readable, from there — :func:`harden_process`
makes the process non-dumpable on Linux, which makes those files unreadable to other
processes of the same (non-root) user.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
from collections.abc import Mapping

from hermes_mcp.log import contains_secret

_CREDENTIAL_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE"
    r"|_PAT$|^PAT_|_DSN$|^DATABASE_URL$|_CONN(ECTION)?_STR",
    re.IGNORECASE,
)
# Names that match the pattern above but hold nothing secret and that commands need.
_KEEP = frozenset({"SSH_AUTH_SOCK", "XDG_SESSION_TYPE", "XDG_SESSION_ID", "XDG_SESSION_CLASS"})


def is_credential_name(name: str) -> bool:
    return name not in _KEEP and _CREDENTIAL_NAME.search(name) is not None


def scrubbed_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment when ``None``) without any variable named
    like a credential or holding a registered secret."""
    source = os.environ if base is None else base
    return {
        name: value
        for name, value in source.items()
        if not is_credential_name(name) and not contains_secret(value)
    }


_PR_SET_DUMPABLE = 4
_hardened = False


def harden_process() -> None:
    """Once per process on Linux: ``prctl(PR_SET_DUMPABLE, 0)``, so the commands this
    process starts (same user) cannot read its ``/proc/<pid>/environ`` or memory, where
    the keys it was started with live. No effect for commands run as root."""
    global _hardened
    if _hardened or not sys.platform.startswith("linux"):
        return
    _hardened = True
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
