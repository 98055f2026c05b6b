"""The provider router: wire formats, credential pools, and the fallback chain.

Imports no protocol edge (``mcp``, ``acp``) and nothing from ``agent/`` or ``tools/``.
"""
