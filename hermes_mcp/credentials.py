"""Credential references: parsing, resolving, fingerprints and labels.

A reference is one of ``env:NAME``, ``file:PATH``, ``sa:PATH`` (service-account JSON),
``oauth:PATH`` (authorized-user JSON), ``none``, or a literal secret. Its fingerprint is
the first 8 hex digits of the SHA-256 of the resolved secret (of the key id for ``sa:``,
of the refresh token for ``oauth:``); its label is the reference as written, with
literals shown as ``literal#<fingerprint>``. Every resolved secret is registered with the
log redactor the moment it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from hermes_mcp.log import register_secret

CredentialKind = Literal["env", "file", "sa", "oauth", "none", "literal"]


class CredentialRefError(ValueError):
    """A reference that cannot be resolved; the message never holds the secret."""


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Credential:
    """One resolved credential. ``secret`` is the bearer/API key (``None`` for ``none``);
    ``material`` holds the parsed JSON of ``sa:``/``oauth:`` files for the token minter."""

    label: str
    fingerprint: str
    kind: CredentialKind
    secret: SecretStr | None
    path: Path | None = None
    material: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def refreshable(self) -> bool:
        return self.kind in ("sa", "oauth")


# A secret or key file is small; reading stops past this (``file:/dev/zero`` ends at once).
MAX_SECRET_FILE_BYTES = 64 * 1024


def _read_text(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise CredentialRefError(f"cannot read {what} file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise CredentialRefError(
            f"{what} file {path} is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB"
        )
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise CredentialRefError(f"{what} file {path} is not UTF-8 text") from exc


def _read_json(path: Path, what: str) -> dict[str, str]:
    text = _read_text(path, what)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CredentialRefError(f"{what} file {path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise CredentialRefError(f"{what} file {path} does not hold a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def resolve(ref: str, env: Mapping[str, str] | None = None) -> Credential:
    """Resolve a reference; raises ``CredentialRefError`` naming what is missing.
    ``env`` (default: this process's environment) is where ``env:`` names are looked up;
    ``install`` passes the few variables a desktop client gives the servers it starts."""
    ref = ref.strip()
    env = os.environ if env is None else env
    if ref == "none":
        return Credential("none", fingerprint(""), "none", None)
    kind, sep, rest = ref.partition(":")
    if sep and kind == "env":
        value = env.get(rest)
        if value is None:
            raise CredentialRefError(f"environment variable {rest} is not set")
        if not value.strip():
            raise CredentialRefError(f"environment variable {rest} is empty")
        register_secret(value)
        return Credential(ref, fingerprint(value), "env", SecretStr(value))
    if sep and kind == "file":
        path = Path(rest).expanduser()
        value = _read_text(path, "secret").strip()
        if not value:
            raise CredentialRefError(f"secret file {path} is empty")
        register_secret(value)
        return Credential(ref, fingerprint(value), "file", SecretStr(value), path)
    if sep and kind == "sa":
        path = Path(rest).expanduser()
        info = _read_json(path, "service-account")
        for needed in ("client_email", "private_key", "private_key_id"):
            if not info.get(needed):
                raise CredentialRefError(f"service-account file {path} has no {needed}")
        register_secret(info["private_key"])
        key_id = info["private_key_id"]
        return Credential(ref, fingerprint(key_id), "sa", None, path, info)
    if sep and kind == "oauth":
        path = Path(rest).expanduser()
        info = _read_json(path, "authorized-user")
        for needed in ("client_id", "client_secret", "refresh_token"):
            if not info.get(needed):
                raise CredentialRefError(f"authorized-user file {path} has no {needed}")
        register_secret(info["refresh_token"])
        register_secret(info["client_secret"])
        return Credential(ref, fingerprint(info["refresh_token"]), "oauth", None, path, info)
    if not ref:
        raise CredentialRefError("empty credential reference")
    register_secret(ref)
    fp = fingerprint(ref)
    return Credential(f"literal#{fp}", fp, "literal", SecretStr(ref))


def dedupe(credentials: list[Credential]) -> list[Credential]:
    """Two entries resolving to one secret are one credential (first label wins)."""
    seen: set[str] = set()
    out: list[Credential] = []
    for cred in credentials:
        if cred.fingerprint in seen:
            continue
        seen.add(cred.fingerprint)
        out.append(cred)
    return out
