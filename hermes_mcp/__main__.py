"""The ``hermes-mcp`` console script (and ``python -m hermes_mcp``).

A thin door to :mod:`hermes_mcp.cli`: importing the command line takes a few hundred
milliseconds, and Ctrl-C in that time used to print a 25-line traceback from deep in
some import. Here it ends the process quietly with 130, as Ctrl-C does everywhere else
in the command line. The package's ``__init__`` imports nothing (its ``__version__`` is
read when asked for), so this module is reached at once.
"""

from __future__ import annotations

import sys

EXIT_CANCELLED = 130


def main() -> int:
    try:
        from hermes_mcp.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
