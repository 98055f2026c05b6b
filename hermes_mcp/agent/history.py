"""A live session's conversation for the model, held in memory.

The database is read once, when the session is loaded (``SessionStore.history``); each
message of a turn is appended here as it is stored, so a turn costs the same at message
2,000 as at message 2. Each entry keeps its message, its row id in ``messages`` (``None``
for a placeholder result that exists only for the model), its turn and its token
estimate, so the size of the next request is a sum kept up to date, not a walk.

``summary`` is the text of the last compaction (``compaction.py``): the model sees it as
the first message, before the messages kept after the compaction's boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hermes_mcp.llm.types import Message, ToolDef

#: Characters a token is taken to stand for (a cautious average over prose and code).
CHARS_PER_TOKEN = 3.5
#: What a message costs beyond its text (role, ids, framing), in characters.
MESSAGE_OVERHEAD = 24

SUMMARY_HEAD = (
    "[Context compacted: the earlier conversation is summarised below, written by a model "
    "when the conversation grew too long for its context window. The full transcript is "
    "kept; the messages after this one are verbatim.]"
)


def message_tokens(message: Message) -> int:
    chars = len(message.content) + MESSAGE_OVERHEAD
    if message.tool_call_id:
        chars += len(message.tool_call_id) + len(message.name or "")
    for call in message.tool_calls:
        chars += len(call.id) + len(call.name) + len(json.dumps(call.arguments)) + 24
    chars += sum(len(image.data) // 3 for image in message.images)  # base64 → bytes-ish
    return int(chars / CHARS_PER_TOKEN) + 1


def fixed_tokens(system: str, tools: Iterable[ToolDef]) -> int:
    """The system prompt's and the tool definitions' share of a request."""
    chars = len(system) + MESSAGE_OVERHEAD
    for tool in tools:
        chars += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters)) + 24
    return int(chars / CHARS_PER_TOKEN) + 1


def summary_message(summary: str) -> Message:
    return Message.user(f"{SUMMARY_HEAD}\n\n<summary>\n{summary}\n</summary>")


@dataclass
class Entry:
    message: Message
    id: int | None  # the row in ``messages``; None: a placeholder only the model sees
    turn: int
    tokens: int


class History:
    """See the module docstring."""

    def __init__(self, entries: Iterable[Entry] = (), summary: str | None = None) -> None:
        self.entries: list[Entry] = list(entries)
        self.summary = summary
        self.images = any(e.message.images for e in self.entries)  # any image to send?
        self._summary_tokens = 0 if summary is None else message_tokens(summary_message(summary))
        self._tokens = sum(e.tokens for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    @property
    def tokens(self) -> int:
        """The estimated tokens of :meth:`messages`."""
        return self._tokens + self._summary_tokens

    def append(self, message: Message, *, id: int | None, turn: int) -> Entry:
        """Add a message; the entry (its ``id`` may be set once the store has it)."""
        entry = Entry(message, id, turn, message_tokens(message))
        self.entries.append(entry)
        self._tokens += entry.tokens
        if message.images:
            self.images = True
        return entry

    def messages(self) -> list[Message]:
        """What the model is sent: the summary (if any), then the kept messages."""
        out = [e.message for e in self.entries]
        if self.summary is not None:
            out.insert(0, summary_message(self.summary))
        return out

    def replace(self, entries: list[Entry], summary: str | None) -> None:
        """After a compaction (or a reset): these entries, this summary."""
        self.entries = entries
        self.summary = summary
        self.images = any(e.message.images for e in entries)
        self._summary_tokens = 0 if summary is None else message_tokens(summary_message(summary))
        self._tokens = sum(e.tokens for e in entries)

    def set_message(self, index: int, message: Message) -> None:
        entry = self.entries[index]
        tokens = message_tokens(message)
        self._tokens += tokens - entry.tokens
        self.entries[index] = Entry(message, entry.id, entry.turn, tokens)
