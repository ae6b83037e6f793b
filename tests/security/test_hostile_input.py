"""Hostile input: oversized and deeply nested bodies are refused with a 4xx problem, and production
refuses to start with the development token secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from chorus_common.settings import DEV_JWT_SECRET
from chorus_testing.captcha import solved, with_captcha
from chorus_testing.platform import SERVICES, Platform

from .conftest import IdentityProvider, quiescent_fingerprint

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1024 * 1024  # CHORUS_MAX_JSON_BYTES of libs/common (the gateway takes 14 MiB: a flow in base64)


def json_operations() -> list[tuple[str, str, str]]:
    """(service, method, path) of every operation taking a JSON body, path parameters filled in."""
    found = []
    for service in SERVICES:
        paths = json.loads((ROOT / "docs" / service / "openapi.json").read_text())["paths"]
        for template, operations in paths.items():
            for method, operation in operations.items():
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    path = template
                    for parameter in operation.get("parameters", []):
                        if parameter["in"] == "path":
                            path = path.replace(
                                "{" + parameter["name"] + "}", "00000000-0000-4000-8000-000000000000"
                            )
                    found.append((service, method.upper(), path))
    return found


OPERATIONS = json_operations()


def problem_4xx(response: httpx.Response) -> bool:
    """A 4xx problem; on Chorus Pro's API (the gateway's `/cpro/...`), a 4xx with its `codeRetour`."""
    if not 400 <= response.status_code < 500:
        return False
    if response.headers["content-type"].startswith("application/problem+json"):
        return True
    return response.url.path.startswith("/cpro/") and {"codeRetour", "libelle"} <= set(response.json())


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"padding": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize(("service", "method", "path"), OPERATIONS, ids=[" ".join(o) for o in OPERATIONS])
async def test_oversized_deeply_nested_or_malformed_bodies_get_a_4xx_problem(
    service: str,
    method: str,
    path: str,
    secured_platform: Platform,
    http: httpx.AsyncClient,
    identity_provider: IdentityProvider,
):
    url = secured_platform.url(service) + path
    headers = {
        **identity_provider.headers("hostile", ["HOSTILE"], ["admin"]),
        "content-type": "application/json",
    }
    bodies: dict[str, bytes] = {
        "declared 2 MiB": b'{"padding": "' + b"x" * (2 * LIMIT) + b'"}',
        "objects nested 100,000 deep": nested(100_000),
        "arrays nested 200,000 deep": b"[" * 200_000 + b"]" * 200_000,
        "truncated JSON": b'{"action": ',
        "not UTF-8": b'{"action": "\xff\xfe"}',
        "a bare number": b"1e999999",
    }
    for name, body in bodies.items():
        response = await http.request(method, url, content=body, headers=headers)
        assert problem_4xx(response), (name, response.status_code, response.text[:300])
    # No Content-Length: the limit holds for a streamed body too, and the server stops reading early.
    streamed = await http.request(method, url, content=chunks(32 * LIMIT), headers=headers)
    assert streamed.status_code == 413, streamed.text[:300]
    assert problem_4xx(streamed)


async def test_hostile_bodies_change_nothing(secured_platform: Platform, http: httpx.AsyncClient):
    """Run after the per-operation test above has thrown everything at every service."""
    before = await quiescent_fingerprint(secured_platform)
    for service, method, path in OPERATIONS:
        response = await http.request(
            method, secured_platform.url(service) + path, content=nested(50_000), headers={}
        )
        assert 400 <= response.status_code < 500
    assert await quiescent_fingerprint(secured_platform) == before


PROD_IDENTITY = {
    "CHORUS_AUTH_JWKS_URL": "https://idp.example.org/jwks.json",
    "CHORUS_AUTH_ISSUER": "https://idp.example.org/",
    "CHORUS_AUTH_AUDIENCE": "chorus",
}
UNSET = "(unset)"  # a setting left out of the environment
# Every service with the development secret; the other refusals, shared by all, on one service; and
# what the refusal names.
REFUSED_CONFIGURATIONS = [
    *(
        (
            service,
            "the development secret",
            {**PROD_IDENTITY, "CHORUS_AUTH_JWT_SECRET": DEV_JWT_SECRET},
            "CHORUS_AUTH_JWT_SECRET",
        )
        for service in SERVICES
    ),
    (
        "engagements",
        "another shared secret",
        {**PROD_IDENTITY, "CHORUS_AUTH_JWT_SECRET": "a-long-random-shared-secret-42"},
        "CHORUS_AUTH_JWT_SECRET",
    ),
    ("engagements", "no identity provider", {}, "CHORUS_AUTH_JWKS_URL"),
    # A deployment that forgets CHORUS_APP_ENV is production: the development secret is refused there too.
    (
        "engagements",
        "CHORUS_APP_ENV unset",
        {"CHORUS_APP_ENV": UNSET, "CHORUS_AUTH_JWT_SECRET": DEV_JWT_SECRET},
        "CHORUS_AUTH_JWT_SECRET",
    ),
    # The portal's forms signed with the development secret, whose CSRF tokens anyone could make.
    ("support-portal", "the development form secret", PROD_IDENTITY, "CHORUS_FORM_SECRET"),
    # The gateway's access tokens signed with the development secret; its forwarded calls without a key.
    ("piste-gateway", "the development token secret", PROD_IDENTITY, "CHORUS_TOKEN_SECRET"),
    (
        "piste-gateway",
        "no key for its forwarded calls",
        {**PROD_IDENTITY, "CHORUS_TOKEN_SECRET": "a-long-random-token-secret-of-its-own-42"},
        "CHORUS_INTERNAL_TOKEN_KEY",
    ),
]


def test_production_refuses_to_start_with_a_shared_secret_or_without_an_identity_provider(tmp_path: Path):
    runs = []
    for service, case, settings, _ in REFUSED_CONFIGURATIONS:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CHORUS_AUTH_")},
            "CHORUS_APP_ENV": "prod",
            "CHORUS_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/never_"
            + service.replace("-", "_"),
            **settings,
        }
        env = {key: value for key, value in env.items() if value != UNSET}
        command = [sys.executable, "-m", service.replace("-", "_"), "serve"]
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        runs.append((service, case, process))
    for (service, case, process), (*_, expected) in zip(runs, REFUSED_CONFIGURATIONS, strict=True):
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, (service, case, stderr[-2000:])
        assert stderr.startswith("configuration refused:") and expected in stderr, (service, case, stderr)
        assert "Traceback" not in stderr, "a refused configuration is a message, not a crash"


async def test_the_signed_out_form_is_refused_without_its_csrf_token_or_captcha(
    secured_platform: Platform, http: httpx.AsyncClient
):
    """The portal's form, as a script would post it: without the CSRF token of the visitor's cookie, or
    without the captcha solved, nothing is created; the JSON API needs the captcha too."""
    portal = secured_platform.url("support-portal")
    email = f"bot-{os.getpid()}@example.fr"
    fields = {
        "email": email,
        "name": "Robot",
        "category": "COMPTE",
        "subcategory": "CONNEXION",
        "title": "Accès impossible",
        "description": "Je ne parviens pas à me connecter depuis hier.",
    }
    async with httpx.AsyncClient() as visitor:
        page = await visitor.get(portal + "/")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        without_token = await visitor.post(
            portal + "/", data={**fields, "altcha": await solved(visitor, portal)}
        )
        assert without_token.status_code == 403
        without_captcha = await visitor.post(portal + "/", data={**fields, "csrf_token": token})
        assert without_captcha.status_code == 422 and "Je ne suis pas un robot" in without_captcha.text
        with_both = await visitor.post(
            portal + "/", data={**fields, "csrf_token": token, "altcha": await solved(visitor, portal)}
        )
        # (before the X-Forwarded-For test below, which spends this client address's hourly limit)
        assert with_both.status_code == 201, "the same form, with both, creates the ticket"
    fields["email"] = f"bot-api-{os.getpid()}@example.fr"
    api = await http.post(portal + "/public/tickets", json=fields)
    assert api.status_code == 422 and api.json()["errors"][0]["field"] == "altcha"


async def test_forwarded_for_headers_from_an_untrusted_peer_do_not_choose_the_signed_out_bucket(
    secured_platform: Platform, http: httpx.AsyncClient
):
    """Six signed-out tickets, each claiming another client in X-Forwarded-For, from a peer that is no
    trusted proxy: they all count against the peer, so they cannot all pass a limit of five an hour."""
    portal = secured_platform.url("support-portal")
    answers = []
    for n in range(6):
        body = {
            "email": f"xff-{n}-{os.getpid()}@example.fr",
            "name": "Jean Dupont",
            "category": "COMPTE",
            "subcategory": "CONNEXION",
            "title": "Accès impossible",
            "description": "Je ne parviens pas à me connecter depuis hier.",
        }
        response = await http.post(
            portal + "/public/tickets",
            json=await with_captcha(http, body, portal),
            headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
        )
        answers.append(response.status_code)
    assert set(answers) <= {201, 429} and 429 in answers, answers
