"""What a session announces: its modes, its config options and its slash commands (the
built-in ones, then one per skill).

Modes are the policy modes (``ask``, ``accept_edits``, ``auto``). Config options are the
model (category ``model``: the default, its fallbacks and every model in a provider's
``models`` table, each with a readable name) and the mode (category ``mode``). Only the
config is read: no network. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from acp.schema import (
    AvailableCommand,
    AvailableCommandInput,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionMode,
    SessionModeState,
    UnstructuredCommandInput,
)

from hermes_mcp.config import Config

if TYPE_CHECKING:
    from tools.skills import Skill

MODES: dict[str, tuple[str, str]] = {
    "ask": ("Ask", "Reads freely; every edit and every command asks first"),
    "accept_edits": (
        "Accept edits",
        "Edits inside the workspace without asking; commands still ask",
    ),
    "auto": ("Auto", "Edits and runs commands without asking (deny rules still apply)"),
}

MODEL_OPTION = "model"
MODE_OPTION = "mode"

COMMANDS: tuple[tuple[str, str, str | None], ...] = (
    (
        "model",
        "Show the model and its fallbacks, or switch: /model provider:model",
        "provider:model",
    ),
    ("fallback", "The fallback chain with each credential's cooldown and recovery time", None),
    ("cost", "Tokens and cost of this session so far", None),
    ("providers", "Every configured credential: state, cooldown, last failure", None),
    ("reset", "Start a fresh context: the model forgets this session's conversation", None),
)


BUILT_IN = frozenset(name for name, _, _ in COMMANDS)


def modes(current: str) -> SessionModeState:
    return SessionModeState(
        current_mode_id=current,
        available_modes=[
            SessionMode(id=mode, name=name, description=about)
            for mode, (name, about) in MODES.items()
        ],
    )


def model_choices(config: Config) -> list[tuple[str, str, str]]:
    """``(value, name, description)`` for every model the session may pick."""
    out: dict[str, tuple[str, str]] = {}
    if config.model is not None:
        out[config.model.default] = ("default", "")
        for i, ref in enumerate(config.model.fallbacks, 1):
            out.setdefault(ref, (f"fallback {i}", ""))
    for provider, section in config.providers.items():
        for model in section.models:
            out.setdefault(f"{provider}:{model}", ("configured", ""))
    return [(value, _readable(value), role) for value, (role, _) in out.items()]


def _readable(value: str) -> str:
    provider, _, model = value.partition(":")
    return f"{model} ({provider})"


def config_options(
    config: Config, *, model: str | None, mode: str
) -> list[SessionConfigOptionSelect]:
    """The session's options; ``model`` is its override (``None``: the default)."""
    out: list[SessionConfigOptionSelect] = []
    choices = model_choices(config)
    current = model or (config.model.default if config.model is not None else None)
    if current is not None and current not in {c[0] for c in choices}:
        choices.append((current, _readable(current), "this session's choice"))
    if current is not None:
        out.append(
            SessionConfigOptionSelect(
                id=MODEL_OPTION,
                name="Model",
                description="Tried first; the configured fallbacks follow it",
                category="model",
                type="select",
                current_value=current,
                options=[
                    SessionConfigSelectOption(value=value, name=name, description=role or None)
                    for value, name, role in choices
                ],
            )
        )
    out.append(
        SessionConfigOptionSelect(
            id=MODE_OPTION,
            name="Mode",
            description="What runs without asking",
            category="mode",
            type="select",
            current_value=mode,
            options=[
                SessionConfigSelectOption(value=m, name=name, description=about)
                for m, (name, about) in MODES.items()
            ],
        )
    )
    return out


def commands(skills: Sequence[Skill] = ()) -> list[AvailableCommand]:
    """The built-in commands, then each skill not named like one (``/name args``)."""
    table = list(COMMANDS)
    for skill in skills:
        if skill.name not in BUILT_IN:
            hint = skill.front.argument_hint or "what to apply it to (optional)"
            table.append((skill.name, f"Skill: {skill.description}", hint))
    return [
        AvailableCommand(
            name=name,
            description=about,
            input=None
            if hint is None
            else AvailableCommandInput(root=UnstructuredCommandInput(hint=hint)),
        )
        for name, about, hint in table
    ]
