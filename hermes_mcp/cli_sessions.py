"""``hermes-mcp sessions [list|show ID|search TEXT|delete ID|rename ID TITLE|fork ID]
[--json]``: the stored sessions of ``$HERMES_MCP_HOME/state.db``.

Needs no config file (only the state directory). Exit codes: 0 done (a search without a
hit too); 2 usage or state errors, an unknown session id among them (the message names
it). With ``--json`` stdout holds exactly one JSON object, success or not:
``list`` ``{"sessions": [...], "next_cursor"}``, ``show`` ``{"session", "turns",
"messages"}``, ``search`` ``{"query", "hits": [...]}``, ``delete`` ``{"deleted",
"sessions"}``, ``rename``/``fork`` ``{"session"}``, an error ``{"error": {"class",
"message"}}``. Without it, stdout is plain text (``fork`` prints only the new id).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes_mcp.config import Config, Settings, home_dir
from hermes_mcp.errors import HermesError, StateError, UsageError, iso_utc
from hermes_mcp.log import redact
from hermes_mcp.state import Database, open_database
from hermes_mcp.state.records import CompactionRecord, SessionInfo, SessionRecord, StoredMessage
from hermes_mcp.state.search import search_sessions
from hermes_mcp.state.sessions import (
    SessionNotFound,
    delete_session,
    fork_session,
    get_session,
    list_sessions,
    load_session,
    rename_session,
)

Write = Callable[[str], None]
SHOW_CHARS = 600  # a message's text in `show` without --json


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``sessions`` and its actions on the command line's subparsers."""
    sessions = sub.add_parser("sessions", help="stored sessions: list, show, search, delete")
    sessions.add_argument("--json", action="store_true", help="print one JSON object")
    # A bare `sessions` is `sessions list` with its defaults.
    sessions.set_defaults(cwd=None, here=False, limit=20, cursor=None, all=False)
    actions = sessions.add_subparsers(dest="action", parser_class=parser_class)

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=summary)
        parser.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object"
        )
        return parser

    listing = action("list", summary="newest first (the default action)")
    search = action("search", summary="full-text search over messages and tool results")
    search.add_argument("text", nargs="+", help='words that must all occur; "a phrase"')
    for parser in (listing, search):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--cwd", metavar="PATH", help="only sessions started in PATH")
        where.add_argument("--here", action="store_true", help="only this directory's")
        parser.add_argument("--limit", type=int, default=20, help="at most this many")
    listing.add_argument("--cursor", help="the next page (a previous next_cursor)")
    listing.add_argument("--all", action="store_true", help="delegated tasks too")
    action("show", summary="a session's turns and messages").add_argument("id")
    action("delete", summary="a session and the tasks it delegated").add_argument("id")
    rename = action("rename", summary="give a session a new title")
    rename.add_argument("id")
    rename.add_argument("title", nargs="+")
    fork = action("fork", summary="copy a session into a new one; prints its id")
    fork.add_argument("id")
    fork.add_argument("--title", help="the copy's title (default: '<title> (fork)')")


def cmd_sessions(args: argparse.Namespace, out: Write, err: Write) -> int:
    try:
        db = open_database(Settings(Config(), None, home_dir(), {}).db_path)
        try:
            result, text = _act(db, args)
        except UnicodeError as exc:  # an argument the shell passed in another encoding
            raise UsageError(f"an argument is not valid UTF-8 ({exc})") from None
        finally:
            db.close()
    except HermesError as exc:
        kind = "state" if isinstance(exc, StateError) else "usage"
        if args.json:
            out(json.dumps({"error": {"class": kind, "message": redact(str(exc))}}))
        else:
            err(f"hermes-mcp: {exc}")
        return 2
    # Stored prompts are the user's own words, kept as typed; what leaves for a terminal
    # or a pipe is scrubbed of key-shaped strings like every other output.
    if args.json:
        out(redact(json.dumps(result, indent=2)))
    elif text:
        out(redact(text))
    return 0


def _workspace(args: argparse.Namespace) -> str | None:
    if args.here:
        return str(Path.cwd().resolve())
    return str(Path(args.cwd).expanduser().resolve()) if args.cwd else None


def _act(db: Database, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    action = args.action or "list"
    if action == "list":
        page = list_sessions(
            db, cwd=_workspace(args), limit=args.limit, cursor=args.cursor, children=args.all
        )
        text = "\n".join(_line(s, with_cwd=_workspace(args) is None) for s in page.sessions)
        if page.next_cursor:
            text += f"\n(more: --cursor {page.next_cursor})"
        sessions = [s.to_json() for s in page.sessions]
        return {"sessions": sessions, "next_cursor": page.next_cursor}, text
    if action == "search":
        query = " ".join(args.text)
        hits = search_sessions(db, query, cwd=_workspace(args), limit=args.limit)
        blocks = [
            f"{h.session_id}  {h.title}\n  turn {h.turn}, "
            f"{f'{h.name} result' if h.role == 'tool' and h.name else h.role}: {h.snippet}"
            for h in hits
        ]
        text = "\n".join(blocks) if blocks else f"no matches for {query!r}"
        return {"query": query, "hits": [h.to_json() for h in hits]}, text
    if action == "show":
        record = load_session(db, args.id)
        if record is None:
            raise SessionNotFound.named(args.id)
        return record.to_json(), _transcript(record)
    if action == "delete":
        count = delete_session(db, args.id)
        more = f" (and {count - 1} delegated task session(s))" if count > 1 else ""
        return {"deleted": args.id, "sessions": count}, f"deleted session {args.id}{more}"
    if action == "rename":
        title = " ".join(args.title).strip()
        if not title:
            raise UsageError("sessions rename: the title is empty")
        rename_session(db, args.id, title, time.time())
        return _info(db, args.id)
    new_id = uuid.uuid4().hex
    fork_session(db, args.id, new_id, time.time(), title=args.title)
    return {"session": _info(db, new_id)[0]["session"]}, new_id


def _info(db: Database, session_id: str) -> tuple[dict[str, Any], str]:
    info = get_session(db, session_id)
    if info is None:
        raise SessionNotFound.named(session_id)
    return {"session": info.to_json()}, _line(info, with_cwd=True)


def _when(epoch: float | None) -> str:
    return (iso_utc(epoch) or "-")[:16].replace("T", " ")


def _line(info: SessionInfo, *, with_cwd: bool) -> str:
    turns = f"{info.turn_count} turn{'' if info.turn_count == 1 else 's'}"
    where = f"  ({info.cwd})" if with_cwd else ""
    child = f"  [delegated by {info.parent_id}]" if info.parent_id else ""
    return f"{info.id}  {_when(info.updated_at)}  {turns:>9}  {info.title}{child}{where}"


def _transcript(record: SessionRecord) -> str:
    info = record.info
    cost = f" · ${info.cost_usd:.4f}" if info.cost_usd is not None else ""
    lines = [
        f"session {info.id}  {info.title}",
        f"cwd {info.cwd} · created {_when(info.created_at)} · updated {_when(info.updated_at)}"
        f" · model {info.model or '-'} · {info.input_tokens} in / {info.output_tokens} out"
        f" tokens{cost}",
    ]
    if info.forked_from:
        lines.append(f"forked from {info.forked_from}")
    if info.parent_id:
        lines.append(f"delegated by {info.parent_id}")
    turns = {t.turn: t for t in record.turns}
    marks = sorted(record.compactions, key=lambda c: c.after_message)
    shown = 0
    for message in record.messages:
        while marks and marks[0].after_message < message.id:
            lines.append(_compaction(marks.pop(0)))
        if message.turn != shown:
            shown = message.turn
            turn = turns.get(shown)
            how = "unfinished" if turn is None or turn.ended_at is None else turn.stop_reason
            model = f", {turn.model}" if turn is not None and turn.model else ""
            lines.append(f"\n-- turn {shown} ({how}{model}) --")
        lines.append(_message(message))
    lines.extend(_compaction(mark) for mark in marks)
    return "\n".join(lines)


def _compaction(mark: CompactionRecord) -> str:
    """The marker where the model's history was compacted: what it saw from then on was
    the summary, then the messages below (every message is still shown here)."""
    return (
        f"== context compacted: {mark.tokens_before:,} → {mark.tokens_after:,} tokens; the"
        f" model saw the summary below instead of the messages above ==\n"
        + "\n".join(f"   | {line}" for line in mark.summary.splitlines())
    )


def _message(message: StoredMessage) -> str:
    text = message.content
    if len(text) > SHOW_CHARS:
        text = f"{text[:SHOW_CHARS]}… ({len(text) - SHOW_CHARS} more characters)"
    if message.role == "tool":
        failed = " (error)" if message.is_error else ""
        head = f"tool {message.name} [{message.tool_call_id}]{failed}: "
    else:
        head = f"{message.role}: "
    calls = [
        f"\n  -> {c.get('name')} {json.dumps(c.get('arguments'))} [{c.get('id')}]"
        for c in message.tool_calls
    ]
    return head + text + "".join(calls)
