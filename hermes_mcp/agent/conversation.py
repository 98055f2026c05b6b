"""What a live session keeps for the model between its turns.

- the **history** (``history.py``), read from the database once, at the session's first
  turn, then appended to as each message is stored: a turn at message 2,000 costs what a
  turn at message 2 does;
- the **memory snapshot** (``memory_notes.py``), taken once, when the runtime opens the
  session, so the system prompt stays the same bytes from turn to turn;
- the **prompt sections**: the context files (``context_files.py``), read with the
  memory notes, then again whenever ``stat`` says one changed (an edit shows at the
  next turn), then the memory notes;
- **compaction** (``compaction.py``) with the summary written by a model, and what the
  store keeps of it.

It holds no lock: the session runs one turn at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from hermes_mcp.agent import context_files, memory_notes
from hermes_mcp.agent.compaction import SUMMARY_SYSTEM, Compaction, Summarize, compact
from hermes_mcp.agent.history import History
from hermes_mcp.agent.memory_notes import MemorySnapshot
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.llm import types as llm
from hermes_mcp.log import get_logger, redact
from hermes_mcp.state import Database

log = get_logger("hermes_mcp.agent")

#: The longest summary asked for, in tokens (a quarter of the window when smaller).
SUMMARY_MAX_TOKENS = 4000

#: Told of each summary call's result (the turn counts its tokens and cost).
OnResult = Callable[[llm.Result], Awaitable[None]]


class Conversation:
    def __init__(
        self,
        session_id: str,
        store: SessionStore,
        *,
        db: Database | None,
        cwd: Path,
        state_dir: Path | None,
        config_file: Path | None,
    ) -> None:
        self.session_id = session_id
        self.store = store
        self.db = db
        self.cwd = cwd
        self.state_dir = state_dir
        self.config_file = config_file
        self._history: History | None = None
        self._memory: MemorySnapshot | None = None
        self._files = context_files.ContextRead.UNREAD

    async def history(self) -> History:
        """The model's conversation, read from the store the first time only."""
        if self._history is None:
            self._history = await self.store.load_history(self.session_id)
        return self._history

    def fresh(self) -> None:
        """The session was just created: its history is empty, no read needed."""
        if self._history is None:
            self._history = History()

    def forget(self) -> None:
        """Read the history again at the next turn (after ``/reset``, or when a write
        failed and memory and database may differ)."""
        self._history = None

    async def sections(self, *, memory: bool = True) -> list[str]:
        """The prompt sections of this session's turn: the context files (read again
        when ``stat`` says one changed; a worker thread only when one exists), then the
        memory notes (read the first time, on the database's reader for the event loop,
        and kept)."""
        if self._files.stale():
            files = context_files.absent(self.cwd, self.state_dir)
            if files is None:
                files = await anyio.to_thread.run_sync(
                    context_files.read, self.cwd, self.state_dir, self.config_file
                )
            self._files = files
        out = [self._files.section]
        if memory:
            if self._memory is None:
                self._memory = memory_notes.take_snapshot(self.db, self.cwd)
            out.append(memory_notes.render(self._memory))
        return out

    async def compact(
        self,
        *,
        turn: int,
        fixed: int,
        window: int,
        summarize: Summarize | None,
        focus: str | None = None,
        force: bool = False,
        spent: list[llm.Result] | None = None,
    ) -> Compaction:
        """Compact the history (``compaction.compact``) and store what a summary
        changed; nothing is stored when only tool outputs were elided (the history is
        rebuilt the same way after a reload). ``spent``: the summary calls' results
        (filled while it runs), whose tokens and cost join the session's totals."""
        history = await self.history()
        result = await compact(
            history, fixed=fixed, window=window, summarize=summarize, focus=focus, force=force
        )
        if result.summarized and result.boundary is not None and result.summary is not None:
            await self.store.compact(
                self.session_id,
                turn,
                boundary=result.boundary,
                summary=result.summary,
                tokens_before=result.before,
                tokens_after=result.after,
                usage=[(r.completion.usage, r.cost_usd) for r in spent or ()],
            )
        log.info(
            "context.compacted",
            before=result.before,
            after=result.after,
            elided=result.elided,
            summarized=result.summarized,
            failure=result.failure,
        )
        return result


def summarizer(
    model: ChatModel, name: str | None, window: int, on_result: OnResult | None = None
) -> Summarize:
    """A ``Summarize`` over ``model`` (the router): one streamed call, its text; the
    route ``name`` first (``agent.compaction_model`` or the session's model)."""
    max_tokens = max(256, min(SUMMARY_MAX_TOKENS, window // 4))

    async def summarize(text: str) -> str | None:
        request = llm.ChatRequest(
            (llm.Message.system(SUMMARY_SYSTEM), llm.Message.user(text)),
            max_tokens=max_tokens,
        )
        async with model.stream(request, model=name) as stream:
            async for _ in stream:
                pass
            result = stream.result
        if result is None:
            return None
        if on_result is not None:
            await on_result(result)
        if result.completion.finish_reason == "content_filter":
            return None
        return redact(result.completion.text).strip() or None

    return summarize
