"""File and terminal back-ends: the interfaces (``base``) and their local
implementations (``local_files``, ``local_terminal``). Everything is re-exported here,
so ``from tools.backends import LocalTerminal`` keeps working."""

from tools.backends.base import (
    BinaryFileError,
    CommandOutcome,
    FileBackend,
    FileTooLargeError,
    OutputCallback,
    StartedCallback,
    TerminalBackend,
    TerminalStarted,
)
from tools.backends.local_files import LocalFiles
from tools.backends.local_terminal import KILL_GRACE_S, LocalTerminal, signal_name

__all__ = [
    "KILL_GRACE_S",
    "BinaryFileError",
    "CommandOutcome",
    "FileBackend",
    "FileTooLargeError",
    "LocalFiles",
    "LocalTerminal",
    "OutputCallback",
    "StartedCallback",
    "TerminalBackend",
    "TerminalStarted",
    "signal_name",
]
