"""A fake Google OAuth 2.0 token endpoint (``POST /token``) for the fake provider.

It answers the two grants Google credentials use:

* service accounts: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``
* authorized users: ``grant_type=refresh_token&refresh_token=...&client_id=...&client_secret=...``

with ``{"access_token": "ya29.fake-<n>", "expires_in": 3599, "token_type": "Bearer"}``, as
``application/x-www-form-urlencoded`` requests, like ``https://oauth2.googleapis.com/token``.
The tokens it issues are the only ones the fake's Vertex routes accept (any other bearer
token: 401 ``UNAUTHENTICATED``), until they expire (``expires_in`` seconds after issue) or
the test calls ``fp.expire_tokens()``.

Scripting and observation, on the ``FakeProvider``::

    fp.token_script(token_ok(expires_in=60), token_refused())  # next two token requests
    fp.token_default = token_refused()                            # once the queue is empty
    fp.token_hits          # [TokenHit]: grant type, decoded (unverified) JWT claims, outcome
    fp.token_verify_key = public_pem  # verify RS256 assertions with PyJWT (None: don't)
    fp.issue_token()       # a valid token without going through the endpoint
    fp.expire_tokens()     # every issued token (or the ones given) now answers 401

A request that is malformed (unknown grant type, missing parameter, unparseable JWT, bad
signature when a verify key is set) is refused with Google's error body and does not take a
scripted outcome. ``fp.reset()`` clears the queue, the default and the hits, not the tokens.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeAlias

from aiohttp import web

from .fake_dialect import dumps

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_TOKEN = "refresh_token"
DEFAULT_EXPIRES_IN = 3599
TOKEN_PATHS = ("/token", "/oauth2/v4/token")
TOKEN_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
}
BAD_SIGNATURE = "Invalid JWT Signature."
BAD_TIMES = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable"
    " timeframe. Check your iat and exp values in the JWT claim."
)

TokenStatus: TypeAlias = Literal["valid", "expired", "unknown"]


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """Issue an access token valid for ``expires_in`` seconds (``access_token`` None:
    ``ya29.fake-<n>``)."""

    expires_in: int = DEFAULT_EXPIRES_IN
    access_token: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRefusal:
    """Refuse the grant with an OAuth error body."""

    error: str = "invalid_grant"
    description: str = "Token has been expired or revoked."
    status: int = 400


TokenOutcome: TypeAlias = TokenGrant | TokenRefusal


def token_ok(expires_in: int = DEFAULT_EXPIRES_IN, access_token: str | None = None) -> TokenGrant:
    """The token endpoint grants a token (``expires_in`` seconds)."""
    return TokenGrant(expires_in, access_token)


def token_refused(
    error: str = "invalid_grant",
    description: str = "Token has been expired or revoked.",
    status: int = 400,
) -> TokenRefusal:
    """The token endpoint refuses: by default a revoked refresh token / deleted key."""
    return TokenRefusal(error, description, status)


class TokenHit(NamedTuple):
    """One request to the token endpoint.

    ``claims`` / ``jwt_header``: the assertion's decoded, *unverified* JWT parts (None for
    a refresh-token grant or an unparseable JWT); ``verified``: whether the signature and
    times checked out against ``token_verify_key`` (None: not checked, no key or no JWT).
    ``access_token``: what was issued (None: refused); ``error``: the OAuth error code.
    """

    at: float
    path: str
    grant_type: str | None
    status: int
    access_token: str | None
    expires_in: int | None
    error: str | None
    claims: dict[str, Any] | None
    jwt_header: dict[str, Any] | None
    verified: bool | None
    client_id: str | None
    refresh_token: str | None
    scope: str | None


def _b64url_json(segment: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims, decoded with the stdlib and not verified (None: not a JWT)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, claims = _b64url_json(parts[0]), _b64url_json(parts[1])
    if header is None or claims is None:
        return None
    return header, claims


def verify_assertion(assertion: str, key: str | bytes) -> str | None:
    """Check an RS256 assertion's signature and times with PyJWT; the error text, or None."""
    import jwt  # PyJWT (with cryptography): only needed when a verify key is set

    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            options={"verify_aud": False, "require": ["iss", "exp", "iat"]},
        )
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        return BAD_TIMES
    except jwt.PyJWTError:
        return BAD_SIGNATURE
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if not 0 < lifetime <= 3600:
        return BAD_TIMES
    return None


class TokenEndpoint:
    """The token endpoint's scripting and state (mixed into ``FakeProvider``)."""

    def __init__(self) -> None:
        self._token_lock = threading.Lock()
        self._token_queue: deque[TokenOutcome] = deque()
        self._token_hits: list[TokenHit] = []
        self._issued: dict[str, float] = {}  # token -> monotonic expiry
        self._token_numbers = itertools.count(1)
        self.token_default: TokenOutcome = TokenGrant()
        self.token_verify_key: str | bytes | None = None

    # -- scripting -------------------------------------------------------------------------

    def token_script(self, *outcomes: TokenOutcome) -> None:
        """Queue outcomes for the next token requests (then ``token_default``)."""
        with self._token_lock:
            self._token_queue.extend(outcomes)

    def issue_token(self, expires_in: float = DEFAULT_EXPIRES_IN, token: str | None = None) -> str:
        """Issue a token as the endpoint would, without a request (for Vertex tests)."""
        with self._token_lock:
            return self._issue(expires_in, token)

    def expire_tokens(self, *tokens: str) -> None:
        """Expire the given issued tokens, or all of them: Vertex then answers 401."""
        with self._token_lock:
            for token in tokens or tuple(self._issued):
                if token in self._issued:
                    self._issued[token] = -math.inf

    def _reset_tokens(self) -> None:
        with self._token_lock:
            self._token_queue.clear()
            self._token_hits.clear()
            self.token_default = TokenGrant()

    # -- observation -----------------------------------------------------------------------

    @property
    def token_hits(self) -> list[TokenHit]:
        with self._token_lock:
            return list(self._token_hits)

    @property
    def issued_tokens(self) -> list[str]:
        """Every token issued (expired ones included), oldest first."""
        with self._token_lock:
            return list(self._issued)

    def token_status(self, token: str | None) -> TokenStatus:
        """Whether ``token`` was issued here and is still valid."""
        with self._token_lock:
            expiry = self._issued.get(token) if token else None
        if expiry is None:
            return "unknown"
        return "valid" if time.monotonic() < expiry else "expired"

    # -- serving ---------------------------------------------------------------------------

    def _issue(self, expires_in: float, token: str | None) -> str:  # with the lock held
        token = token or f"ya29.fake-{next(self._token_numbers)}"
        self._issued[token] = time.monotonic() + expires_in
        return token

    async def _token_handler(self, request: web.Request) -> web.Response:
        form = await request.post()

        def field(name: str) -> str | None:
            value = form.get(name)
            return value if isinstance(value, str) and value else None

        grant = field("grant_type")
        claims: dict[str, Any] | None = None
        header: dict[str, Any] | None = None
        verified: bool | None = None
        refusal: TokenRefusal | None = None
        if grant == JWT_BEARER:
            assertion = field("assertion")
            decoded = decode_jwt_unverified(assertion) if assertion else None
            if assertion is None:
                refusal = token_refused("invalid_request", "Missing required parameter: assertion")
            elif decoded is None:
                refusal = token_refused("invalid_grant", BAD_SIGNATURE)
            else:
                header, claims = decoded
                key = self.token_verify_key
                if key is not None:
                    problem = verify_assertion(assertion, key)
                    verified = problem is None
                    if problem is not None:
                        refusal = token_refused("invalid_grant", problem)
        elif grant == REFRESH_TOKEN:
            if field("refresh_token") is None:
                refusal = token_refused(
                    "invalid_request", "Missing required parameter: refresh_token"
                )
            elif field("client_id") is None:
                refusal = token_refused(
                    "invalid_request", "Could not determine client ID from request."
                )
            elif field("client_secret") is None:
                refusal = token_refused("invalid_request", "client_secret is missing.")
        else:
            refusal = token_refused("unsupported_grant_type", f"Invalid grant_type: {grant or ''}")

        with self._token_lock:
            outcome: TokenOutcome
            if refusal is not None:
                outcome = refusal
            elif self._token_queue:
                outcome = self._token_queue.popleft()
            else:
                outcome = self.token_default
            token: str | None = None
            if isinstance(outcome, TokenGrant):
                token = self._issue(outcome.expires_in, outcome.access_token)
                status = 200
                body: dict[str, Any] = {
                    "access_token": token,
                    "expires_in": outcome.expires_in,
                    "token_type": "Bearer",
                }
            else:
                status = outcome.status
                body = {"error": outcome.error, "error_description": outcome.description}
            scope = claims.get("scope") if claims is not None else field("scope")
            self._token_hits.append(
                TokenHit(
                    at=time.monotonic(),
                    path=request.path,
                    grant_type=grant,
                    status=status,
                    access_token=token,
                    expires_in=outcome.expires_in if isinstance(outcome, TokenGrant) else None,
                    error=None if token is not None else body["error"],
                    claims=claims,
                    jwt_header=header,
                    verified=verified,
                    client_id=field("client_id"),
                    refresh_token=field("refresh_token"),
                    scope=str(scope) if scope is not None else None,
                )
            )
        return web.Response(status=status, body=dumps(body).encode(), headers=TOKEN_HEADERS)
