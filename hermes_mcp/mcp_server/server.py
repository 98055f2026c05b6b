"""The MCP server's handlers on ``mcp``'s low-level ``Server`` (both protocol eras: the
SDK's runner serves the ``initialize`` handshake and the stateless 2026-07-28 revision
with ``server/discover`` on one stdio connection).

Capabilities are what is registered: tools, resources (with templates), prompts (the
skills, ``prompts.py``; ``listChanged``) and logging (``logging/setLevel`` in the
handshake era; the per-request level in 2026-07-28). ``subscriptions/listen`` serves the
2026-07-28 change events (the prompts'; nothing else changes while the server runs).

Bad input: an unknown tool or arguments that do not validate are ``-32602`` errors (the
message names each bad field); a tool that fails, or raises, is an ``isError`` result;
an unknown method is the SDK's ``-32601``; a line that is not JSON is answered
``-32700`` by the transport. Every one of them leaves the server serving.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ValidationError

from hermes_mcp import __version__
from hermes_mcp.log import get_logger
from hermes_mcp.mcp_server.edge import Ctx, Edge
from hermes_mcp.mcp_server.prompts import SkillPrompts, handlers

if TYPE_CHECKING:
    from hermes_mcp.mcp_server.approvals import Interaction
    from hermes_mcp.mcp_server.catalog import Catalog

_log = get_logger("hermes_mcp.mcp_server")

INSTRUCTIONS = (
    "Hermes offers its workspace tools (files, terminal, web, memory, planning) and whole "
    "agent tasks: agent_run answers a task with Hermes's own model router and fallbacks, "
    "agent_start/agent_status/agent_result/agent_cancel run one in the background, and "
    "delegate_task fans sub-tasks out to concurrent sub-agents. Stored sessions, memory and "
    "provider status are readable as hermes:// resources, and sessions_list, session_read "
    "and session_search find earlier work. The user's skills (saved procedures) are prompts, "
    "and skills_list/skill_view read them."
)


class HermesServer(Server[Any]):
    """The low-level server, whose handshake says the prompts' list changes (the skills
    on disk do): ``listChanged`` whoever asks for the initialization options."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(prompts_changed=True),
            experimental_capabilities,
            extensions,
        )


def _validate(name: str, model: type[BaseModel], arguments: dict[str, Any] | None) -> Any:
    from hermes_mcp.mcp_server.mapping import validation_message

    try:
        return model.model_validate(arguments or {})
    except ValidationError as exc:
        raise MCPError(code=types.INVALID_PARAMS, message=validation_message(name, exc)) from None


def _catalog(edge: Edge) -> Catalog:
    if edge.catalog is None:
        raise MCPError(code=types.INTERNAL_ERROR, message=edge.problem or "still starting")
    return edge.catalog


def preload() -> None:
    """What ``tools/list`` needs: the tools and the edge's modules (the edge runs this in
    a worker thread once the first answer is on the wire)."""
    import hermes_mcp.mcp_server.agent_tools
    import hermes_mcp.mcp_server.catalog
    import hermes_mcp.mcp_server.resources  # noqa: F401


def build_server(edge: Edge, prompts: SkillPrompts | None = None) -> Server[Any]:
    """The server; ``prompts`` (the skills) is made here when not given, and its
    ``watch()`` must run beside the server for changes to be announced."""
    prompts = prompts if prompts is not None else SkillPrompts()

    async def list_tools(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await edge.listed()
        return types.ListToolsResult(tools=list(_catalog(edge).listed))

    async def call_tool(
        ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        await edge.loaded()
        from hermes_mcp.errors import HermesError
        from hermes_mcp.mcp_server import interactive, mapping
        from hermes_mcp.mcp_server.agent_tools import HANDLERS

        if params.request_state is not None:  # a 2026-07-28 retry with a person's answers
            if params.name != "agent_result":
                return await interactive.resume(edge, ctx, params)
            interactive.answer(edge, params)  # then agent_result reports as usual
        catalog, name = _catalog(edge), params.name
        agent = catalog.agent_tools.get(name)
        tool = catalog.registry_tools.get(name)
        if agent is None and tool is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {name}")
        model = agent.args if agent is not None else tool.args  # type: ignore[union-attr]
        args = _validate(name, model, params.arguments)
        if edge.problem is not None:
            return mapping.error_result(edge.problem)
        where = await edge.workspace(ctx, needs_disk=catalog.needs_disk(name))
        if isinstance(where, str):
            return mapping.error_result(f"{name}: {where}")
        try:
            if agent is not None:
                return await HANDLERS[name](edge, ctx, args, where)
            assert tool is not None
            arguments = params.arguments or {}
            if not interactive.wanted(ctx):
                return await _run_registry_tool(edge, ctx, tool, arguments, where)

            async def work(interaction: Interaction) -> types.CallToolResult:
                return await _run_registry_tool(edge, ctx, tool, arguments, where, interaction)

            return await interactive.start(edge, ctx, name, edge.direct, work)
        except HermesError as exc:
            return mapping.error_result(f"{name}: {exc}")
        except MCPError:
            raise
        except Exception as exc:
            _log.warning("mcp_tool_failed", tool=name, error=exc)
            return mapping.error_result(f"{name} failed: {type(exc).__name__}: {exc}")

    async def list_resources(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        await edge.loaded()
        from hermes_mcp.mcp_server import resources

        return await resources.list_resources(edge, ctx)

    async def list_templates(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        await edge.listed()
        from hermes_mcp.mcp_server import resources

        return resources.templates()

    async def read_resource(
        ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        await edge.loaded()
        from hermes_mcp.mcp_server import resources

        try:
            return await resources.read(edge, ctx, str(params.uri))
        except MCPError:
            raise
        except Exception as exc:  # our bug or a broken store: say so, keep serving
            _log.error("mcp_resource_failed", uri=str(params.uri), error=exc)
            message = f"reading {params.uri} failed: {type(exc).__name__}"
            raise MCPError(code=types.INTERNAL_ERROR, message=message) from None

    async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        edge.log_level = params.level
        return types.EmptyResult()

    async def roots_changed(ctx: Ctx, params: types.NotificationParams) -> None:
        edge.client_roots = None  # asked again at the next call that needs them

    server: Server[Any] = HermesServer(
        "hermes-mcp",
        version=__version__,
        title="Hermes",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        **handlers(prompts, edge),
    )
    # Registered directly: the constructor's on_set_logging_level / on_roots_list_changed
    # warn that these are deprecated in 2026-07-28, which is true and fine for the
    # handshake era they serve.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    server.add_notification_handler(
        "notifications/roots/list_changed", types.NotificationParams, roots_changed
    )
    return server


async def _run_registry_tool(
    edge: Edge,
    ctx: Ctx,
    tool: Any,
    arguments: dict[str, Any],
    roots: tuple[Any, ...],
    interaction: Interaction | None = None,
) -> types.CallToolResult:
    """One direct call of a registry tool. In a 2026-07-28 interaction, its approvals go
    to that interaction (an approver made for this call) and its progress to the round
    waiting now; otherwise the direct calls' approver asks on this request's connection."""
    from hermes_mcp.mcp_server import mapping
    from hermes_mcp.mcp_server.sessions import McpApprover
    from tools import ToolRegistry

    step = 0
    call_id = f"mcp-{uuid.uuid4().hex[:12]}"
    if interaction is None:
        edge.direct.used_by(ctx)
        approver = edge.direct.approver
    else:
        approver = McpApprover(edge.direct, interaction)

    async def progress(text: str) -> None:
        nonlocal step
        target = ctx if interaction is None else interaction.ctx  # the round waiting now
        if target is not None:
            step += 1
            await target.session.report_progress(step, None, text[-500:])

    context = edge.tool_context(roots, progress, approver).for_call(call_id)
    result = await ToolRegistry([tool]).call(tool.name, arguments, context)
    return mapping.tool_result(result)
