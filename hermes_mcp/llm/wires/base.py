"""The interface every wire format implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hermes_mcp.config import ProviderSection
from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.types import ChatRequest, Completion, Delta


class StreamDecoder(Protocol):
    """Turns one stream's SSE events into deltas and, at the end, a ``Completion``."""

    done: bool  # the provider's explicit end of stream was seen

    @property
    def finished(self) -> bool:
        """Whether the answer is complete (an end marker or a final stop reason)."""
        ...

    def feed(self, event: str, data: str, now: float) -> list[Delta]:
        """One SSE event; raises ProviderError for an in-stream error or a broken chunk."""
        ...

    def completion(self) -> Completion: ...


class Wire(Protocol):
    """A provider's request/response format, independent of endpoint and credentials."""

    name: str
    # Failure classes the provider counts per model: their cooldowns block that model only
    # (other classes, such as billing or auth, block the credential for every model).
    per_model_classes: frozenset[FailureClass]

    def url(self, base_url: str, model: str) -> str: ...

    def auth_headers(self, secret: str | None) -> dict[str, str]: ...

    def body(self, request: ChatRequest, model: str) -> dict[str, Any]: ...

    def stream_url(self, base_url: str, model: str) -> str: ...

    def stream_body(self, request: ChatRequest, model: str) -> dict[str, Any]: ...

    def stream_decoder(self) -> StreamDecoder: ...

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


def wire_for(section: ProviderSection) -> Wire:
    """The wire format a provider section names (Vertex needs its project and location)."""
    from hermes_mcp.llm.wires.anthropic import AnthropicWire
    from hermes_mcp.llm.wires.gemini import GeminiWire
    from hermes_mcp.llm.wires.openai import OpenAIWire
    from hermes_mcp.llm.wires.responses import ResponsesWire
    from hermes_mcp.llm.wires.vertex import VertexWire

    if section.wire == "vertex":
        assert section.project and section.location  # checked when the config was read
        return VertexWire(section.project, section.location)
    wires: dict[str, Wire] = {
        "openai": OpenAIWire(),
        "responses": ResponsesWire(),
        "anthropic": AnthropicWire(),
        "gemini": GeminiWire(),
    }
    return wires[section.wire]
