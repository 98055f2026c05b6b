"""What the run engine and the ``delegate_task`` tool share: one turn's bookkeeping, and
the session's running totals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hermes_mcp.agent.budget import Budget
from hermes_mcp.agent.event_log import EventLog
from hermes_mcp.agent.events import Emit, Event, StopReason, TurnEnd
from hermes_mcp.llm import types as llm
from tools import ToolContext


@dataclass
class SessionTotals:
    """A session's tokens and cost so far, its delegated children's included (what
    ``usage.session_usage``/``session_cost_usd`` report)."""

    usage: llm.Usage = field(default_factory=llm.Usage)
    cost_usd: float | None = None

    def add(self, usage: llm.Usage, cost_usd: float | None) -> None:
        self.usage = _plus(self.usage, usage)
        if cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd


def _plus(a: llm.Usage, b: llm.Usage) -> llm.Usage:
    return a + b


@dataclass
class TurnState:
    """One turn's bookkeeping (shared with the ``delegate_task`` tool of that turn).

    ``emit`` records each event in the turn's event log (for replay) and passes it on.
    """

    session_id: str
    out: Emit
    budget: Budget
    context: ToolContext
    totals: SessionTotals = field(default_factory=SessionTotals)
    started: float = field(default_factory=time.monotonic)
    turn: int = 0  # 0 until the turn is recorded
    log: EventLog = field(default_factory=EventLog)
    messages: list[llm.Message] = field(default_factory=list)
    unanswered: dict[str, llm.ToolCall] = field(default_factory=dict)
    text: str = ""
    notes: list[str] = field(default_factory=list)  # said in turn_end.message
    stop: StopReason | None = None
    message: str | None = None
    error: dict[str, Any] | None = None
    served: str | None = None
    tool_calls: list[str] = field(default_factory=list)  # this turn's calls, by tool name

    async def emit(self, event: Event) -> None:
        self.log.add(event)
        await self.out(event)

    def finish(self, reason: StopReason, message: str | None = None) -> None:
        if self.stop is None:
            self.stop, self.message = reason, message

    def end(self) -> TurnEnd:
        message = "; ".join([*([self.message] if self.message else []), *self.notes]) or None
        return TurnEnd(
            stop_reason=self.stop or "error",
            session_id=self.session_id,
            text=self.text,
            message=message,
            usage=self.budget.usage,
            cost_usd=self.budget.cost_usd,
            iterations=self.budget.iterations,
            duration_s=time.monotonic() - self.started,
            model=self.served,
            error=self.error,
        )
