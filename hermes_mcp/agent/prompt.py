"""What a user's prompt can hold: text, images, embedded text resources, resource links.

Both edges translate their protocol's content blocks into these parts (ACP prompt
content, MCP tool arguments); the turn stores them, the history rebuilds them and the
wire formats send them. A plain ``str`` is a prompt of one text part.

- :class:`TextPart`: text, verbatim.
- :class:`ImagePart`: an image inline (base64). It reaches only models whose profile
  says vision; otherwise the turn leaves it out and says why.
- :class:`ResourcePart`: a text resource embedded by the client (an open buffer, a
  selection): given to the model as a ``<resource uri=...>`` block.
- :class:`ResourceLink`: a reference the model may read with its tools (a path or URI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    media_type: str  # "image/png", ...
    data: str  # base64, no data: prefix
    uri: str | None = None


@dataclass(frozen=True)
class ResourcePart:
    uri: str
    text: str
    mime_type: str | None = None


@dataclass(frozen=True)
class ResourceLink:
    uri: str
    name: str
    mime_type: str | None = None


PromptPart = TextPart | ImagePart | ResourcePart | ResourceLink
Prompt = str | Sequence[PromptPart]


def as_parts(prompt: Prompt) -> tuple[PromptPart, ...]:
    return (TextPart(prompt),) if isinstance(prompt, str) else tuple(prompt)


def prompt_text(prompt: Prompt) -> str:
    """The prompt as the model reads its text: text parts verbatim, embedded resources as
    ``<resource>`` blocks, links as one line each; images are not text."""
    if isinstance(prompt, str):
        return prompt
    out: list[str] = []
    for part in prompt:
        if isinstance(part, TextPart):
            out.append(part.text)
        elif isinstance(part, ResourcePart):
            mime = f' mime_type="{part.mime_type}"' if part.mime_type else ""
            out.append(f'<resource uri="{part.uri}"{mime}>\n{part.text}\n</resource>')
        elif isinstance(part, ResourceLink):
            out.append(f"[resource: {part.name} <{part.uri}>]")
    return "\n\n".join(p for p in out if p)


def describe(part: PromptPart) -> dict[str, Any] | None:
    """A part as a replayed ``user_message`` describes it (``None`` for text)."""
    if isinstance(part, ImagePart):
        return {"type": "image", "media_type": part.media_type, "uri": part.uri}
    if isinstance(part, ResourcePart):
        return {"type": "resource", "uri": part.uri, "mime_type": part.mime_type}
    if isinstance(part, ResourceLink):
        return {"type": "resource_link", "uri": part.uri, "name": part.name}
    return None
