"""Resources: ``hermes://sessions/{id}`` (a stored session's transcript as Markdown),
``hermes://memory`` (the memory notes), ``hermes://providers`` (credential states,
fingerprints only) and ``hermes://changes/{digest}`` (the whole of a change that an
approval prompt showed in part; not listed, named in the prompt). An unknown URI gets
the protocol's resource-not-found error: ``-32002`` in the handshake era, ``-32602``
in 2026-07-28 (which retired -32002)."""

from __future__ import annotations

import json

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from hermes_mcp.mcp_server import mapping, scope
from hermes_mcp.mcp_server.edge import Ctx, Edge
from hermes_mcp.mcp_server.prompt_text import CHANGES

SESSIONS = "hermes://sessions/"
MEMORY = "hermes://memory"
PROVIDERS = "hermes://providers"
RESOURCE_NOT_FOUND_LEGACY = -32002
LISTED_SESSIONS = 50


def not_found(ctx: Ctx, uri: str, why: str = "") -> MCPError:
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    code = types.INVALID_PARAMS if modern else RESOURCE_NOT_FOUND_LEGACY
    return MCPError(code=code, message=f"Resource not found: {uri}{why}", data={"uri": uri})


async def list_resources(edge: Edge, ctx: Ctx) -> types.ListResourcesResult:
    fixed = [
        types.Resource(
            uri=MEMORY,
            name="memory",
            title="Hermes memory",
            description="The notes Hermes keeps across sessions",
            mime_type="text/markdown",
        ),
        types.Resource(
            uri=PROVIDERS,
            name="providers",
            title="Provider credentials",
            description="Each credential's state (available, cooling, dead); fingerprints only",
            mime_type="application/json",
        ),
    ]
    rt = edge.rt()
    within = scope.places(await edge.roots(ctx))  # this server's workspaces only
    page = await rt.store.list_sessions(within=within, limit=LISTED_SESSIONS)
    sessions = [
        types.Resource(
            uri=f"{SESSIONS}{s.id}",
            name=f"session {s.id}",
            title=s.title or f"session {s.id}",
            description=f"{s.cwd}, {s.turn_count} turn(s)",
            mime_type="text/markdown",
        )
        for s in page.sessions
    ]
    return types.ListResourcesResult(resources=fixed + sessions)


def templates() -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(
        resource_templates=[
            types.ResourceTemplate(
                uri_template=SESSIONS + "{session_id}",
                name="session",
                title="A stored Hermes session",
                description="The transcript of a stored session as Markdown",
                mime_type="text/markdown",
            )
        ]
    )


def _contents(uri: str, text: str, mime: str) -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, text=text, mime_type=mime)]
    )


async def read(edge: Edge, ctx: Ctx, uri: str) -> types.ReadResourceResult:
    if uri == PROVIDERS:
        report = edge.rt().router.status()  # credentials and the routes skipped now
        return _contents(uri, json.dumps(report, indent=2), "application/json")
    if uri == MEMORY:
        return _contents(uri, await _memory(edge, ctx), "text/markdown")
    if uri.startswith(CHANGES):  # the whole of a change an approval prompt showed in part
        whole = edge.changes.get(uri)
        if whole is None:
            raise not_found(ctx, uri, " (changes are kept while this connection lasts)")
        return _contents(uri, whole, "text/x-diff")
    if uri.startswith(SESSIONS):
        session_id = uri.removeprefix(SESSIONS)
        rt = edge.rt()
        info = await rt.store.get(session_id) if session_id and "/" not in session_id else None
        if info is None:
            raise not_found(ctx, uri)
        if not scope.in_scope(info.cwd, await edge.roots(ctx)):
            # Read without a person in the loop: another workspace's session is not
            # offered here (session_read asks).
            raise not_found(ctx, uri, " (a session of another workspace: session_read asks)")
        events = [event async for event in rt.store.replay(session_id)]
        text = mapping.transcript_markdown(info.title, info.id, events)
        return _contents(uri, text, "text/markdown")
    raise not_found(ctx, uri)


async def _memory(edge: Edge, ctx: Ctx) -> str:
    roots = await edge.roots(ctx)
    context = edge.tool_context(roots)
    from tools import build_registry

    registry = build_registry(["memory"])
    result = await registry.call("memory", {"action": "list"}, context)
    notes = (result.structured or {}).get("notes", [])
    if result.is_error:
        return f"# Memory\n\n{result.text}\n"
    lines = ["# Memory", ""]
    lines += [f"- ({n['scope']}, #{n['id']}) {n['content']}" for n in notes] or ["(no notes)"]
    return "\n".join(lines) + "\n"
