"""``hermes-acp [--setup]``: the ACP agent over stdio (the ACP registry's entry point)."""

from __future__ import annotations

import argparse
import sys

from hermes_mcp import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hermes-acp",
        description="Hermes as an Agent Client Protocol agent over stdin/stdout.",
    )
    parser.add_argument(
        "--setup", action="store_true", help="write a starter config (asks two questions)"
    )
    parser.add_argument("--version", action="version", version=f"hermes-acp {__version__}")
    args = parser.parse_args(argv)
    if args.setup:
        from acp_adapter.setup import run_setup

        return run_setup()
    import logging

    from acp_adapter import run_acp_stdio

    logging.captureWarnings(True)  # warnings as JSON log lines on stderr, not raw text
    return run_acp_stdio()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
