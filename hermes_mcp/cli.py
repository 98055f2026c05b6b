"""The ``hermes-mcp`` command line (DESIGN.md, "Command-line contract").

Exit codes: 0 answered; 1 no route could answer (or the turn ended otherwise than
with an answer); 2 usage or configuration error; 130 ``run`` cancelled by Ctrl-C.
stdout carries the answer (with ``--json``: exactly one JSON object for ``ask``, one
event per line for ``run``); logs go to stderr as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.abc

from hermes_mcp import __version__
from hermes_mcp.cli_sessions import add_parser as add_sessions_parser
from hermes_mcp.cli_sessions import cmd_sessions
from hermes_mcp.cli_skills import add_parser as add_skills_parser
from hermes_mcp.cli_skills import cmd_skills
from hermes_mcp.config import Settings, load_settings
from hermes_mcp.errors import ConfigError, HermesError, NoRouteError, StateError, UsageError
from hermes_mcp.install.command import add_parsers as add_install_parsers
from hermes_mcp.install.command import cmd_install
from hermes_mcp.log import configure_logging, redact
from hermes_mcp.state import open_database
from hermes_mcp.terminal_text import strip_controls
from hermes_mcp.zero_config import cmd_setup

# The router (httpx2, aiohttp) and the agent are imported by the commands that use them,
# not here: `--version`, `sessions` and usage errors start in half the time.

if TYPE_CHECKING:
    from hermes_mcp.agent import Turn, TurnEnd

EXIT_OK, EXIT_NO_ROUTE, EXIT_USAGE = 0, 1, 2
EXIT_CANCELLED = 130  # run: the turn was cancelled (Ctrl-C), as for any SIGINT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hermes-mcp", description="An LLM agent and MCP server over a provider router."
    )
    parser.add_argument("--version", action="version", version=f"hermes-mcp {__version__}")
    loudness = parser.add_mutually_exclusive_group()  # default: $HERMES_MCP_LOG_LEVEL, info
    loudness.add_argument(
        "-v", "--verbose", action="store_const", const="debug", dest="log_level", help="log debug"
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        const="warning",
        dest="log_level",
        help="warnings only",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ask = sub.add_parser("ask", help="one completion through the router, no tools")
    ask.add_argument("--model", help="'<provider>:<model>' to use instead of the default")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("prompt", nargs="+", help="the prompt")

    run = sub.add_parser("run", help="one agent turn with tools in the current directory")
    run.add_argument("--session", metavar="ID", help="continue a stored session")
    run.add_argument("--json", action="store_true", help="print one JSON event per line")
    run.add_argument("prompt", nargs="+", help="the prompt")

    providers = sub.add_parser("providers", help="every credential: state and cooldown")
    providers.add_argument("--json", action="store_true", help="print a JSON list")
    providers.add_argument("--reset", metavar="FINGERPRINT", help="clear a cooldown or dead mark")

    doctor = sub.add_parser("doctor", help="check config, state and providers")
    doctor.add_argument("--probe", action="store_true", help="send one cheap request per key")
    doctor.add_argument("--json", action="store_true", help="print a JSON list of checks")

    add_sessions_parser(sub, _Parser)  # sessions [list|show|search|delete|rename|fork]
    add_skills_parser(sub, _Parser)  # skills [list|show NAME]
    add_install_parsers(sub, _Parser)  # install CLIENT, uninstall CLIENT
    sub.add_parser("setup", help="write a starter config.toml from the API keys that are set")
    _add_serve_parser(sub)
    return parser


def _add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="the stdio server (MCP or ACP)")
    serve.add_argument("--protocol", choices=("auto", "mcp", "acp"), default="auto")
    serve.add_argument(
        "--workspace",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a workspace directory (repeatable); default: the client's roots, else cwd",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """``serve``: stdout is the protocol wire from here on; logs are JSON on stderr."""
    for ws in args.workspace:
        if not ws.expanduser().is_dir():
            _err(f"hermes-mcp: --workspace {ws}: not a directory")
            return EXIT_USAGE
    if args.protocol == "mcp":
        from hermes_mcp.mcp_server import run_mcp_stdio

        return run_mcp_stdio(args.workspace)
    if args.protocol == "acp":
        from acp_adapter import run_acp_stdio  # type: ignore[attr-defined,unused-ignore]

        return int(run_acp_stdio(prefix=b""))
    from hermes_mcp.serve_auto import serve_auto  # the first line decides

    return serve_auto(args.workspace, run_mcp=_run_mcp, run_acp=_run_acp)


def _run_mcp(workspaces: Sequence[Path], prefix: bytes) -> int:
    from hermes_mcp.mcp_server import run_mcp_stdio

    return run_mcp_stdio(list(workspaces), prefix=prefix)


def _run_acp(prefix: bytes) -> int:
    from acp_adapter import run_acp_stdio

    return int(run_acp_stdio(prefix=prefix))


def _out(text: str) -> None:
    """The one place the command line writes to stdout: never a terminal control
    sequence (model text and tool results are untrusted; JSON is escaped already)."""
    text = strip_controls(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(strip_controls(redact(text)).rstrip("\n") + "\n")


def _error_json(cls: str, message: str, provider: str | None = None) -> dict[str, Any]:
    return {
        "error": {"provider": provider, "class": cls, "message": redact(message), "retry_at": None},
        "attempts": [],
    }


async def _ask(settings: Settings, prompt: str, model: str | None) -> dict[str, Any]:
    from hermes_mcp.llm.types import ChatRequest
    from hermes_mcp.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        result = await runtime.router.complete(ChatRequest.of(prompt), model=model)
        return result.to_json()


def cmd_ask(args: argparse.Namespace) -> int:
    prompt = " ".join(args.prompt)
    try:
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        settings = load_settings()
        settings.chain  # noqa: B018  (raises ConfigError when [model] is missing)
        answer = anyio.run(_ask, settings, prompt, args.model)
    except NoRouteError as exc:
        if args.json:
            _out(json.dumps(exc.to_json()))
        else:
            _err(f"hermes-mcp: {exc.message}")
        return EXIT_NO_ROUTE
    except (ConfigError, StateError, UsageError) as exc:
        if args.json:
            kind = {ConfigError: "config", StateError: "state"}.get(type(exc), "usage")
            _out(json.dumps(_error_json(kind, str(exc))))
        else:
            _err(f"hermes-mcp: {exc}")
        return EXIT_USAGE
    if args.json:
        _out(json.dumps(answer))
    else:
        _out(answer["text"])
    return EXIT_OK


async def _cancel_on_sigint(
    turn: Turn, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Ctrl-C cancels the turn, which still ends with its ``turn_end`` (winding down is
    bounded: the model request closes at once, a command gets its kill grace)."""
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            turn.cancel()


async def _run(settings: Settings, prompt: str, session: str | None, as_json: bool) -> TurnEnd:
    from hermes_mcp.runtime import Backends, open_runtime
    from hermes_mcp.tty_approver import approver_for_run

    async with open_runtime(settings) as runtime:
        if settings.config.mcp_servers:  # other MCP servers' tools (imports mcp: only then)
            from hermes_mcp.mcp_client import install

            install(runtime)
        cwd = _session_workspace(runtime.db, session) if session else Path.cwd()
        approver = approver_for_run([cwd])  # asks on a terminal; else refuses, then sums up
        backends = Backends(approver=approver)
        if session is None:
            opened = await runtime.create_session(cwd, title=prompt, backends=backends)
        else:
            opened = await runtime.load_session(session, cwd=cwd, backends=backends)
        async with (
            opened,
            opened.turn(prompt) as turn,
            anyio.create_task_group() as tg,
        ):
            await tg.start(partial(_cancel_on_sigint, turn))
            async for event in turn:
                if as_json:
                    _out(json.dumps(event.to_json()))
            tg.cancel_scope.cancel()
        if turn.outcome is None:
            raise RuntimeError("the turn ended without a turn_end event")
        refusals = approver.summary()
        if refusals:
            _err(refusals)
        return turn.outcome


def _session_workspace(db: Any, session: str) -> Path:
    """A continued session works where it started: its stored cwd, said on stderr when
    that is not the current directory (tools would otherwise act on another tree)."""
    from hermes_mcp.state.sessions import get_session

    info = get_session(db, session)
    here = Path.cwd()
    if info is None or not info.cwd or Path(info.cwd) == here.resolve():
        return here  # an unknown session is reported by the turn itself
    workspace = Path(info.cwd)
    if not workspace.is_dir():
        raise UsageError(f"session {session} works in {workspace}, which no longer exists")
    _err(f"hermes-mcp: session {session} works in {workspace}; continuing there")
    return workspace


def cmd_run(args: argparse.Namespace) -> int:
    """One agent turn. Exit 0 when it ended with an answer (``end_turn``), 130 when it
    was cancelled, 1 for any other ending (error, budget, refusal), 2 for usage,
    configuration or state errors; ``--json`` always ends with a ``turn_end`` line."""
    prompt = " ".join(args.prompt)
    try:
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        settings = load_settings()
        settings.chain  # noqa: B018  (raises ConfigError when [model] is missing)
        end = anyio.run(_run, settings, prompt, args.session, args.json)
    except HermesError as exc:
        if args.json:
            kind = "config" if isinstance(exc, ConfigError) else "state"
            if isinstance(exc, UsageError):  # e.g. --session names no stored session
                kind = "usage"
            message = redact(str(exc))
            error = {"provider": None, "class": kind, "message": message, "retry_at": None}
            end_line = {"type": "turn_end", "stop_reason": "error", "session_id": args.session}
            _out(json.dumps({**end_line, "message": message, "error": error}))
        else:
            _err(f"hermes-mcp: {exc}")
        return EXIT_USAGE
    if not args.json:
        if end.text:
            _out(end.text)
        if end.stop_reason != "end_turn":
            _err(f"hermes-mcp: {end.message or end.stop_reason} (session {end.session_id})")
    if end.stop_reason == "end_turn":
        return EXIT_OK
    return EXIT_CANCELLED if end.stop_reason == "cancelled" else EXIT_NO_ROUTE


def cmd_providers(args: argparse.Namespace) -> int:
    from hermes_mcp.llm.credential_state import CredentialStateStore
    from hermes_mcp.llm.status import credential_report, format_report

    settings = load_settings()
    db = open_database(settings.db_path)
    try:
        store = CredentialStateStore(db)
        if args.reset:
            args.reset = args.reset.strip().lower()  # fingerprints are lower-case hex
            cleared = store.reset(args.reset)
            known = any(
                c.fingerprint == args.reset
                for creds in settings.credentials.values()
                for c in creds
            )
            if not cleared and not known:
                _err(f"hermes-mcp: no credential has fingerprint {args.reset}")
                return EXIT_USAGE
            _err(f"hermes-mcp: reset {args.reset} ({cleared} mark(s) cleared)")
        report = credential_report(settings, store)
    finally:
        db.close()
    _out(json.dumps(report, indent=2) if args.json else format_report(report))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from hermes_mcp.doctor import format_checks, run_doctor

    checks, code = anyio.run(run_doctor, args.probe)
    if args.json:
        _out(json.dumps([c.to_json() for c in checks], indent=2))
    else:
        _out(format_checks(checks))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Short human lines on a terminal, JSON when piped; serve's stderr is always JSON.
    serving = args.command == "serve"
    configure_logging(args.log_level, renderer="json" if serving else "auto", sticky=True)
    try:
        if args.command == "ask":
            return cmd_ask(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "providers":
            return cmd_providers(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "sessions":
            return cmd_sessions(args, _out, _err)
        if args.command == "skills":
            return cmd_skills(args, _out, _err)
        if args.command in ("install", "uninstall"):
            return cmd_install(args, _out, _err)
        if args.command == "setup":
            return cmd_setup(_out)
        if args.command == "serve":
            return cmd_serve(args)
    except HermesError as exc:
        _err(f"hermes-mcp: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_CANCELLED
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
