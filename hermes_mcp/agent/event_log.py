"""A turn's event log: the events as they are emitted, waiting for the next store write.

What a row of the ``events`` table holds is ``encode(event)``: ``event.to_json()`` (the
union's codec, ``events.py``) run through the redaction every event leaving the process
gets (live events are redacted at their source already; this is the same function
applied once more, so a stored row never holds more than the live event). Replay
decodes it with ``events.decode_event``.
"""

from __future__ import annotations

from typing import Any

from hermes_mcp.agent.events import Event, TextDelta, ThoughtDelta
from hermes_mcp.log import redact_value


def encode(event: Event) -> dict[str, Any]:
    encoded: dict[str, Any] = redact_value(event.to_json())
    return encoded


class EventLog:
    """A turn's events as they are emitted, waiting for the next store write.

    Consecutive text deltas (and thought deltas) are coalesced into one event: replay
    gives the text in one piece, not the provider's chunking. Each store write of the
    turn (assistant message, tool result, turn end) takes what is pending, in the same
    transaction: the log is as durable as the messages.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[int, Event]] = []
        self._seq = 0  # the order of emission (writes of one turn may commit out of order)

    def add(self, event: Event) -> None:
        last = self._pending[-1] if self._pending else None
        match last, event:
            case (seq, TextDelta(text=before)), TextDelta(text=after):
                self._pending[-1] = (seq, TextDelta(before + after))
            case (seq, ThoughtDelta(text=before)), ThoughtDelta(text=after):
                self._pending[-1] = (seq, ThoughtDelta(before + after))
            case _:
                self._seq += 1
                self._pending.append((self._seq, event))

    def take(self) -> list[tuple[int, dict[str, Any]]]:
        """The pending events as ``(seq, encoded)``, oldest first; the log is left empty."""
        taken, self._pending = self._pending, []
        return [(seq, encode(event)) for seq, event in taken]
