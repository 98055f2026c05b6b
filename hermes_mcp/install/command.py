"""``hermes-mcp install CLIENT`` / ``uninstall CLIENT``: our entry in a client's config.

``install`` merges the entry (absolute command, ``serve --protocol mcp|acp``, a
``--workspace`` where the client needs one) into the client's file, keeping every other
key and the file's layout (and, for JSONC files, its comments), with a backup beside it;
``--dry-run`` prints the diff and writes nothing. ``uninstall`` removes only our entry.
For ``claude-code`` it prints the ``claude mcp add`` line (``--run`` runs it), unless
``--config`` names a project's ``.mcp.json`` to edit instead.

Exit codes: 0 done (or nothing to do); 1 ``claude`` ran and failed; 2 a usage error, or
a file that is not valid JSON, which is left untouched.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_mcp.errors import UsageError
from hermes_mcp.install.clients import CLIENTS, SERVER_NAME, Client, our_command

if TYPE_CHECKING:  # the editor is imported by the command itself: other commands start faster
    from hermes_mcp.install.merge import Plan

Write = Callable[[str], None]


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``install`` and ``uninstall`` on the command line's subparsers."""
    for name, summary in (
        ("install", "add hermes to a client's config (MCP hosts, Zed over ACP)"),
        ("uninstall", "remove hermes from a client's config, nothing else"),
    ):
        parser: argparse.ArgumentParser = sub.add_parser(name, help=summary)
        parser.add_argument("client", choices=sorted(CLIENTS), help="the client to configure")
        parser.add_argument("--config", metavar="PATH", type=Path, help="the client's file")
        parser.add_argument("--name", default=SERVER_NAME, help="the entry's name (hermes)")
        parser.add_argument("--dry-run", action="store_true", help="print the diff only")
        parser.add_argument(
            "--run", action="store_true", help="claude-code: run the `claude mcp` line"
        )
        if name == "install":
            parser.add_argument(
                "--workspace", metavar="DIR", type=Path, help="the directory tools work in"
            )
            parser.add_argument(
                "--command",
                dest="server_command",
                metavar="PATH",
                help="the hermes-mcp to start (default: the one on PATH)",
            )
        else:
            parser.set_defaults(workspace=None, server_command=None)


def _workspace(client: Client, given: Path | None) -> Path | None:
    if given is None and client.workspace != "fixed":
        return None
    if given is not None and client.protocol == "acp":
        raise UsageError(f"{client.name} names each session's directory itself: no --workspace")
    where = (given or Path.cwd()).expanduser().resolve()
    if not where.is_dir():
        raise UsageError(f"--workspace {where}: not a directory")
    if where == Path(where.anchor):
        raise UsageError("the workspace would be /: pass --workspace DIR (your project)")
    return where


def _command(given: str | None, env: Mapping[str, str]) -> list[str]:
    if given is None:
        return our_command(env)
    path = Path(given).expanduser()
    if not path.is_absolute():
        found = shutil.which(given, path=env.get("PATH"))
        path = Path(found) if found else path.absolute()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise UsageError(f"--command {path}: not an executable file")
    return [str(path)]


def _claude_line(args: argparse.Namespace, client: Client, env: Mapping[str, str]) -> list[str]:
    if args.command == "uninstall":
        return ["claude", "mcp", "remove", "--scope", "user", args.name]
    entry = client.entry(
        _command(args.server_command, env), _workspace(client, args.workspace), env
    )
    extra = [f"--env={k}={v}" for k, v in entry.get("env", {}).items()]
    return ["claude", "mcp", "add", "--scope", "user", *extra, args.name, "--",
            entry["command"], *entry["args"]]  # fmt: skip


def _run_claude(line: list[str], args: argparse.Namespace, out: Write, err: Write) -> int:
    out(shlex.join(line))
    if not args.run or args.dry_run:
        return 0
    claude = shutil.which("claude")
    if claude is None:
        raise UsageError("`claude` is not on PATH: install Claude Code, or run the line above")
    done = subprocess.run([claude, *line[1:]], check=False)
    if done.returncode != 0:
        err(f"hermes-mcp: `claude mcp` exited with {done.returncode}")
        return 1
    return 0


def _report(plan: Plan, client: Client, name: str, backup: Path | None, out: Write) -> None:
    where = f"{client.title} ({plan.path})"
    if plan.action == "unchanged":
        out(f"{name} is already in {where}: nothing to do")
    elif plan.action == "absent":
        out(f"{name} is not in {where}: nothing to do")
    else:
        out(f"{plan.action} {name} in {where}")
        if backup is not None:
            out(f"backup of the previous file: {backup}")
        if plan.action != "removed":
            out(f"restart {client.title} (or reload its servers) to start it")


def cmd_install(args: argparse.Namespace, out: Write, err: Write) -> int:
    """``install`` and ``uninstall`` (``args.command`` says which)."""
    from hermes_mcp.install.merge import plan_install, plan_uninstall, write_plan

    client = CLIENTS[args.client]
    env = os.environ
    if args.run and client.name != "claude-code":
        raise UsageError("--run is for claude-code only")
    if client.name == "claude-code" and args.config is None:
        return _run_claude(_claude_line(args, client, env), args, out, err)
    path = (args.config or client.default_path(env)).expanduser().absolute()
    entry: dict[str, Any] = {}
    if args.command == "install":
        entry = client.entry(
            _command(args.server_command, env), _workspace(client, args.workspace), env
        )
        plan = plan_install(path, client.container, args.name, entry, jsonc=client.jsonc)
    else:
        plan = plan_uninstall(path, client.container, args.name, jsonc=client.jsonc)
    if args.dry_run:
        out(plan.diff() if plan.changes else f"no change to {plan.path}")
        return 0
    backup = write_plan(plan) if plan.changes else None
    _report(plan, client, args.name, backup, out)
    if args.command == "install":
        _check_keys(client, env, plan_entry_env(entry), err)
    return 0


def plan_entry_env(entry: Mapping[str, Any]) -> dict[str, str]:
    found = entry.get("env")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _check_keys(
    client: Client, env: Mapping[str, str], entry_env: dict[str, str], err: Write
) -> None:
    """Say what keeps the server the client starts from answering (it runs with a
    minimal environment), and what to do; the entry is written either way."""
    from hermes_mcp.install.check import desktop_problems

    for problem in desktop_problems(client.title, env, entry_env):
        err(f"hermes-mcp: warning: {problem}")
