"""The runtime behind the edge, loaded in the background.

Importing the router, its HTTP clients and the agent core takes longer than an editor
should wait for ``initialize`` or ``session/new`` (see ``bench/acp.py``). The settings
are read up front (the config is small and answers ``session/new``); the first request
starts the rest: the heavy modules are imported in a worker thread, then the runtime is
opened in the connection's task group and stays open until the connection ends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from acp import RequestError
from acp.interfaces import Client
from acp.schema import ClientCapabilities

from acp_adapter.errors import config_error
from hermes_mcp.config import Config, Settings, load_settings
from hermes_mcp.errors import ConfigError, StateError
from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    from pathlib import Path

    from acp_adapter.live import Live
    from hermes_mcp.runtime import Runtime
    from hermes_mcp.state import Database

log = get_logger("acp_adapter.host")


class RuntimeHost:
    def __init__(self, task_group: anyio.abc.TaskGroup) -> None:
        self._tg = task_group
        self._settings: Settings | None = None
        self._problem: ConfigError | None = None
        try:
            self._settings = load_settings(required=False)
        except ConfigError as exc:
            self._problem = exc
        self._started = False
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._change = anyio.Event()
        self._runtime: Runtime | None = None
        self._error: BaseException | None = None
        self._live: Live | None = None
        self._db: Database | None = None  # for session/new's row, before the runtime

    def config(self) -> Config:
        if self._settings is None:
            raise config_error(str(self._problem), file=self._file())
        return self._settings.config

    def _file(self) -> str | None:
        return getattr(self._problem, "file", None)

    async def reserve(self, session_id: str, cwd: Path) -> None:
        """Store a new session at once (``session/new``), before the runtime is open, so
        that ``session/load`` and ``session/resume`` find it after a restart even if it
        was never prompted. The database is the light base layer (sqlite only)."""
        import time

        from hermes_mcp.state import open_database
        from hermes_mcp.state.sessions import reserve_session

        settings = self._settings
        if settings is None:
            raise config_error(str(self._problem), file=self._file())

        def store() -> None:
            if self._db is None:
                self._db = open_database(settings.db_path)
            reserve_session(self._db, session_id, str(cwd), time.time())

        try:
            await anyio.to_thread.run_sync(store)
        except StateError as exc:
            raise RequestError.internal_error({"class": "state", "message": str(exc)}) from None

    def settings_problem(self) -> str | None:
        """Why no turn can be answered from this config (``None``: one can)."""
        if self._settings is None:
            return str(self._problem)
        try:
            self._settings.chain  # noqa: B018
        except ConfigError as exc:
            return str(exc)
        return None

    def start(self) -> None:
        """Begin loading (idempotent)."""
        if not self._started:
            self._started = True
            self._tg.start_soon(self._serve)

    async def _serve(self) -> None:
        try:
            await anyio.to_thread.run_sync(importlib.import_module, "acp_adapter.live")
            from hermes_mcp.runtime import open_runtime

            while not self._stop.is_set():
                if self._settings is None:
                    self._error = self._problem
                    self._ready.set()
                    await self._wait_for_change()
                    continue
                async with open_runtime(self._settings) as runtime:
                    self._runtime, self._live, self._error = runtime, None, None
                    self._ready.set()
                    await self._wait_for_change()
                    self._runtime = None
        except Exception as exc:  # reported to every request that needs the runtime
            log.error("acp_runtime_failed", error=str(exc))
            self._error = exc
        finally:
            self._ready.set()

    async def _wait_for_change(self) -> None:
        """Until stop() or restart(); then requests wait for the next runtime."""
        await self._change.wait()
        self._change = anyio.Event()

    def reload(self) -> str | None:
        """Read the config again (after ``hermes-acp --setup``); the problem that stops a
        turn, or ``None`` when a turn can be answered."""
        try:
            settings = load_settings(required=False)
        except ConfigError as exc:
            return str(exc)
        self._settings, self._problem = settings, None
        return self.settings_problem()

    async def restart(self) -> bool:
        """Open the runtime again on the reloaded config when the open one cannot answer
        a turn; whether it was restarted (its sessions are closed: reopen them)."""
        if not self._started:
            return False
        await self._ready.wait()
        if self._runtime is not None and self._runtime.problem is None:
            return False
        self._ready = anyio.Event()  # requests from now on wait for the new runtime
        self._runtime = None
        self._change.set()
        await self._ready.wait()
        return True

    async def live(self, conn: Client, caps: ClientCapabilities) -> Live:
        """The handlers that need the runtime, once it is open."""
        self.start()
        await self._ready.wait()
        if self._runtime is None:
            if isinstance(self._error, ConfigError):
                raise config_error(str(self._error), file=self._error.file)
            raise RequestError.internal_error(
                {"class": "internal", "message": f"the runtime could not start: {self._error}"}
            )
        if self._live is None:
            from acp_adapter.live import Live

            self._live = Live(self._runtime, conn, caps)
        return self._live

    def stop(self) -> None:
        self._stop.set()
        self._change.set()
        if self._db is not None:
            self._db.close()
            self._db = None
