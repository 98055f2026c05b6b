"""Skills as ACP commands: each skill of a session's workspace is an available command
(``/name args``), announced with ``available_commands_update`` when the session opens
and again whenever the set changes on disk; ``/name args`` runs a turn whose prompt is
the skill's instructions and the args.

A skill named like a built-in command (``/model``, ``/reset``...) is not offered: the
built-in wins. The folders are looked at every ``[skills] watch_interval_s`` seconds by
one task per open session in the runtime's task group, cancelled when the session
closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from acp.helpers import update_available_commands
from acp.interfaces import Client

from acp_adapter import options
from hermes_mcp.agent.prompt import PromptPart, TextPart
from hermes_mcp.log import get_logger
from tools.skills import SkillSet, discover, skill_roots
from tools.skills.files import body, invocation, listing

if TYPE_CHECKING:
    from hermes_mcp.agent.session import Session
    from hermes_mcp.runtime import Runtime

log = get_logger("acp_adapter.skills")


async def found(rt: Runtime, session: Session) -> SkillSet:
    roots = skill_roots(rt.settings.home, session.roots)
    return await anyio.to_thread.run_sync(discover, roots)


async def turn_prompt(
    rt: Runtime, session: Session, name: str, args: str
) -> list[PromptPart] | None:
    """The prompt of ``/name args`` when ``name`` is a skill (``None`` when it is not);
    ToolError when the skill cannot be read."""
    skill = (await found(rt, session)).get(name)
    if skill is None or name in options.BUILT_IN:
        return None
    text = await anyio.to_thread.run_sync(body, skill)
    files = await anyio.to_thread.run_sync(listing, skill)
    parts: list[PromptPart] = [TextPart(invocation(skill, text, files))]
    if args:
        parts.append(TextPart(args))
    return parts


class CommandWatch:
    """One session's commands: sent once, then again whenever the skills change."""

    def __init__(self, rt: Runtime, conn: Client, session_id: str, session: Session) -> None:
        self.rt, self.conn, self.session_id, self.session = rt, conn, session_id, session
        self.shown: tuple[tuple[str, str, str], ...] | None = None
        self.scope = anyio.CancelScope()

    async def send(self) -> bool:
        """Send the commands when they differ from what was sent; whether they did."""
        skills = await found(self.rt, self.session)
        shown = skills.signature()
        if shown == self.shown:
            return False
        self.shown = shown
        update = update_available_commands(options.commands(skills.skills))
        await self.conn.session_update(self.session_id, update)
        return True

    async def run(self, interval_s: float) -> None:
        with self.scope:
            while True:
                await anyio.sleep(interval_s)
                try:
                    if await self.send():
                        log.info("acp_commands_changed", session_id=self.session_id)
                except Exception as exc:  # the editor went away, a folder vanished: try later
                    log.debug("acp_commands_failed", session_id=self.session_id, error=exc)

    async def stop(self) -> None:
        self.scope.cancel()


async def announce(rt: Runtime, conn: Client, session_id: str, session: Session) -> None:
    """Send the session's commands now, and follow the skills until it closes."""
    watch = CommandWatch(rt, conn, session_id, session)
    await watch.send()
    rt.task_group.start_soon(watch.run, rt.settings.config.skills.watch_interval_s)
    session.add_closer(watch.stop)
