"""The PISTE gateway's forwarded calls on the platform verifying RS256 tokens: a service takes a token
signed with the gateway's key (served at its JWKS) as acting for the technical account's structure, and
refuses anything else that claims the gateway as its issuer."""

from __future__ import annotations

import time

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from chorus_common.auth import GATEWAY_ISSUER, gateway_audience
from chorus_common.settings import DEV_JWT_SECRET
from chorus_testing.platform import Platform

from .conftest import KEY_ID, IdentityProvider


def gateway_claims(structure_id: str, **changes: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": GATEWAY_ISSUER,
        "aud": gateway_audience("received-invoices"),
        "sub": "technical-account:TECH_1_A",
        "structures": [structure_id],
        "roles": ["admin"],
        "iat": now,
        "exp": now + 60,
        **changes,
    }


async def test_only_the_gateways_key_makes_a_forwarded_call(
    secured_platform: Platform,
    http: httpx.AsyncClient,
    identity_provider: IdentityProvider,
    gateway_key: rsa.RSAPrivateKey,
):
    keys = (await http.get(secured_platform.url("piste-gateway") + "/.well-known/jwks.json")).json()["keys"]
    assert [(key["kty"], key["alg"], key["kid"]) for key in keys] == [("RSA", "RS256", "piste-gateway-1")]
    assert "d" not in keys[0], "the public half only"
    url = secured_platform.url("received-invoices") + "/invoices?list=to-process"
    structure = "11000201100044"
    signed = jwt.encode(
        gateway_claims(structure), gateway_key, algorithm="RS256", headers={"kid": "piste-gateway-1"}
    )
    accepted = await http.get(url, headers={"authorization": f"Bearer {signed}"})
    assert accepted.status_code == 200, accepted.text
    # A token forwarded to received-invoices opens nothing elsewhere.
    elsewhere = await http.get(
        secured_platform.url("engagements") + "/engagements", headers={"authorization": f"Bearer {signed}"}
    )
    assert elsewhere.status_code == 401, elsewhere.text
    forged = {
        "the identity provider's key": jwt.encode(
            gateway_claims(structure), identity_provider.key, algorithm="RS256", headers={"kid": KEY_ID}
        ),
        "another key under the gateway's kid": jwt.encode(
            gateway_claims(structure),
            identity_provider.other_key,
            algorithm="RS256",
            headers={"kid": "piste-gateway-1"},
        ),
        "the development secret": jwt.encode(gateway_claims(structure), DEV_JWT_SECRET, algorithm="HS256"),
        "another service's audience": jwt.encode(
            gateway_claims(structure, aud=gateway_audience("directory")),
            gateway_key,
            algorithm="RS256",
            headers={"kid": "piste-gateway-1"},
        ),
        "another audience": jwt.encode(
            gateway_claims(structure, aud="chorus"),
            gateway_key,
            algorithm="RS256",
            headers={"kid": "piste-gateway-1"},
        ),
        "expired": jwt.encode(
            gateway_claims(structure, exp=int(time.time()) - 10),
            gateway_key,
            algorithm="RS256",
            headers={"kid": "piste-gateway-1"},
        ),
    }
    for case, token in forged.items():
        refused = await http.get(url, headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401, (case, refused.text)
