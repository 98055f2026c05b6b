"""The configuration contract (DESIGN.md): one frozen, typed tree read once at the entry
point from ``$HERMES_MCP_CONFIG`` or ``$HERMES_MCP_HOME/config.toml``.

Unknown keys are errors. Every error names the file, the dotted key and what is wrong.
Credentials are resolved while loading, so a missing environment variable is reported
here, not at the first request.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hermes_mcp.credentials import Credential, CredentialRefError, dedupe, resolve
from hermes_mcp.errors import ConfigError

PROVIDER_NAME = re.compile(r"^[a-z0-9_-]+$")

Wire = Literal["openai", "anthropic", "gemini", "vertex"]
Strategy = Literal["fill_first", "round_robin", "least_used", "random"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ModelRef:
    """``<provider>:<model>``, split at the first colon (``local:qwen3:8b`` is fine)."""

    provider: str
    model: str

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        provider, sep, model = text.partition(":")
        if not sep or not model:
            raise ValueError(f"{text!r} is not '<provider>:<model>'")
        if not PROVIDER_NAME.match(provider):
            raise ValueError(f"provider name {provider!r} must match {PROVIDER_NAME.pattern}")
        return cls(provider, model)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


class ModelSection(_Strict):
    default: str
    fallbacks: list[str] = Field(default_factory=list)

    @field_validator("default")
    @classmethod
    def _default_ref(cls, value: str) -> str:
        ModelRef.parse(value)
        return value

    @field_validator("fallbacks")
    @classmethod
    def _fallback_refs(cls, value: list[str]) -> list[str]:
        for item in value:
            ModelRef.parse(item)
        return value

    @cached_property
    def chain(self) -> list[ModelRef]:
        return [ModelRef.parse(self.default), *(ModelRef.parse(f) for f in self.fallbacks)]


class ModelSettings(_Strict):
    """Per-model facts that override the built-in profile table, and prices."""

    context_window: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    tools: bool | None = None
    vision: bool | None = None
    streaming: bool | None = None
    input_per_mtok: float | None = Field(default=None, ge=0)  # USD per million tokens
    output_per_mtok: float | None = Field(default=None, ge=0)
    cached_per_mtok: float | None = Field(default=None, ge=0)  # default: the input price


class ProviderSection(_Strict):
    wire: Wire
    base_url: str
    credentials: list[str] = Field(min_length=1)
    strategy: Strategy = "fill_first"
    project: str | None = None
    location: str | None = None
    token_url: str | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=300.0, gt=0)
    first_token_timeout_s: float = Field(default=60.0, gt=0)
    idle_timeout_s: float = Field(default=60.0, gt=0)
    total_timeout_s: float = Field(default=900.0, gt=0)
    models: dict[str, ModelSettings] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class AgentSection(_Strict):
    max_iterations: int = Field(default=50, ge=1)
    max_duration_s: float = Field(default=900.0, gt=0)
    max_cost_usd: float = Field(default=5.0, ge=0)
    toolsets: list[str] = Field(
        default_factory=lambda: ["files", "terminal", "web", "memory", "planning", "delegation"]
    )


class DelegationSection(_Strict):
    max_concurrency: int = Field(default=4, ge=1)
    max_depth: int = Field(default=2, ge=0)


PolicyMode = Literal["ask", "accept_edits", "auto"]
POLICY_MODES: tuple[PolicyMode, ...] = ("ask", "accept_edits", "auto")


class PolicySection(_Strict):
    mode: PolicyMode = "ask"
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    approval_timeout_s: float = Field(default=300.0, gt=0, le=86_400)


# -- [mcp_servers.NAME]: other MCP servers whose tools the agent may use (mcp_client/) ---
MCP_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class McpServerSection(_Strict):
    """One MCP server: a command (stdio) or a URL (Streamable HTTP). Values of ``env`` and
    ``headers`` may be ``env:NAME`` references, resolved when the server is connected and
    redacted from every output like credentials."""

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    transport: Literal["http", "sse"] = "http"  # a url server: Streamable HTTP, or old SSE
    enabled: bool = True
    tools: list[str] | None = None  # an allow-list of the server's tool names
    timeout_s: float = Field(default=120.0, gt=0)  # per call
    startup_timeout_s: float = Field(default=30.0, gt=0)  # start, handshake, tools/list

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSection:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (a stdio server) or url (Streamable HTTP)")
        if self.url is not None and (self.args or self.env or self.cwd is not None):
            raise ValueError("args, env and cwd are for a command; a url server takes headers")
        if self.command is not None and (self.headers or self.transport != "http"):
            raise ValueError("headers and transport are for a url server")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class Config(_Strict):
    model: ModelSection | None = None
    providers: dict[str, ProviderSection] = Field(default_factory=dict)
    agent: AgentSection = Field(default_factory=AgentSection)
    delegation: DelegationSection = Field(default_factory=DelegationSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    mcp_servers: dict[str, McpServerSection] = Field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything the entry point hands down: the config, where it came from, the state
    directory, and each provider's resolved, de-duplicated credentials."""

    config: Config
    source: Path | None
    home: Path
    credentials: dict[str, list[Credential]]

    @property
    def chain(self) -> list[ModelRef]:
        if self.config.model is None:
            raise ConfigError("no [model] section: set model.default", file=self._file)
        return self.config.model.chain

    @property
    def _file(self) -> str | None:
        return str(self.source) if self.source else None

    @property
    def db_path(self) -> Path:
        return self.home / "state.db"


def home_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    return Path(env.get("HERMES_MCP_HOME") or "~/.hermes-mcp").expanduser()


def config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    explicit = env.get("HERMES_MCP_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return home_dir(env) / "config.toml"


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(data: dict[str, Any], file: str | None) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        elif first["type"] == "literal_error":
            message = f"{message} (got {first.get('input')!r})"
        message = message.removeprefix("Value error, ")
        extra = len(exc.errors()) - 1
        if extra:
            message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
        raise ConfigError(message, file=file, key=_dotted(loc)) from None
    for name in config.providers:
        if not PROVIDER_NAME.match(name):
            raise ConfigError(
                f"provider name must match {PROVIDER_NAME.pattern}",
                file=file,
                key=f"providers.{name}",
            )
    for name in config.mcp_servers:
        if not MCP_SERVER_NAME.match(name) or "__" in name:
            raise ConfigError(
                f"server name must match {MCP_SERVER_NAME.pattern} without '__'",
                file=file,
                key=f"mcp_servers.{name}",
            )
    if config.model is not None:
        refs = [("model.default", config.model.default)] + [
            (f"model.fallbacks[{i}]", f) for i, f in enumerate(config.model.fallbacks)
        ]
        for key, text in refs:
            ref = ModelRef.parse(text)
            if ref.provider not in config.providers:
                raise ConfigError(
                    f"names provider {ref.provider!r}, which has no [providers.{ref.provider}]",
                    file=file,
                    key=key,
                )
    for name, section in config.providers.items():
        if section.wire == "vertex" and not (section.project and section.location):
            raise ConfigError(
                "a vertex provider needs project and location", file=file, key=f"providers.{name}"
            )
        for i, cred_ref in enumerate(section.credentials):
            if cred_ref.startswith(("sa:", "oauth:")) and section.wire != "vertex":
                raise ConfigError(
                    'sa: and oauth: credentials are for wire = "vertex"',
                    file=file,
                    key=f"providers.{name}.credentials[{i}]",
                )
    return config


def resolve_credentials(config: Config, file: str | None) -> dict[str, list[Credential]]:
    out: dict[str, list[Credential]] = {}
    for name, section in config.providers.items():
        creds: list[Credential] = []
        for i, ref in enumerate(section.credentials):
            try:
                creds.append(resolve(ref))
            except CredentialRefError as exc:
                raise ConfigError(
                    str(exc), file=file, key=f"providers.{name}.credentials[{i}]"
                ) from None
        out[name] = dedupe(creds)
    return out


def load_settings(
    path: Path | None = None, env: dict[str, str] | None = None, *, required: bool = True
) -> Settings:
    """Read, validate and resolve the configuration. A missing file is an error when
    ``required``; otherwise it yields the defaults (no providers)."""
    source = path or config_path(env)
    home = home_dir(env)
    if not source.exists():
        if required:
            raise ConfigError(
                "no config file here; create it (see README) or set HERMES_MCP_CONFIG",
                file=str(source),
            )
        return Settings(Config(), None, home, {})
    file = str(source)
    try:
        data = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    config = parse_config(data, file)
    return Settings(config, source, home, resolve_credentials(config, file))
