"""Access tokens for ``sa:`` (service account) and ``oauth:`` (authorized user)
credentials, as Vertex AI wants them.

A service account signs an RS256 JWT with its private key (PyJWT + cryptography) and
exchanges it at the token URL (``token_url`` in the config, else the file's
``token_uri``); an authorized user exchanges its refresh token. Not ``google-auth``: its
blocking HTTP client and hidden retries would break the router's one-retry-layer rule.

Tokens are cached until shortly before they expire. Refreshing is single-flight: however
many requests find the token expired (or get a 401 with it), one exchange happens and
the rest wait for its result. A refused exchange is an ``auth`` failure, which the router
turns into a dead mark and a fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import jwt

from hermes_mcp.credentials import Credential
from hermes_mcp.errors import FailureClass, ProviderError
from hermes_mcp.llm.http import transport_failure
from hermes_mcp.log import get_logger, redact, register_secret

log = get_logger("hermes_mcp.tokens")

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_LIFETIME_S = 3600
REFRESH_MARGIN_S = 300  # refresh this long before the token expires


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float


class TokenSource:
    """The access tokens of one ``sa:`` or ``oauth:`` credential."""

    def __init__(
        self,
        credential: Credential,
        client: Callable[[], httpx2.AsyncClient],
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credential.refreshable:
            raise ValueError(f"{credential.label} has no token exchange")
        self.credential = credential
        self._client = client
        self._clock = clock
        info = credential.material
        self.token_url = token_url or info.get("token_uri") or DEFAULT_TOKEN_URL
        self._token: AccessToken | None = None
        self.generation = 0  # counts exchanges; a 401 names the generation it was sent with
        self._refused: ProviderError | None = None
        self._lock = anyio.Lock()

    def _fresh(self) -> AccessToken | None:
        token = self._token
        if token is not None and token.expires_at - REFRESH_MARGIN_S > self._clock():
            return token
        return None

    async def token(self) -> tuple[str, int]:
        """A valid access token and its generation, exchanging for a new one when needed
        (single-flight)."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh.value, self.generation
        async with self._lock:
            self._raise_if_refused()
            fresh = self._fresh()  # someone else may have refreshed while we waited
            if fresh is None:
                fresh = await self._replace()
            return fresh.value, self.generation

    async def refresh(self, stale_generation: int) -> None:
        """Replace the token after one of ``stale_generation`` was refused (a 401).
        Single-flight: when another request already replaced it, nothing is exchanged;
        when the exchange for this generation was refused, that refusal is raised again."""
        async with self._lock:
            self._raise_if_refused()
            if self.generation == stale_generation:
                await self._replace()

    def _raise_if_refused(self) -> None:
        """A refused exchange is final for the credential (until a restart or a reset):
        everyone who waited for it gets the same refusal, and nobody asks again."""
        if self._refused is not None:
            raise self._refused

    async def _replace(self) -> AccessToken:
        try:
            self._token = await self._exchange()
        except ProviderError as err:
            err.from_token_exchange = True
            if err.failure_class is FailureClass.AUTH:
                self._refused = err
            raise
        self.generation += 1
        return self._token

    async def _exchange(self) -> AccessToken:
        form = await self._grant()
        try:
            response = await self._client().post(
                self.token_url, data=form, headers={"accept": "application/json"}
            )
        except httpx2.TransportError as exc:
            raise transport_failure(exc) from exc
        try:
            data: Any = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status_code != 200:
            detail = data.get("error_description") or data.get("error")
            cls = FailureClass.SERVER_ERROR if response.status_code >= 500 else FailureClass.AUTH
            raise ProviderError(
                cls,
                redact(
                    f"the token endpoint refused {self.credential.label}: "
                    f"{detail or f'HTTP {response.status_code}'}"
                ),
                status=response.status_code,
            )
        value = data.get("access_token")
        try:
            expires_in = float(data.get("expires_in") or JWT_LIFETIME_S)
        except (TypeError, ValueError):
            expires_in = -1.0
        if not isinstance(value, str) or not value or not 0 < expires_in < 366 * 86400:
            raise ProviderError(
                FailureClass.SERVER_ERROR,
                "malformed response: the token endpoint sent no usable access_token",
                status="malformed",
            )
        register_secret(value)
        log.info(
            "token.exchanged",
            credential=self.credential.fingerprint,
            label=self.credential.label,
            expires_in=expires_in,
        )
        return AccessToken(value, self._clock() + expires_in)

    async def _grant(self) -> dict[str, str]:
        info = self.credential.material
        if self.credential.kind == "oauth":
            return {
                "grant_type": "refresh_token",
                "refresh_token": info["refresh_token"],
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
            }
        now = int(self._clock())
        claims = {
            "iss": info["client_email"],
            "sub": info["client_email"],
            "scope": SCOPE,
            "aud": self.token_url,
            "iat": now,
            "exp": now + JWT_LIFETIME_S,
        }
        assertion = await anyio.to_thread.run_sync(self._sign, claims)
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}

    def _sign(self, claims: dict[str, Any]) -> str:
        info = self.credential.material
        try:
            return jwt.encode(
                claims,
                info["private_key"],
                algorithm="RS256",
                headers={"kid": info["private_key_id"]},
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ProviderError(
                FailureClass.AUTH,
                f"cannot sign with {self.credential.label}: its private key is unusable",
                status="unsigned",
            ) from exc
