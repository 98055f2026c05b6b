"""Small pieces every wire module shares: the "malformed response" failure, reading an
error body or a stream chunk, and building a checked ``ToolCall``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.types import ToolCall

P = ParamSpec("P")
R = TypeVar("R")


def broken(detail: str) -> ProviderError:
    """A response that is not what the format promises: a transient server error."""
    return ProviderError(
        FailureClass.SERVER_ERROR, f"malformed response: {detail}", status="malformed"
    )


# What a parser raises when a provider's JSON has the wrong shape or types; a body nested
# too deeply for the JSON parser (or for a parser walking it) raises RecursionError.
SHAPE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)
JSON_ERRORS = (ValueError, RecursionError)

# Tool-call arguments nested deeper than this are a malformed answer: no tool takes them,
# and everything downstream (the transcript, the tool's validation) would walk them.
MAX_ARGUMENT_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_ARGUMENT_DEPTH) -> bool:
    """Whether ``value`` (parsed JSON) nests lists or objects deeper than ``limit``;
    iterative, so a deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def guarded(what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a wire's parser; a body of the wrong shape is a malformed response (a
    transient ``server_error`` the router fails over from), never a crash."""
    try:
        return fn(*args, **kwargs)
    except SHAPE_ERRORS as exc:
        raise broken(f"{what} ({type(exc).__name__})") from exc


def error_body(body: bytes) -> Any:
    """An error response's body: its JSON, or (not JSON, or nested too deeply) its text.

    The text is not cut here: ``Provider`` redacts the message first and cuts it after,
    so a secret straddling the cut cannot leak its first characters. The body itself is
    already bounded by the provider's error-body cap."""
    try:
        return json.loads(body) if body else {}
    except JSON_ERRORS:
        return body.decode("utf-8", "replace")


def loads_object(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except JSON_ERRORS as exc:
        raise broken("a stream chunk is not JSON") from exc
    if not isinstance(value, dict):
        raise broken("a stream chunk is not an object")
    return value


def tool_call(call_id: Any, name: Any, arguments: Any) -> ToolCall:
    if not name or not isinstance(name, str):
        raise broken("a tool call without a name")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise broken(f"tool call {name!r} has arguments that are not an object")
    if too_deep(arguments):
        raise broken(f"tool call {name!r} has arguments nested deeper than {MAX_ARGUMENT_DEPTH}")
    return ToolCall(id=str(call_id or f"call_{name}"), name=name, arguments=arguments)
