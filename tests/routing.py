"""Test harness for the router: configs pointing at the fake provider, settings, routers
and the CLI run as a real subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from hermes_mcp.config import Settings, load_settings
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.router import Router
from hermes_mcp.state import open_database
from hermes_mcp.zero_config import KEY_VARIABLES
from tests.keys import seen

HERMES = str(Path(sys.executable).parent / "hermes-mcp")


class Sleeps:
    """Records the router's sleeps instead of sleeping (jitter before a retry)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Home:
    """A ``$HERMES_MCP_HOME`` with a config file and the env vars its credentials name."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)

    def write(
        self,
        providers: dict[str, dict[str, Any]],
        default: str,
        fallbacks: tuple[str, ...] = (),
    ) -> None:
        """``providers``: name → {"url", "keys": [secrets], "strategy"?, "wire"?}."""
        lines = ["[model]", f'default = "{default}"', f"fallbacks = {json.dumps(list(fallbacks))}"]
        for name, spec in providers.items():
            refs = []
            for i, key in enumerate(spec["keys"]):
                if key == "none" or key.startswith(("sa:", "oauth:")):
                    refs.append(key)
                    continue
                var = f"HERMES_TEST_{name.upper()}_{i}"
                self.env[var] = key
                refs.append(f"env:{var}")
            lines += [
                f"[providers.{name}]",
                f'wire = "{spec.get("wire", "openai")}"',
                f'base_url = "{spec["url"]}"',
                f"credentials = {json.dumps(refs)}",
                f'strategy = "{spec.get("strategy", "fill_first")}"',
                f"read_timeout_s = {spec.get('read_timeout_s', 30)}",
            ]
            for extra in (
                "first_token_timeout_s",
                "idle_timeout_s",
                "total_timeout_s",
                "project",
                "location",
                "token_url",
            ):
                if extra in spec:
                    lines.append(f"{extra} = {json.dumps(spec[extra])}")
            for model, facts in spec.get("models", {}).items():
                lines.append(f"[providers.{name}.models.{json.dumps(model)}]")
                lines += [f"{key} = {json.dumps(value)}" for key, value in facts.items()]
        (self.path / "config.toml").write_text("\n".join(lines) + "\n")

    @property
    def process_env(self) -> dict[str, str]:
        env = {  # no hermes settings, and no real API key (zero-config would use it)
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HERMES_") and k not in KEY_VARIABLES
        }
        return {**env, **self.env, "HERMES_MCP_HOME": str(self.path)}

    def settings(self) -> Settings:
        for var, value in self.env.items():
            os.environ[var] = value
        try:
            return load_settings(env={"HERMES_MCP_HOME": str(self.path)})
        finally:
            for var in self.env:
                os.environ.pop(var, None)


@asynccontextmanager
async def router_for(
    home: Home, *, clock: Clock | None = None, sleeps: Sleeps | None = None
) -> AsyncIterator[Router]:
    settings = home.settings()
    db = open_database(settings.db_path)
    kwargs: dict[str, Any] = {"sleep": sleeps or Sleeps()}
    if clock is not None:
        kwargs["clock"] = clock
    store = CredentialStateStore(db, clock) if clock else CredentialStateStore(db)
    try:
        async with Router(settings, store, **kwargs) as router:
            yield router
    finally:
        db.close()


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


#: Commands that need a process of their own: ``run`` answers Ctrl-C (a signal receiver
#: needs the main thread), ``serve`` owns the stdio wire.
PROCESS_ONLY = frozenset({"run", "serve"})


async def hermes(home: Home, *args: str, limit_s: float = 30.0) -> Ran:
    """``hermes-mcp ARGS`` as a process started with ``home.process_env`` would run it:
    its entry point (``cli.main``) in a worker thread of this process, with that
    environment, an empty stdin, and its stdout and stderr captured; exit code as
    ``sys.exit(main())`` gives it. :data:`PROCESS_ONLY` commands run as a real process
    (:func:`hermes_process`); so do the tests about start-up, signals and the wire."""
    if args and args[0] in PROCESS_ONLY:
        return await hermes_process(home, *args, limit_s=limit_s)
    with anyio.fail_after(limit_s):
        code, out, err = await anyio.to_thread.run_sync(
            main_in_process, home.process_env, args, abandon_on_cancel=True
        )
    seen(out)
    seen(err)
    return Ran(code, out, err)


#: One in-process run at a time: the environment and the standard streams are the
#: process's (tests that need runs at once, e.g. processes racing, use hermes_process).
_ONE_AT_A_TIME = threading.Lock()


def main_in_process(
    env: dict[str, str], args: tuple[str, ...], *, one_at_a_time: bool = True
) -> tuple[int, str, str]:
    """``cli.main(ARGS)`` with ``env`` as the environment: (exit code, stdout, stderr).
    ``one_at_a_time`` False: in a forked child (the lock may have been held at the fork)."""
    from hermes_mcp import cli
    from tests.in_process import environment, logging_restored

    out, err = io.StringIO(), io.StringIO()
    streams = sys.stdin, sys.stdout, sys.stderr
    lock = _ONE_AT_A_TIME if one_at_a_time else contextlib.nullcontext()
    with lock, environment(env), logging_restored():
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(), out, err
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse: usage errors and --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.stdin, sys.stdout, sys.stderr = streams
    return code, out.getvalue(), err.getvalue()


async def hermes_process(home: Home, *args: str, limit_s: float = 30.0) -> Ran:
    """Run the installed ``hermes-mcp`` console script as a real process."""
    with anyio.fail_after(limit_s):
        proc = await anyio.run_process([HERMES, *args], env=home.process_env, check=False)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    seen(out)
    seen(err)
    return Ran(proc.returncode, out, err)
