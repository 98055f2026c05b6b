"""What one successful attempt of the router hands back: the value, its route, and the
leased credential (released by whoever finishes with it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from hermes_mcp.config import ModelRef
from hermes_mcp.credentials import Credential
from hermes_mcp.llm.profiles import ModelProfile
from hermes_mcp.llm.provider import Provider
from hermes_mcp.llm.types import Attempt, Completion, Result

T = TypeVar("T")


@dataclass(slots=True)
class Served(Generic[T]):
    """What a successful attempt produced, with the route and the leased credential."""

    value: T
    route: ModelRef
    provider: Provider
    credential: Credential
    attempts: list[Attempt]
    profile: ModelProfile

    def release(self) -> None:
        self.provider.pool.release(self.credential)

    def result(self, completion: Completion) -> Result:
        """The result with its route; its cost at the model's configured prices."""
        cost = self.profile.cost(completion.usage)
        served = self.attempts[-1]
        served.cost_usd = cost
        return Result(
            completion=completion,
            provider=self.route.provider,
            model=self.route.model,
            credential=self.credential.fingerprint,
            attempts=tuple(self.attempts),
            cost_usd=cost,
        )


# One attempt: given a provider, a route and a leased credential, produce a value or
# raise a classified ProviderError.
Op = Callable[[Provider, ModelRef, Credential], Awaitable[T]]
