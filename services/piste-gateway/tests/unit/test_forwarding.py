"""The gateway's forwarded calls as a service checks them: signed with the gateway's key, served at its
JWKS, they act for the technical account's structure; nothing else passes for the gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chorus_common.auth import GATEWAY_ISSUER, TokenVerifier, gateway_audience
from chorus_common.problems import Problem
from chorus_common.settings import DEV_JWT_SECRET, ServiceSettings
from piste_gateway.access import Caller
from piste_gateway.forwarding import Forwarder
from piste_gateway.settings import PisteGatewaySettings

CALLER = Caller(client_id="app-1", login="TECH_42_A", structure_id="90000001900019")


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def gateway_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def forwarder(gateway_key: rsa.RSAPrivateKey) -> Forwarder:
    return Forwarder(PisteGatewaySettings(app_env="test", internal_token_key=pem(gateway_key)))


@pytest.fixture(scope="module")
def jwks_url(forwarder: Forwarder) -> Iterator[str]:
    body = json.dumps(forwarder.jwks()).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def service_verifier(
    jwks_url: str | None, app_env: str = "test", service: str = "received-invoices"
) -> TokenVerifier:
    settings = ServiceSettings(
        service_name=service,
        app_env=app_env,
        auth_jwks_url="http://127.0.0.1:9/unused",
        auth_issuer="https://idp.example.org/",
        auth_audience="chorus",
        gateway_jwks_url=jwks_url,
    )
    return TokenVerifier(settings)


def test_a_forwarded_call_acts_for_the_technical_accounts_structure(forwarder: Forwarder, jwks_url: str):
    principal = service_verifier(jwks_url).verify(forwarder.token(CALLER, "received-invoices"))
    assert principal.vouched and principal.structures == frozenset({"90000001900019"})
    assert principal.sub == "technical-account:TECH_42_A" and principal.roles == frozenset()


def test_nothing_else_passes_for_the_gateway(
    jwks_url: str, forwarder: Forwarder, gateway_key: rsa.RSAPrivateKey
):
    verifier = service_verifier(jwks_url)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "iss": GATEWAY_ISSUER,
        "aud": gateway_audience("received-invoices"),
        "sub": "x",
        "exp": 2**40,
        "structures": ["1"],
    }
    forged = {
        "another key": jwt.encode(claims, other, algorithm="RS256", headers={"kid": "piste-gateway-1"}),
        "the dev secret outside dev": jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256"),
        "another audience": jwt.encode(
            {**claims, "aud": "chorus"}, gateway_key, algorithm="RS256", headers={"kid": "piste-gateway-1"}
        ),
    }
    for case, token in forged.items():
        with pytest.raises(Problem) as refused:
            verifier.verify(token)
        assert refused.value.status == 401, case
    # A token forwarded to one service is no good at another.
    with pytest.raises(Problem):
        service_verifier(jwks_url, service="directory").verify(forwarder.token(CALLER, "received-invoices"))
    # A service that was not told the gateway's keys accepts none of its tokens.
    with pytest.raises(Problem):
        service_verifier(None).verify(forwarder.token(CALLER, "received-invoices"))


def test_in_dev_without_a_key_the_gateway_signs_with_the_dev_secret():
    dev = Forwarder(PisteGatewaySettings(app_env="dev"))
    assert dev.jwks() == {"keys": []}
    verifier = TokenVerifier(ServiceSettings(app_env="dev", service_name="received-invoices"))
    principal = verifier.verify(dev.token(CALLER, "received-invoices"))
    assert principal.vouched and principal.acts_for("90000001900019")


def test_production_needs_the_gateways_key():
    with pytest.raises(ValueError, match="CHORUS_INTERNAL_TOKEN_KEY"):
        PisteGatewaySettings(
            app_env="prod",
            token_secret="a-secret-of-its-own-0123456789",
            auth_jwks_url="https://idp.example.org/jwks.json",
            auth_issuer="https://idp.example.org/",
            auth_audience="chorus",
        )
