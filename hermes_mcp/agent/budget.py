"""A turn's budget: model calls, wall time, cost (``[agent]`` in the config).

The loop asks :meth:`Budget.next_iteration` before each model call and
:attr:`Budget.over_cost` after each; the wall-time limit is a cancel scope deadline
around the turn (``max_duration_s``). Reaching a limit ends the turn with its stop
reason and :func:`explain`'s message. Cost counts only what is known: ``cost_usd`` is
``None`` until prices can be configured, and unknown costs never end a turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_mcp.config import AgentSection
from hermes_mcp.llm.types import Usage


@dataclass
class Budget:
    max_iterations: int
    max_duration_s: float
    max_cost_usd: float
    iterations: int = 0
    cost_usd: float | None = None  # None while no cost is known
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_section(cls, section: AgentSection) -> Budget:
        return cls(section.max_iterations, section.max_duration_s, section.max_cost_usd)

    def next_iteration(self) -> bool:
        """Count one more model call; False when the limit is already reached."""
        if self.iterations >= self.max_iterations:
            return False
        self.iterations += 1
        return True

    def add(self, usage: Usage, cost_usd: float | None) -> None:
        self.usage = self.usage + usage
        self.add_cost(cost_usd)

    def add_cost(self, cost_usd: float | None) -> None:
        if cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

    @property
    def over_cost(self) -> bool:
        return self.cost_usd is not None and self.cost_usd >= self.max_cost_usd


def explain(reason: str, budget: Budget) -> str:
    """The message a turn ends with when a budget stopped it."""
    if reason == "max_iterations":
        return (
            f"stopped: the turn reached its limit of {budget.max_iterations} model calls "
            "(agent.max_iterations)"
        )
    if reason == "max_duration":
        return (
            f"stopped: the turn ran for its limit of {budget.max_duration_s:g} s "
            "(agent.max_duration_s)"
        )
    if reason == "max_cost":
        return (
            f"stopped: the turn spent ${budget.cost_usd or 0:.4f}, reaching its limit of "
            f"${budget.max_cost_usd:g} (agent.max_cost_usd)"
        )
    raise ValueError(f"not a budget: {reason}")
