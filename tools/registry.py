"""Tools as typed data, and the one registry the agent loop and both edges share.

A :class:`Tool` is a name, a description, a pydantic argument model (its JSON schema is
derived from it), an async function ``(args, ctx) -> ToolResult``, an optional output
model for structured results, annotations (the MCP hints and the ACP kind) and the
toolset it belongs to.

:meth:`ToolRegistry.call` is the only way a tool runs. It never raises for a tool
failure: an unknown name, arguments that do not validate (the message names each bad
field), a :class:`ToolError` and any unexpected exception all come back as an error
:class:`ToolResult` the model can read. Cancellation is the exception: it propagates, so
the caller's cancel scope ends the call (tools clean up in ``finally`` blocks).

Every result leaves ``call`` redacted: registered secrets and key-shaped strings are
scrubbed from its text, its structured content and its diff (``log.redact``). A tool
with an output model must return structured content that validates against it (MCP
requires it when an output schema is advertised); one that does not gets an error.

Tools from outside (other MCP servers, ``hermes_mcp/mcp_client/``) are described by a
raw JSON Schema instead of a pydantic model: ``Tool.input_schema`` is offered to the
model as is, arguments are checked against it with ``jsonschema`` (the error names
each bad field) and the function receives them as :class:`RawArguments`. Such tools
live in an open toolset (:data:`OPEN_TOOLSETS`) under a namespaced name
(``<server>__<tool>``), so they can never shadow a built-in tool.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

from hermes_mcp.errors import ToolDenied as ToolDenied
from hermes_mcp.errors import ToolError as ToolError
from hermes_mcp.log import get_logger, redact, redact_value
from tools.effects import FileDiff as FileDiff
from tools.effects import Location as Location
from tools.effects import ToolKind as ToolKind

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaValidationError

    from tools.context import ToolContext


#: Every toolset name the project knows. ``delegation`` and ``code`` are filled by the agent
#: per turn (``delegate_task``, ``execute_code``: they need the turn).
TOOLSETS: tuple[str, ...] = (
    "files",
    "terminal",
    "web",
    "memory",
    "planning",
    "skills",
    "delegation",
    "code",
)
#: Toolsets filled from outside, per session (other MCP servers' tools, ``server__tool``).
OPEN_TOOLSETS: tuple[str, ...] = ("mcp",)

ArgsT = TypeVar("ArgsT", bound=BaseModel)

_log = get_logger("hermes_mcp.tools")


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    structured: dict[str, Any] | None = None
    diff: FileDiff | None = None
    locations: tuple[Location, ...] = ()
    denied: bool = False  # an error result because the policy or the approver said no

    @classmethod
    def error(cls, text: str) -> ToolResult:
        return cls(text=text, is_error=True)

    def redacted(self) -> ToolResult:
        diff = self.diff
        if diff is not None:
            diff = replace(
                diff,
                unified=redact(diff.unified),
                old_text=None if diff.old_text is None else redact(diff.old_text),
                new_text=redact(diff.new_text),
            )
        structured = None if self.structured is None else redact_value(self.structured)
        return replace(self, text=redact(self.text), structured=structured, diff=diff)


@dataclass(frozen=True)
class ToolAnnotations:
    """MCP's behaviour hints plus the ACP kind. Defaults are the cautious ones."""

    read_only: bool = False
    destructive: bool = True
    idempotent: bool = False
    open_world: bool = False
    kind: ToolKind = "other"
    title: str | None = None


ToolFunction = Callable[[ArgsT, "ToolContext"], Awaitable[ToolResult]]


@dataclass(frozen=True)
class Tool(Generic[ArgsT]):
    name: str
    description: str
    args: type[ArgsT]
    fn: ToolFunction[ArgsT]
    toolset: str
    annotations: ToolAnnotations = field(default_factory=ToolAnnotations)
    output: type[BaseModel] | None = None
    # A tool from outside: its raw JSON Schemas (``args`` is then RawArguments).
    input_schema: dict[str, Any] | None = None
    output_json_schema: dict[str, Any] | None = None
    _validator: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.input_schema is None:
            return
        if self.toolset not in OPEN_TOOLSETS or "__" not in self.name:
            raise ValueError(
                f"tool {self.name!r}: a raw JSON Schema tool needs an open toolset "
                f"({', '.join(OPEN_TOOLSETS)}) and a '<server>__<tool>' name"
            )
        # jsonschema is imported here, for the tools of other MCP servers only: listing
        # our own tools (MCP ``tools/list``) never pays for it.
        from jsonschema import SchemaError
        from jsonschema.validators import validator_for
        from referencing import Registry

        cls = validator_for(self.input_schema)
        try:
            cls.check_schema(self.input_schema)
        except SchemaError as exc:
            raise ValueError(f"tool {self.name!r}: invalid input schema: {exc.message}") from None
        # An empty registry: a $ref resolves inside the schema or not at all (jsonschema's
        # default would fetch remote references, an untrusted server's schema included).
        object.__setattr__(self, "_validator", cls(self.input_schema, registry=Registry()))

    def json_schema(self) -> dict[str, Any]:
        """The argument model's JSON Schema (draft 2020-12, as pydantic writes it), or
        the raw schema of a tool from outside."""
        if self.input_schema is not None:
            return self.input_schema
        return model_schema(self.args)

    def output_schema(self) -> dict[str, Any] | None:
        if self.output_json_schema is not None:
            return self.output_json_schema
        return None if self.output is None else self.output.model_json_schema()


@functools.cache
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema, built once per model: pydantic builds it anew on every
    call (about 1.5 ms for a tool's arguments), which every turn paid for every tool
    (the tool list, ``execute_code``'s signatures). Shared: never change it."""
    return model.model_json_schema()


class RawArguments(BaseModel):
    """The arguments of a tool described by a raw JSON Schema, as given (already
    checked against the schema by the registry)."""

    model_config = ConfigDict(extra="allow")

    def values(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _format_schema_errors(name: str, errors: Iterable[SchemaValidationError]) -> str:
    problems = []
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])[:5]:
        where = ".".join(str(part) for part in err.absolute_path) or "(arguments)"
        message = err.message if len(err.message) <= 200 else err.message[:200] + "…"
        problems.append(f"{where}: {message}")
    return f"invalid arguments for {name}: " + "; ".join(problems)


def _format_validation(name: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        message = message.removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return f"invalid arguments for {name}: " + "; ".join(problems)


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool[Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool[Any]) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        if tool.toolset not in TOOLSETS + OPEN_TOOLSETS:
            raise ValueError(f"tool {tool.name!r}: unknown toolset {tool.toolset!r}")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def by_toolsets(self, toolsets: Iterable[str]) -> ToolRegistry:
        """A registry holding only the tools of the named toolsets (unknown names are errors)."""
        wanted = set(toolsets)
        unknown = wanted.difference(TOOLSETS + OPEN_TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown))}")
        return ToolRegistry(t for t in self._tools.values() if t.toolset in wanted)

    async def call(self, name: str, raw_arguments: Any, ctx: ToolContext) -> ToolResult:
        """Validate and run one tool call. Failures are error results; cancellation raises."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolResult.error(f"unknown tool {name!r}; available tools: {known}")
        if raw_arguments is None:
            raw_arguments = {}
        if not isinstance(raw_arguments, dict):
            return ToolResult.error(
                f"invalid arguments for {name}: expected a JSON object, "
                f"got {type(raw_arguments).__name__}"
            )
        if tool._validator is not None:
            try:
                errors = list(tool._validator.iter_errors(raw_arguments))
            except Exception as exc:  # e.g. a $ref that resolves nowhere
                return ToolResult.error(f"{name}: its input schema cannot be checked: {exc}")
            if errors:
                return ToolResult.error(_format_schema_errors(name, errors))
        try:
            args = tool.args.model_validate(raw_arguments)
        except ValidationError as exc:
            return ToolResult.error(_format_validation(name, exc))
        try:
            result = await tool.fn(args, ctx)
        except anyio.get_cancelled_exc_class():
            raise
        except ToolDenied as exc:
            result = ToolResult(text=str(exc), is_error=True, denied=True)
        except ToolError as exc:
            result = ToolResult.error(str(exc))
        except Exception as exc:
            _log.warning("tool_failed", tool=name, error=exc)
            result = ToolResult.error(f"{name} failed: {type(exc).__name__}: {exc}")
        if tool.output is not None and not result.is_error:
            try:
                tool.output.model_validate(result.structured)
            except ValidationError as exc:
                _log.error("tool_bad_output", tool=name, error=exc)
                return ToolResult.error(f"{name} produced output that breaks its own schema")
        return result.redacted()
