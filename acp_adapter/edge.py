"""One ACP session as this connection holds it: the runtime's session (once it exists),
the event mapper, the terminal links, its prompt queue (``queue.py``), and whether the
title was announced.

Light on purpose (``session/new`` builds one before the runtime has loaded): the
runtime's :class:`~hermes_mcp.agent.session.Session` arrives through :meth:`opened`, or
the reason it could not be opened through :meth:`failed`; requests on the session wait
for either with :meth:`wait`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from acp import RequestError

from acp_adapter.queue import PromptQueue
from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    from acp_adapter.editor import TerminalLinks
    from acp_adapter.mapping import UpdateMapper
    from hermes_mcp.agent.session import Session

log = get_logger("acp_adapter.edge")


class EdgeSession:
    def __init__(self, session_id: str, cwd: Path) -> None:
        self.id = session_id
        self.cwd = cwd
        self.titled = False
        self.mapper: UpdateMapper | None = None
        self.links: TerminalLinks | None = None
        self._session: Session | None = None
        self._error: BaseException | None = None
        self._ready = anyio.Event()
        self._closed = False
        self.prompts = PromptQueue()  # one prompt at a time, the others waiting in order

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def closed(self) -> bool:
        return self._closed

    def opened(self, session: Session, mapper: UpdateMapper, links: TerminalLinks) -> None:
        self._session, self.mapper, self.links = session, mapper, links
        self._ready.set()

    def failed(self, exc: BaseException) -> None:
        log.warning("acp_session_open_failed", session_id=self.id, error=str(exc))
        self._error = exc
        self._ready.set()

    async def wait(self) -> Session:
        await self._ready.wait()
        if self._session is None:
            raise RequestError.internal_error(
                {"sessionId": self.id, "message": f"the session could not be opened: {self._error}"}
            )
        if self._closed or self._session.closed:
            raise RequestError.invalid_params(
                {"sessionId": self.id, "message": f"session {self.id!r} is closed"}
            )
        return self._session

    def cancel(self) -> None:
        """``session/cancel``: the running prompt and those waiting now."""
        self.prompts.cancel_waiting()
        if self._session is not None:
            self._session.cancel()

    async def close(self) -> None:
        self._closed = True
        self.prompts.cancel_waiting()  # they answer cancelled; none starts on a closed session
        if self._session is not None:
            await self._session.close()
