"""The configuration contract (DESIGN.md): one frozen, typed tree read once at the entry
point from ``$HERMES_MCP_CONFIG`` or ``$HERMES_MCP_HOME/config.toml``.

Unknown keys are errors. Every error names the file, the dotted key and what is wrong.
Credentials are resolved while loading, so a missing environment variable is reported
here, not at the first request.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hermes_mcp import env_chain
from hermes_mcp.credentials import Credential, CredentialRefError, dedupe, resolve
from hermes_mcp.errors import ConfigError
from hermes_mcp.log import get_logger

PROVIDER_NAME = re.compile(r"^[a-z0-9_-]+$")

Wire = Literal["openai", "responses", "anthropic", "gemini", "vertex"]
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
    # USD per million tokens
    input_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    output_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # default: the input price
    cached_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # tokens written to the provider's prompt cache (Anthropic: 1.25x input); default:
    # the input price
    cache_write_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # How hard the model thinks, mapped per wire (reasoning_effort, reasoning.effort,
    # Anthropic thinking budgets, Gemini thinkingConfig); absent: nothing is sent.
    reasoning: Literal["off", "low", "medium", "high"] | None = None


# A timeout must be a finite number of seconds, and one a clock can add to now.
MAX_TIMEOUT_S = 7 * 24 * 3600.0
MAX_CONFIG_BYTES = 1024 * 1024


def _timeout(default: float) -> Any:
    return Field(default=default, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)


class ProviderSection(_Strict):
    wire: Wire
    base_url: str
    credentials: list[str] = Field(min_length=1)
    strategy: Strategy = "fill_first"
    project: str | None = None
    location: str | None = None
    token_url: str | None = None
    connect_timeout_s: float = _timeout(10.0)
    read_timeout_s: float = _timeout(300.0)
    first_token_timeout_s: float = _timeout(60.0)
    idle_timeout_s: float = _timeout(60.0)
    total_timeout_s: float = _timeout(900.0)
    # The largest non-streamed answer read (bytes); an error body is read up to 64 KiB.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    models: dict[str, ModelSettings] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        # Messages never repeat the value: it may hold a password.
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError for a port that is not one)
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if "@" in parts.netloc:
            raise ValueError(
                "must not hold a user name or password (user:pass@); put the secret in credentials"
            )
        if not parts.hostname:
            raise ValueError("has no host")
        if any(c.isspace() for c in value):
            raise ValueError("must not contain spaces")
        return value.rstrip("/")


class AgentSection(_Strict):
    max_iterations: int = Field(default=50, ge=1)
    max_duration_s: float = _timeout(900.0)
    max_cost_usd: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    toolsets: list[str] = Field(
        default_factory=lambda: [
            "files",
            "terminal",
            "web",
            "memory",
            "planning",
            "skills",
            "delegation",
            "code",
        ]
    )
    # execute_code: a script's wall time (waits for a person excluded) and its tool calls
    code_timeout_s: float = _timeout(60.0)
    code_max_calls: int = Field(default=200, ge=1, le=10_000)


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


MCP_TOOLSETS: tuple[str, ...] = (
    "files",
    "terminal",
    "web",
    "memory",
    "planning",
    "skills",
    "agent",
)


class McpSection(_Strict):
    """``serve --protocol mcp``: which tools the MCP server offers, and its jobs."""

    toolsets: list[str] = Field(default_factory=lambda: list(MCP_TOOLSETS))
    job_retention_s: float = Field(default=3600.0, gt=0)  # finished agent_start jobs kept
    # No longer used (jobs keep no event log): accepted so that older config files load.
    job_log_events: int | None = Field(default=None, ge=1, exclude=True)
    max_jobs: int = Field(default=16, ge=1)  # background jobs running at once
    progress_interval_s: float = Field(default=4.0, gt=0, le=5.0)

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value).difference(MCP_TOOLSETS))
        if unknown:
            raise ValueError(
                f"unknown toolset(s) {', '.join(unknown)}: choose from {', '.join(MCP_TOOLSETS)}"
            )
        return value


class SkillsSection(_Strict):
    """``[skills]``: the learning nudge and how often the skill folders are looked at."""

    # After this many tool calls in one turn the model is reminded that it may save what
    # it learned as a skill (or improve the one it followed); 0 never reminds.
    learn_after_tool_calls: int = Field(default=12, ge=0)
    # How often the MCP and ACP edges look for changed skills (list_changed, commands).
    watch_interval_s: float = Field(default=2.0, gt=0, le=3600)


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
    # A stdio server's longest message line; a longer one fails the call it answers.
    max_line_bytes: int = Field(default=16 * 1024 * 1024, ge=4096)

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
    mcp: McpSection = Field(default_factory=McpSection)
    skills: SkillsSection = Field(default_factory=SkillsSection)
    mcp_servers: dict[str, McpServerSection] = Field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything the entry point hands down: the config, where it came from, the state
    directory, and each provider's resolved, de-duplicated credentials."""

    config: Config
    source: Path | None
    home: Path
    credentials: dict[str, list[Credential]]
    # Problems that stop nothing: credentials of providers no model chain uses.
    warnings: tuple[str, ...] = ()

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


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The valid key names of the section holding ``loc``'s last part (for suggestions)."""
    kind: Any = Config
    for part in loc[:-1]:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        elif typing.get_origin(kind) in (dict, list):
            kind = typing.get_args(kind)[-1]
        else:
            return []
        while typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return list(kind.model_fields)
    return []


def _problem(error: Any) -> tuple[str, str]:
    """(dotted key, what is wrong) of one pydantic error, never echoing the value."""
    loc = tuple(error["loc"])
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
        near = difflib.get_close_matches(str(loc[-1]), _fields_at(loc), n=1, cutoff=0.6)
        if near:
            message += f" (did you mean {near[0]!r}?)"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    elif error["type"] == "finite_number":
        message = "must be a finite number"
    return _dotted(loc), message.removeprefix("Value error, ")


def _raise_all(problems: list[tuple[str, str]], file: str | None) -> None:
    """One ConfigError listing every problem (unknown keys first: a misspelt key also
    makes its real name look missing)."""
    if not problems:
        return
    problems.sort(key=lambda p: not p[1].startswith("unknown key"))
    key, message = problems[0]
    for other_key, other in problems[1:]:
        message += f"; {other_key}: {other}"
    err = ConfigError(message, file=file, key=key)
    err.problems = problems
    raise err


def parse_config(data: dict[str, Any], file: str | None) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        _raise_all([_problem(e) for e in exc.errors()], file)
        raise AssertionError("unreachable") from None  # pragma: no cover
    problems: list[tuple[str, str]] = []
    for name in config.providers:
        if not PROVIDER_NAME.match(name):
            problems.append(
                (f"providers.{name}", f"provider name must match {PROVIDER_NAME.pattern}")
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
                near = difflib.get_close_matches(ref.provider, list(config.providers), 1, 0.5)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                problems.append(
                    (
                        key,
                        f"names provider {ref.provider!r}, which has no "
                        f"[providers.{ref.provider}]{hint}",
                    )
                )
    for name, section in config.providers.items():
        if section.wire == "vertex" and not (section.project and section.location):
            problems.append((f"providers.{name}", "a vertex provider needs project and location"))
        for i, cred_ref in enumerate(section.credentials):
            if cred_ref.startswith(("sa:", "oauth:")) and section.wire != "vertex":
                problems.append(
                    (
                        f"providers.{name}.credentials[{i}]",
                        'sa: and oauth: credentials are for wire = "vertex"',
                    )
                )
    _raise_all(problems, file)
    return config


def resolve_credentials(
    config: Config, file: str | None, warnings: list[str] | None = None
) -> dict[str, list[Credential]]:
    """Each provider's resolved credentials. A reference that cannot be resolved is an
    error for a provider the model chain uses; for any other provider (given
    ``warnings``) it is a warning, and that credential is left out."""
    used = {ref.provider for ref in config.model.chain} if config.model else set()
    out: dict[str, list[Credential]] = {}
    problems: list[tuple[str, str]] = []
    for name, section in config.providers.items():
        creds: list[Credential] = []
        for i, ref in enumerate(section.credentials):
            key = f"providers.{name}.credentials[{i}]"
            try:
                creds.append(resolve(ref))
            except CredentialRefError as exc:
                if warnings is not None and name not in used:
                    where = f"{file}: " if file else ""
                    warnings.append(f"{where}{key}: {exc} (no model chain uses {name!r})")
                else:
                    problems.append((key, str(exc)))
        out[name] = dedupe(creds)
    _raise_all(problems, file)
    return out


def _read_config(source: Path, file: str) -> dict[str, Any]:
    try:
        with source.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES // 1024} KiB", file=file)
    try:
        return tomllib.loads(raw.decode())
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError("not valid TOML: nested too deeply", file=file) from None


def load_settings(
    path: Path | None = None, env: dict[str, str] | None = None, *, required: bool = True
) -> Settings:
    """Read, validate and resolve the configuration. A missing file is an error when
    ``required``; otherwise it yields the defaults (no providers)."""
    source = path or config_path(env)
    home = home_dir(env)
    if not source.exists() and path is None and source == home / "config.toml":
        zero = _from_environment(home, os.environ if env is None else env)  # keys from env
        if zero is not None:
            return zero
    if not source.exists():
        if required:
            raise ConfigError(
                "no config file here; create it (see README) or set HERMES_MCP_CONFIG",
                file=str(source),
            )
        return Settings(Config(), None, home, {})
    file = str(source)
    config = parse_config(_read_config(source, file), file)
    warnings: list[str] = []
    credentials = resolve_credentials(config, file, warnings)
    for warning in warnings:  # ask and run go on; doctor reports each as a failed check
        get_logger("hermes_mcp.config").warning("config.credential_unusable", detail=warning)
    return Settings(config, source, home, credentials, tuple(warnings))


def _from_environment(home: Path, env: Mapping[str, str]) -> Settings | None:
    """Settings built from the key variables that are set, or None when none is."""
    chosen = env_chain.detect(env)
    if not chosen:
        return None
    where = "environment (no config file)"
    config = parse_config(env_chain.config_data(chosen), where)
    settings = Settings(config, None, home, resolve_credentials(config, where))
    env_chain.announce(chosen)
    return settings
