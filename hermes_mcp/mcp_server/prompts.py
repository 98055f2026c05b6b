"""Skills as MCP prompts: ``prompts/list`` names each skill (with its description and one
optional argument, ``args``); ``prompts/get`` returns its instructions as a user message,
then the ``args`` as a second one when given.

The skills are those of the workspace the tools use (``--workspace``, the client's roots,
else the current directory), found as the agent finds them (``tools/skills``). Once a
client has listed the prompts, the skill folders are looked at every
``[skills] watch_interval_s`` seconds, and a change in what the list shows (a skill
added, removed, renamed, described differently) is announced: in the handshake era as
``notifications/prompts/list_changed`` on the connection (the ``prompts`` capability says
``listChanged``), in 2026-07-28 as a ``PromptsListChanged`` event on every
``subscriptions/listen`` stream that asked for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, PromptsListChanged
from mcp.shared.exceptions import MCPError

from hermes_mcp.config import home_dir
from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    from hermes_mcp.mcp_server.edge import Ctx, Edge
    from tools.skills import Skill, SkillSet

_log = get_logger("hermes_mcp.mcp_server")

ARGS = "args"
DEFAULT_INTERVAL_S = 2.0


def prompt(skill: Skill) -> types.Prompt:
    hint = skill.front.argument_hint
    about = f"What to apply the skill to ({hint})" if hint else "What to apply the skill to"
    return types.Prompt(
        name=skill.name,
        title=skill.name.replace("-", " ").capitalize(),
        description=skill.description,
        arguments=[types.PromptArgument(name=ARGS, description=about, required=False)],
    )


def messages(skill: Skill, body: str, files: list[str], args: str | None) -> types.GetPromptResult:
    from tools.skills.files import invocation

    out = [
        types.PromptMessage(
            role="user",
            content=types.TextContent(type="text", text=invocation(skill, body, files)),
        )
    ]
    if args and args.strip():
        out.append(
            types.PromptMessage(role="user", content=types.TextContent(type="text", text=args))
        )
    return types.GetPromptResult(description=skill.description, messages=out)


class SkillPrompts:
    """The prompts of one server: listing, getting, and announcing changes."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._session: ServerSession | None = None  # the handshake era's, once listed
        self._roots: tuple[Path, ...] | None = None
        self._home: Path | None = None
        self._shown: tuple[tuple[str, str, str], ...] | None = None
        self._listed = anyio.Event()
        self._stop = anyio.Event()
        self.interval_s = DEFAULT_INTERVAL_S

    async def _found(self, edge: Edge, ctx: Ctx) -> SkillSet:
        from tools.skills import discover, skill_roots

        await edge.listed()  # the settings: where $HERMES_MCP_HOME is
        roots = await edge.roots(ctx)
        home = edge.settings.home if edge.settings is not None else home_dir()
        if edge.settings is not None:
            self.interval_s = edge.settings.config.skills.watch_interval_s
        self._roots, self._home = roots, home
        return await anyio.to_thread.run_sync(discover, skill_roots(home, roots))

    async def list(self, edge: Edge, ctx: Ctx) -> types.ListPromptsResult:
        found = await self._found(edge, ctx)
        if ctx.session.can_send_request:  # the handshake era: notify on this connection
            self._session = ctx.session  # connection-scoped: it outlives the request
        self._shown = found.signature()
        self._listed.set()
        return types.ListPromptsResult(prompts=[prompt(s) for s in found.skills])

    async def get(
        self, edge: Edge, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        from tools import ToolError
        from tools.skills import files

        found = await self._found(edge, ctx)
        skill = found.get(params.name)
        if skill is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
        arguments = params.arguments or {}
        unknown = sorted(set(arguments) - {ARGS})
        if unknown:
            message = (
                f"prompt {params.name!r} takes one argument, {ARGS!r}; not {', '.join(unknown)}"
            )
            raise MCPError(code=types.INVALID_PARAMS, message=message)
        try:
            body = await anyio.to_thread.run_sync(files.body, skill)
            listed = await anyio.to_thread.run_sync(files.listing, skill)
        except ToolError as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from None
        return messages(skill, body, listed, arguments.get(ARGS))

    # -- changes ---------------------------------------------------------------------------

    async def watch(self) -> None:
        """Until :meth:`stop`: once the prompts were listed, look at the skills every
        ``interval_s`` and announce a change of what the list shows."""
        async with anyio.create_task_group() as tg:

            async def stopper() -> None:
                await self._stop.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stopper)
            await self._listed.wait()
            while True:
                await anyio.sleep(self.interval_s)
                await self.check()

    async def check(self) -> bool:
        """Look once; announce and return True when what the list shows changed."""
        from tools.skills import discover, skill_roots

        if self._roots is None:
            return False
        found = await anyio.to_thread.run_sync(discover, skill_roots(self._home, self._roots))
        shown = found.signature()
        if shown == self._shown:
            return False
        self._shown = shown
        _log.info("mcp_prompts_changed", skills=len(shown))
        await self.bus.publish(PromptsListChanged())
        if self._session is not None:
            try:
                await self._session.send_prompt_list_changed()
            except Exception as exc:  # the client went away: nothing to tell
                _log.debug("mcp_prompts_notify_failed", error=exc)
        return True

    def stop(self) -> None:
        self._stop.set()
        self.listen.close()


def handlers(prompts: SkillPrompts, edge: Edge) -> dict[str, Any]:
    """The ``Server`` constructor's keyword arguments for prompts and listen streams."""

    async def list_prompts(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return await prompts.list(edge, ctx)

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await prompts.get(edge, ctx, params)

    return {
        "on_list_prompts": list_prompts,
        "on_get_prompt": get_prompt,
        "on_subscriptions_listen": prompts.listen,
    }
