"""What an approval prompt shows, and the whole of a change it shows in part.

A client shows an approval's message as it is; a long change cannot all fit, and what
is cut must never be silent: an attack hides at the end of a long, harmless-looking
diff (70 harmless lines, then ``curl … | sh``). So a change up to ``SHOWN`` characters
is shown whole; a longer one shows its start and its end, says first how much was left
out between them (lines and characters), and offers the whole text as the resource
``hermes://changes/{digest}`` (kept in :class:`Changes` for this connection, the last
``KEPT``). The digest is the change's SHA-256: a resource names exactly the text that
was approved.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from tools import ApprovalRequest

CHANGES = "hermes://changes/"
SHOWN = 3000  # characters of a change shown whole
HEAD, TAIL = 1000, 1600  # otherwise about this much of its start and of its end
KEPT = 64


class Changes:
    """The whole text of changes that prompts showed in part, by digest (bounded)."""

    def __init__(self) -> None:
        self._texts: OrderedDict[str, str] = OrderedDict()

    def keep(self, text: str) -> str:
        """Keep ``text``; its resource URI."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        self._texts[digest] = text
        self._texts.move_to_end(digest)
        while len(self._texts) > KEPT:
            self._texts.popitem(last=False)
        return CHANGES + digest

    def get(self, uri: str) -> str | None:
        return self._texts.get(uri.removeprefix(CHANGES)) if uri.startswith(CHANGES) else None


def change_text(unified: str, changes: Changes | None) -> str:
    """The change as a prompt shows it: whole, or its start and end with what was cut
    named before them (and where the whole is)."""
    if len(unified) <= SHOWN:
        return "Change:\n" + unified
    head = unified[:HEAD]
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    tail = unified[-TAIL:]
    if "\n" in tail[:-1]:
        tail = tail[tail.index("\n") + 1 :]
    middle = unified[len(head) : len(unified) - len(tail)]
    total = unified.count("\n") + (not unified.endswith("\n"))
    first = head.count("\n") + (not head.endswith("\n"))
    last_start = total - tail.count("\n") - (not tail.endswith("\n")) + 1
    where = (
        f"the whole change is the resource {changes.keep(unified)}"
        if changes is not None
        else "the whole change is not shown anywhere else: deny if unsure"
    )
    notice = (
        f"Change (NOT shown whole: {total} lines, {len(unified):,} characters; shown are "
        f"lines 1-{first} and {last_start}-{total}, the end included; cut between them: "
        f"{middle.count(chr(10))} line(s), {len(middle):,} characters; {where}):"
    )
    cut = f"[... {len(middle):,} characters cut here, see above ...]\n"
    if not head.endswith("\n"):
        cut = "\n" + cut
    return "\n".join([notice, head + cut + tail])


def message(request: ApprovalRequest, changes: Changes | None = None) -> str:
    """The approval prompt's text (the same in an elicitation and in ``input_required``)."""
    lines = [f"Hermes asks to {request.title}."]
    if request.risk:
        lines.append(f"Why it asks: {request.risk}.")
    if request.command:
        lines.append(f"Command: {request.command}")
    if request.url:
        lines.append(f"URL: {request.url}")
    if request.paths:
        lines.append("Paths: " + ", ".join(str(p) for p in request.paths))
    if request.diff is not None:
        lines.append(change_text(request.diff.unified, changes))
    return "\n".join(lines)
