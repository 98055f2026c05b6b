"""The interface every wire format implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hermes_mcp.errors import ProviderError
from hermes_mcp.llm.types import ChatRequest, Completion


class Wire(Protocol):
    """A provider's request/response format, independent of endpoint and credentials."""

    name: str
    # True when the provider limits each model separately (cooldowns keyed by model too).
    limits_per_model: bool

    def url(self, base_url: str, model: str) -> str: ...

    def auth_headers(self, secret: str | None) -> dict[str, str]: ...

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]: ...

    def is_error(self, data: Any) -> bool:
        """Whether a 200 body is in fact an error object."""
        ...

    def parse(self, data: Any) -> Completion:
        """A successful response body; raises ProviderError when it is not one."""
        ...

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, now: float
    ) -> ProviderError:
        """An error response (or a 200 carrying an error) as a classified failure."""
        ...


def wire_for(name: str) -> Wire:
    from hermes_mcp.llm.wires.openai import OpenAIWire

    wires: dict[str, Wire] = {"openai": OpenAIWire()}
    if name not in wires:
        raise NotImplementedError(f"wire {name!r} is not implemented yet")
    return wires[name]
