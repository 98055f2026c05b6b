"""The ACP edge: Hermes as an Agent Client Protocol agent (Zed, JetBrains, Neovim).

``run_acp_stdio()`` serves it over stdin/stdout (``hermes-acp``, ``hermes-mcp serve
--protocol acp``). Handlers in ``agent.py`` (light) and ``live.py`` (what needs the
runtime), the one event → update translation in ``mapping.py``, prompt content in
``content.py``, modes/options/commands in ``options.py``, slash commands in ``slash.py``,
permissions in ``permissions.py``, the editor's files and terminal in ``editor.py``, the
wire in ``wire.py``, ``hermes-acp --setup`` in ``setup.py``.
"""

from __future__ import annotations


def run_acp_stdio(*, prefix: bytes = b"") -> int:
    """Serve ACP over stdin/stdout until EOF (see ``acp_adapter.stdio``)."""
    from acp_adapter.stdio import run_acp_stdio as run

    return run(prefix=prefix)


__all__ = ["run_acp_stdio"]
