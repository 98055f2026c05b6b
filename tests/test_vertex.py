"""Vertex AI with service accounts and OAuth refresh tokens, against the fake's Vertex
routes and token endpoint, with RSA keys generated at run time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hermes_mcp.llm.types import ChatRequest, Result
from hermes_mcp.testing import (
    FakeProvider,
    daily_quota,
    reply,
    token_ok,
    token_refused,
    unauthorized,
)
from tests.keys import FALLBACK_KEY
from tests.routing import Clock, Home, hermes, router_for

HI = ChatRequest.of("hi")
MODEL = "gemini-2.5-pro"


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def vertex() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def backup() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(FALLBACK_KEY, reply("from the fallback"))
        yield fp


def service_account(tmp_path: Path, vertex: FakeProvider, private_pem: str) -> str:
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "hermes-test",
                "private_key_id": "0123456789abcdef",
                "private_key": private_pem,
                "client_email": "hermes@hermes-test.iam.gserviceaccount.com",
                "token_uri": vertex.token_url,
            }
        )
    )
    return f"sa:{path}"


def configure(home: Home, vertex: FakeProvider, backup: FakeProvider, credential: str) -> None:
    home.write(
        {
            "vertex": {
                "url": vertex.url,
                "keys": [credential],
                "wire": "vertex",
                "project": "hermes-test",
                "location": "us-central1",
            },
            "backup": {"url": backup.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        f"vertex:{MODEL}",
        ("backup:gpt-4o",),
    )


@pytest.mark.anyio
async def test_first_request_mints_a_token_with_a_signed_jwt(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    private, public = rsa_key
    vertex.token_verify_key = public
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, private))
    async with router_for(home) as router:
        first = await router.complete(HI)
        second = await router.complete(HI)  # the cached token: no second exchange
    assert first.provider == second.provider == "vertex"
    (hit,) = vertex.token_hits
    assert hit.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert hit.verified is True
    assert hit.claims is not None
    assert hit.claims["iss"] == "hermes@hermes-test.iam.gserviceaccount.com"
    assert hit.claims["aud"] == vertex.token_url
    assert hit.claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert hit.jwt_header is not None and hit.jwt_header["kid"] == "0123456789abcdef"
    assert [r.key for r in vertex.requests if "publishers" in r.path] == [hit.access_token] * 2
    path = next(r.path for r in vertex.requests if "publishers" in r.path)
    assert path == (
        f"/v1/projects/hermes-test/locations/us-central1/publishers/google/models/{MODEL}"
        ":generateContent"
    )


async def fifty(router: object) -> list[Result]:
    results: list[Result] = []

    async def one() -> None:
        results.append(await router.complete(HI))  # type: ignore[attr-defined]

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)
    return results


@pytest.mark.anyio
async def test_fifty_requests_on_an_expired_token_make_one_exchange(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    clock = Clock()
    async with router_for(home, clock=clock) as router:
        await router.complete(HI)
        clock.now += 3600  # past the token's expiry: refreshed before use
        results = await fifty(router)
    assert len(vertex.token_hits) == 2
    assert {r.provider for r in results} == {"vertex"}


@pytest.mark.anyio
async def test_fifty_requests_refused_with_a_revoked_token_make_one_exchange(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    """The provider says 401 before the token's own expiry: one refresh for all fifty."""
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    async with router_for(home) as router:
        await router.complete(HI)
        vertex.expire_tokens()
        results = await fifty(router)
    assert len(vertex.token_hits) == 2
    assert {r.provider for r in results} == {"vertex"}
    retried = [a for r in results for a in r.attempts if a.action == "retry"]
    assert retried and all(a.reason == "token refreshed" for a in retried)


@pytest.mark.anyio
async def test_refused_refresh_kills_the_credential_once(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.token_script(token_ok(), token_refused())
    async with router_for(home) as router:
        assert (await router.complete(HI)).provider == "vertex"
        vertex.expire_tokens()
        refused = await router.complete(HI)
        assert refused.provider == "backup"
        assert [(a.provider, a.error_class, a.action) for a in refused.attempts] == [
            ("vertex", "auth", "fallback"),
            ("backup", None, "served"),
        ]
        for _ in range(5):  # no refresh storm: the dead credential is not tried again
            assert (await router.complete(HI)).provider == "backup"
    assert len(vertex.token_hits) == 2
    rows = (await hermes(home, "providers", "--json")).json()
    row = next(r for r in rows if r["provider"] == "vertex")
    assert (row["state"], row["last_class"]) == ("dead", "auth")
    assert row["label"].startswith("sa:")


@pytest.mark.anyio
async def test_a_second_401_after_a_refresh_is_dead(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.script("*", unauthorized(), unauthorized())
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "backup"
    assert [(a.error_class, a.action, a.reason) for a in result.attempts][:2] == [
        ("auth", "retry", "token refreshed"),
        ("auth", "fallback", None),
    ]
    assert len(vertex.token_hits) == 2  # the first token and one refresh, no more


@pytest.mark.anyio
async def test_single_service_account_on_a_per_day_quota_falls_back_for_good(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.script("*", daily_quota())
    first = (await hermes(home, "ask", "--json", "hi")).json()
    assert first["provider"] == "backup"
    assert first["attempts"][0]["error_class"] == "quota_exhausted"
    for _ in range(2):
        assert (await hermes(home, "ask", "--json", "hi")).json()["provider"] == "backup"
    generate = [r for r in vertex.requests if "publishers" in r.path]
    assert len(generate) == 1


@pytest.mark.anyio
async def test_authorized_user_refresh_token(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider
) -> None:
    path = tmp_path / "adc.json"
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "hermes-client.apps.googleusercontent.com",
                "client_secret": "hermes-client-secret-value",
                "refresh_token": "1//hermes-refresh-token-value",
            }
        )
    )
    home = Home(tmp_path)
    home.write(
        {
            "vertex": {
                "url": vertex.url,
                "keys": [f"oauth:{path}"],
                "wire": "vertex",
                "project": "hermes-test",
                "location": "us-central1",
                "token_url": vertex.token_url,
            }
        },
        f"vertex:{MODEL}",
    )
    async with router_for(home) as router:
        result = await router.complete(HI)
    assert result.provider == "vertex"
    (hit,) = vertex.token_hits
    assert (hit.grant_type, hit.client_id) == (
        "refresh_token",
        "hermes-client.apps.googleusercontent.com",
    )
    ran = await hermes(home, "providers")
    assert "hermes-refresh-token-value" not in ran.stdout + ran.stderr


@pytest.mark.anyio
async def test_a_refused_refresh_is_asked_once_for_fifty_waiting_requests(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.token_script(token_ok(), token_refused())
    async with router_for(home) as router:
        await router.complete(HI)
        vertex.expire_tokens()
        results = await fifty(router)
    assert {r.provider for r in results} == {"backup"}
    assert len(vertex.token_hits) == 2  # the first token, then one refused refresh


@pytest.mark.anyio
async def test_a_refused_first_token_is_one_exchange(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.token_script(token_refused())
    async with router_for(home) as router:
        result = await router.complete(HI)
        again = await router.complete(HI)
    assert result.provider == again.provider == "backup"
    assert len(vertex.token_hits) == 1


@pytest.mark.anyio
async def test_a_token_endpoint_hiccup_is_transient_not_a_dead_key(
    tmp_path: Path, vertex: FakeProvider, backup: FakeProvider, rsa_key: tuple[str, str]
) -> None:
    from hermes_mcp.testing import token_refused as refuse

    home = Home(tmp_path)
    configure(home, vertex, backup, service_account(tmp_path, vertex, rsa_key[0]))
    vertex.token_script(token_ok(), refuse(status=503, error="temporarily_unavailable"))
    async with router_for(home) as router:
        await router.complete(HI)
        vertex.expire_tokens()
        result = await router.complete(HI)  # refresh hits a 503, then succeeds on the retry
        pool = router.providers["vertex"].pool
        mark = pool.state(pool.credentials[0], MODEL)
    assert result.provider == "vertex"
    assert mark is None  # neither cooling nor dead
    assert len(vertex.token_hits) == 3
