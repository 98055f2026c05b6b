"""The JSON-RPC errors the ACP edge answers with for a configuration problem (a small
module of its own: the handlers raise them before the runtime, or the mapper, loads)."""

from __future__ import annotations

from acp import RequestError

NOT_CONFIGURED = -32000  # ACP's "authentication required": run the setup (authMethods)


def config_error(problem: str, **data: object) -> RequestError:
    """A configuration problem (no config file, a bad one, a key that cannot be read):
    ``-32000`` with the reason itself as the message, which is what an editor shows, and
    the ``setup`` auth method offered (never ``-32602`` "Invalid params")."""
    return RequestError(
        NOT_CONFIGURED,
        problem,
        {"class": "config", "message": problem, **data, "authMethod": "setup"},
    )
