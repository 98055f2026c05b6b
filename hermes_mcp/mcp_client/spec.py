"""What an MCP server is, wherever it was described: ``[mcp_servers.NAME]`` in the config,
or an editor's ``mcpServers`` in ACP ``session/new``.

A :class:`ServerSpec` is resolved: ``env:NAME`` references in ``env`` and ``headers``
have been read from the environment and registered with the log redactor, so neither
a log line, an error nor a tool result can carry them. Values written literally (in
the config, or by the editor) are registered too when their name says they are secret
(``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``Authorization``, ``Cookie``...):
registering every value would scrub words such as ``true`` from every tool result.

A spec that cannot be resolved (a variable that is not set) is kept with its
``problem`` set: the server is named and left out, the session goes on.

This module imports no ``mcp``: the config and ``doctor`` can use it cheaply.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from hermes_mcp.config import Config, McpServerSection
from hermes_mcp.log import register_secret

Transport = Literal["stdio", "http", "sse"]
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_SECRET_NAMES = re.compile(r"token|key|secret|passw|auth|cookie|credential|session|pat$", re.I)


MAX_LINE_BYTES = McpServerSection.model_fields["max_line_bytes"].default


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server to connect. ``name`` prefixes its tools (``<name>__<tool>``)."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    tools: tuple[str, ...] | None = None  # allow-list of the server's own tool names
    timeout_s: float = 120.0
    startup_timeout_s: float = 30.0
    max_line_bytes: int = MAX_LINE_BYTES  # a stdio server's longest message
    source: str = "config"  # "config" or "editor": said in messages about the server
    problem: str | None = None  # why it cannot be started (it is then left out)

    @property
    def where(self) -> str:
        """What the server is, for a person: the command or the URL (no secrets)."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""


def server_name(text: str) -> str:
    """A name usable as a tool prefix: letters, digits, ``_`` and ``-``; no ``__``."""
    name = _NAME_CHARS.sub("_", text.strip()).strip("_-")
    while "__" in name:
        name = name.replace("__", "_")
    return name[:32] or "server"


def _secret_if_named(name: str, value: str) -> str:
    if _SECRET_NAMES.search(name):
        register_secret(value)
    return value


def _resolve(name: str, value: str, key: str, file: str | None) -> str:
    """``env:NAME`` from the environment (registered as a secret); anything else as is."""
    if not value.startswith("env:"):
        return _secret_if_named(name, value)
    var = value[4:]
    resolved = os.environ.get(var)
    if not resolved:
        where = f"{file}: " if file else ""
        raise LookupError(f"{where}{key}: environment variable {var} is not set")
    register_secret(resolved)
    return resolved


def from_section(
    name: str, section: McpServerSection, file: str | None, *, cwd: Path | None = None
) -> ServerSpec:
    """The spec of ``[mcp_servers.NAME]``; a relative ``cwd`` starts at ``cwd``."""
    base = ServerSpec(
        name=name,
        transport="stdio" if section.command is not None else section.transport,
        command=section.command,
        args=tuple(section.args),
        url=section.url,
        tools=None if section.tools is None else tuple(section.tools),
        timeout_s=section.timeout_s,
        startup_timeout_s=section.startup_timeout_s,
        max_line_bytes=section.max_line_bytes,
    )
    prefix = f"mcp_servers.{name}"
    try:
        env = {k: _resolve(k, v, f"{prefix}.env.{k}", file) for k, v in section.env.items()}
        headers = {
            k: _resolve(k, v, f"{prefix}.headers.{k}", file) for k, v in section.headers.items()
        }
    except LookupError as exc:
        return replace(base, problem=str(exc))
    where = Path(section.cwd).expanduser() if section.cwd else None
    if where is not None and not where.is_absolute() and cwd is not None:
        where = cwd / where
    return replace(base, env=env, headers=headers, cwd=where or cwd)


def specs_from_config(
    config: Config, file: str | None, *, cwd: Path | None = None
) -> list[ServerSpec]:
    """The enabled ``[mcp_servers]``, in the config's order."""
    return [
        from_section(name, section, file, cwd=cwd)
        for name, section in config.mcp_servers.items()
        if section.enabled
    ]


def from_acp(server: Any, *, timeout_s: float = 120.0) -> ServerSpec:
    """The spec of one entry of ACP ``session/new`` ``mcpServers``: ``McpServerStdio``
    (command, args, env), ``HttpMcpServer`` or ``SseMcpServer`` (url, headers), as the
    ACP SDK's models (``acp.schema``) or their JSON shapes. Anything else (``acp``
    servers, unknown types) comes back with ``problem`` set."""
    data: dict[str, Any] = (
        server.model_dump(by_alias=True) if hasattr(server, "model_dump") else dict(server)
    )
    raw_name = str(data.get("name") or "server")
    name = server_name(raw_name)
    kind = data.get("type") or ("stdio" if "command" in data else None)
    if kind == "stdio":
        env = {str(e["name"]): str(e["value"]) for e in data.get("env") or ()}
        for key, value in env.items():
            _secret_if_named(key, value)
        return ServerSpec(
            name=name,
            transport="stdio",
            command=str(data["command"]),
            args=tuple(str(a) for a in data.get("args") or ()),
            env=env,
            timeout_s=timeout_s,
            source="editor",
        )
    if kind in ("http", "sse"):
        headers = {str(h["name"]): str(h["value"]) for h in data.get("headers") or ()}
        for key, value in headers.items():
            _secret_if_named(key, value)
        return ServerSpec(
            name=name,
            transport="http" if kind == "http" else "sse",
            url=str(data["url"]),
            headers=headers,
            timeout_s=timeout_s,
            source="editor",
        )
    return ServerSpec(
        name=name,
        transport="stdio",
        source="editor",
        problem=f"MCP server {raw_name!r}: transport {kind!r} is not supported (stdio, http, sse)",
    )


def specs_from_acp(servers: Sequence[Any]) -> list[ServerSpec]:
    """Every entry of ``mcpServers``; names made unique (``name``, ``name-2``...)."""
    out: list[ServerSpec] = []
    taken: set[str] = set()
    for server in servers:
        spec = from_acp(server)
        name, n = spec.name, 1
        while name in taken:
            n += 1
            name = f"{spec.name}-{n}"
        taken.add(name)
        out.append(replace(spec, name=name))
    return out
