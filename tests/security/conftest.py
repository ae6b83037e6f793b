"""The security suite's platform: every service as a process, verifying tokens as in production.

The services run with `CHORUS_APP_ENV=test`: RS256 tokens checked against a JWKS served here, with issuer
and audience, exactly the path `CHORUS_APP_ENV=prod` takes (prod differs only in refusing a missing
configuration).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chorus_testing.platform import SERVICES, Platform, launched_platform
from chorus_testing.servers import TestServers

ISSUER = "https://idp.chorus.test/"
AUDIENCE = "chorus"
KEY_ID = "chorus-test-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class IdentityProvider:
    """Signs tokens with the key the services trust, and the forgeries the suite sends."""

    key: rsa.RSAPrivateKey
    other_key: rsa.RSAPrivateKey
    jwks_url: str

    def claims(self, sub: str, structures: list[str], roles: list[str], **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": sub,
            "email": f"{sub}@example.fr",
            "structures": structures,
            "roles": roles,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return claims

    def token(self, sub: str, structures: list[str], roles: Sequence[str] = (), **overrides: Any) -> str:
        return jwt.encode(
            self.claims(sub, structures, list(roles), **overrides),
            self.key,
            algorithm="RS256",
            headers={"kid": KEY_ID},
        )

    def headers(self, sub: str, structures: list[str], roles: Sequence[str] = ()) -> dict[str, str]:
        return {"authorization": "Bearer " + self.token(sub, structures, roles)}

    def forgeries(self, structures: list[str], roles: list[str]) -> dict[str, dict[str, str]]:
        """Headers that must all be refused with 401, for a caller otherwise entitled to the resource."""
        claims = self.claims("mallory", structures, roles)
        public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        unsigned = (
            _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            + "."
            + _b64(json.dumps(claims).encode())
            + "."
        )
        tokens = {
            "no token": None,
            "not a bearer scheme": "Basic " + base64.b64encode(b"mallory:secret").decode(),
            "expired": self.token("mallory", structures, roles, exp=int(time.time()) - 60),
            "signed with another key": jwt.encode(
                claims, self.other_key, algorithm="RS256", headers={"kid": KEY_ID}
            ),
            "alg none": unsigned,
            "wrong audience": self.token("mallory", structures, roles, aud="another-application"),
            "wrong issuer": self.token("mallory", structures, roles, iss="https://evil.example/"),
            # HS256 keyed with the public key: the classic algorithm-confusion forgery
            "HS256 with the public key": _hs256_with(claims, public_pem),
            "garbage": "Bearer not.a.jwt",
        }
        headers: dict[str, dict[str, str]] = {}
        for name, token in tokens.items():
            if token is None:
                headers[name] = {}
            elif token.startswith(("Basic ", "Bearer ")):
                headers[name] = {"authorization": token}
            else:
                headers[name] = {"authorization": "Bearer " + token}
        return headers


def _hs256_with(claims: dict[str, Any], secret: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY_ID}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[IdentityProvider]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KEY_ID, use="sig", alg="RS256")
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield IdentityProvider(key, other_key, url)
    server.shutdown()


@pytest.fixture(scope="session")
def gateway_key() -> rsa.RSAPrivateKey:
    """The key the PISTE gateway signs its forwarded calls with; the services check them against the
    keys it serves (the launcher points CHORUS_GATEWAY_JWKS_URL at it)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def secured_platform(
    servers: TestServers,
    rabbitmq_url: str,
    identity_provider: IdentityProvider,
    gateway_key: rsa.RSAPrivateKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    env = {
        "CHORUS_APP_ENV": "test",
        "CHORUS_AUTH_JWKS_URL": identity_provider.jwks_url,
        "CHORUS_AUTH_ISSUER": ISSUER,
        "CHORUS_AUTH_AUDIENCE": AUDIENCE,
        "CHORUS_INTERNAL_TOKEN_KEY": gateway_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }
    run_dir = tmp_path_factory.mktemp("secured")
    with launched_platform(servers, rabbitmq_url, run_dir, extra_env=env, name="security") as platform:
        yield platform


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def fingerprint(platform: Platform, service: str) -> dict[str, str]:
    """A digest of every row of every table of the service's database, table by table."""
    conn = await asyncpg.connect(platform.database_dsn(service))
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        digests = {}
        for table in tables:
            name = f'"{table["schemaname"]}"."{table["tablename"]}"'
            digests[name] = await conn.fetchval(
                "SELECT count(*)::text || ':' || "
                f"coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {name} AS t"
            )
        return digests
    finally:
        await conn.close()


async def platform_fingerprint(platform: Platform) -> dict[str, dict[str, str]]:
    return {service: await fingerprint(platform, service) for service in SERVICES}


async def quiescent_fingerprint(platform: Platform, within: float = 30.0) -> dict[str, dict[str, str]]:
    """The platform's fingerprint once its consumers and relays have nothing left to do."""
    deadline = time.monotonic() + within
    previous = await platform_fingerprint(platform)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        current = await platform_fingerprint(platform)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the platform did not settle")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
