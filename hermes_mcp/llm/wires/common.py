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


# What a parser raises when a provider's JSON has the wrong shape or types.
SHAPE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def guarded(what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a wire's parser; a body of the wrong shape is a malformed response (a
    transient ``server_error`` the router fails over from), never a crash."""
    try:
        return fn(*args, **kwargs)
    except SHAPE_ERRORS as exc:
        raise broken(f"{what} ({type(exc).__name__})") from exc


def error_body(body: bytes) -> Any:
    """An error response's body: its JSON, or (not JSON) the start of its text."""
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return body.decode("utf-8", "replace")[:500]


def loads_object(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
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
    return ToolCall(id=str(call_id or f"call_{name}"), name=name, arguments=arguments)
