"""Reading a non-streamed response body within bounds: a size cap and (by the caller's
cancel scope) a deadline on the whole answer.

A provider that answers without ``Content-Length`` and never stops, or sends a 100 MB
error page, must cost at most the cap in memory: the body is read chunk by chunk
(decompressed, so a small gzip bomb counts at its real size) and reading stops as soon
as the cap is passed; the connection is then closed, not drained.
"""

from __future__ import annotations

import httpx2

# An error body is read up to this many bytes: enough for any real provider's error
# object, and far less than an answer may be. Its message is cut further (MAX_ERROR_TEXT).
ERROR_BODY_BYTES = 64 * 1024
# Error text carried anywhere (a ProviderError's message, an attempt, a stored mark, a
# command's output) is cut to this many characters, after redaction.
MAX_ERROR_TEXT = 1000


async def read_capped(response: httpx2.Response, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of ``response``'s body, and whether there was more."""
    declared = response.headers.get("content-length", "")
    if (
        declared.isdigit()
        and int(declared) > limit
        and not response.headers.get("content-encoding")
    ):
        return b"", True  # said up front: nothing of it is worth reading
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def cut(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
