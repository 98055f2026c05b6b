"""ACP prompt content → the agent's prompt parts, with size caps.

Text is taken verbatim; an image is kept inline (base64) and reaches only models with
vision; a resource link stays a reference the model may read with its tools; an
embedded text resource (an open buffer, a selection) becomes a ``<resource>`` block.
An embedded resource over :data:`RESOURCE_MAX_CHARS` or an image over
:data:`IMAGE_MAX_BYTES` is refused with a message naming it and the limit; binary
embedded resources and audio are refused too (the capabilities do not offer them).
"""

from __future__ import annotations

from collections.abc import Sequence

from acp.schema import (
    AudioContentBlock,
    BlobResourceContents,
    EmbeddedResourceContentBlock,
    ImageContentBlock,
    ResourceContentBlock,
    TextContentBlock,
    TextResourceContents,
)

from hermes_mcp.agent.prompt import ImagePart, PromptPart, ResourceLink, ResourcePart, TextPart

RESOURCE_MAX_CHARS = 400_000
IMAGE_MAX_BYTES = 10 * 1024 * 1024  # decoded

Block = (
    TextContentBlock
    | ImageContentBlock
    | AudioContentBlock
    | ResourceContentBlock
    | EmbeddedResourceContentBlock
)


class ContentRefused(ValueError):
    """A prompt block that cannot be sent to the model (the message says which, why)."""


def to_parts(blocks: Sequence[Block]) -> list[PromptPart]:
    parts: list[PromptPart] = []
    for block in blocks:
        if isinstance(block, TextContentBlock):
            parts.append(TextPart(block.text))
        elif isinstance(block, ImageContentBlock):
            size = len(block.data) * 3 // 4
            if size > IMAGE_MAX_BYTES:
                name = block.uri or "the image"
                raise ContentRefused(
                    f"{name} is about {size:,} bytes, over the {IMAGE_MAX_BYTES:,}-byte limit"
                )
            parts.append(ImagePart(block.mime_type, block.data, block.uri))
        elif isinstance(block, ResourceContentBlock):
            parts.append(ResourceLink(block.uri, block.name, block.mime_type))
        elif isinstance(block, EmbeddedResourceContentBlock):
            parts.append(_embedded(block.resource))
        else:
            raise ContentRefused("audio prompts are not supported (promptCapabilities.audio)")
    return parts


def _embedded(resource: TextResourceContents | BlobResourceContents) -> ResourcePart:
    if isinstance(resource, BlobResourceContents):
        raise ContentRefused(
            f"embedded resource {resource.uri} is binary; only text resources can be embedded"
        )
    if len(resource.text) > RESOURCE_MAX_CHARS:
        raise ContentRefused(
            f"embedded resource {resource.uri} is {len(resource.text):,} characters, over the "
            f"{RESOURCE_MAX_CHARS:,}-character limit; send a link to it instead"
        )
    return ResourcePart(resource.uri, resource.text, resource.mime_type)


def command_text(blocks: Sequence[Block]) -> str | None:
    """The prompt's text when it is a slash command (``/name args``), else ``None``."""
    texts = [b.text for b in blocks if isinstance(b, TextContentBlock)]
    if len(texts) != 1 or len(blocks) != 1:
        return None
    text = texts[0].strip()
    return text if text.startswith("/") and len(text) > 1 else None
