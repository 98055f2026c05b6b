"""Text made safe to print to a terminal: no control sequences.

Model answers and stored tool results are untrusted text. Printed raw, an escape
sequence can clear the screen, retitle the window, rewrite earlier lines or (OSC 52)
write the user's clipboard. :func:`strip_controls` removes every ANSI escape sequence
(CSI, OSC, DCS, SOS, PM, APC, and two-byte escapes, in their 7-bit and 8-bit forms) and
every other C0/C1 control character except tab and line feed; a carriage return not
followed by a line feed (which would let later text overwrite a line) goes too.
JSON output needs none of this: ``json.dumps`` escapes control characters.
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC...
    r"|\x1b[ -/]*[0-~]"  # other escapes
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|\r(?!\n)")


def strip_controls(text: str) -> str:
    """``text`` without terminal control sequences (see the module docstring)."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))
