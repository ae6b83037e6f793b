"""The actions that need an immediate answer (traiter/recue, traiter/factureAValider, traiterRejet,
completer, recycler) go to the service that owns the invoice, over its public HTTP API, with a token the
gateway signs for the technical account's structure: short-lived (CHORUS_INTERNAL_TOKEN_TTL_SECONDS), of
issuer `GATEWAY_ISSUER`, its audience the one service it is for (`gateway_audience`), RS256 with
CHORUS_INTERNAL_TOKEN_KEY (its public key at /.well-known/jwks.json, which the services read as
CHORUS_GATEWAY_JWKS_URL), or HS256 with the dev secret in CHORUS_APP_ENV=dev. The owning service decides,
as for any caller; its refusals come back as Chorus Pro's."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import RSAAlgorithm

from chorus_common.auth import GATEWAY_ISSUER, gateway_audience
from piste_gateway.access import Caller
from piste_gateway.domain import INVALID_REQUEST, NOT_FOUND, REFUSED, UNAVAILABLE, CproError
from piste_gateway.settings import PisteGatewaySettings

KEY_ID = "piste-gateway-1"
# The referentials read from other services (received-invoices' lifecycle, support-portal's
# categories) change with a release or a configuration, not with each call: read at most this often.
REFERENTIAL_SECONDS = 300.0


class Forwarder:
    def __init__(self, settings: PisteGatewaySettings) -> None:
        self._ttl = settings.internal_token_ttl_seconds
        self._key: RSAPrivateKey | None = None
        if settings.internal_token_key is not None:
            key = load_pem_private_key(settings.internal_token_key.get_secret_value().encode(), password=None)
            if not isinstance(key, RSAPrivateKey):
                raise ValueError("CHORUS_INTERNAL_TOKEN_KEY must be an RSA private key (PEM)")
            self._key = key
        self._secret = settings.jwt_secret  # the dev secret, in CHORUS_APP_ENV=dev only
        self._urls = {
            "received-invoices": settings.received_invoices_url.rstrip("/"),
            "invoicing-works": settings.invoicing_works_url.rstrip("/"),
            "support-portal": settings.support_portal_url.rstrip("/"),
        }
        self._client = httpx.AsyncClient(timeout=settings.forward_timeout_seconds)
        self._referentials: dict[tuple[str, str], tuple[float, Any]] = {}

    async def close(self) -> None:
        await self._client.aclose()

    def token(self, caller: Caller, service: str) -> str:
        """A token acting for the technical account's structure, for one call forwarded to `service`."""
        now = int(time.time())
        claims = {
            "iss": GATEWAY_ISSUER,
            "aud": gateway_audience(service),
            "sub": f"technical-account:{caller.login}",
            "structures": [caller.structure_id],
            "client_id": caller.client_id,
            "iat": now,
            "exp": now + self._ttl,
            "jti": str(uuid.uuid4()),
        }
        if self._key is not None:
            return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KEY_ID})
        if self._secret is None:
            raise CproError(
                503, UNAVAILABLE, "Le transfert des actions n'est pas configuré (CHORUS_INTERNAL_TOKEN_KEY)"
            )
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def jwks(self) -> dict[str, Any]:
        """The public keys the services check the gateway's tokens with (none in dev without a key)."""
        if self._key is None:
            return {"keys": []}
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=KEY_ID, use="sig", alg="RS256")
        return {"keys": [jwk]}

    async def lifecycle(self, caller: Caller) -> list[dict[str, Any]]:
        """received-invoices' lifecycle: what each role may move an invoice to, from each status."""
        steps: list[dict[str, Any]] = await self.referential("received-invoices", "/lifecycle", caller)
        return steps

    async def categories(self) -> list[dict[str, Any]]:
        """support-portal's active ticket categories, each with its active subcategories (public)."""
        found: list[dict[str, Any]] = await self.referential("support-portal", "/public/categories")
        return found

    async def referential(self, service: str, path: str, caller: Caller | None = None) -> Any:
        """GET `path` of `service` (with a token for `caller`, if any), read at most every
        REFERENTIAL_SECONDS."""
        known = self._referentials.get((service, path))
        if known is not None and time.monotonic() - known[0] < REFERENTIAL_SECONDS:
            return known[1]
        answer = await self.call(service, "GET", path, caller)
        self._referentials[(service, path)] = (time.monotonic(), answer)
        return answer

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        caller: Caller | None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The owning service's answer; its refusal as Chorus Pro's codeRetour and libelle. Without a
        caller, the call carries no token (a public resource)."""
        headers = {"authorization": f"Bearer {self.token(caller, service)}"} if caller is not None else {}
        try:
            response = await self._client.request(
                method, self._urls[service] + path, json=body, headers=headers
            )
        except httpx.HTTPError as error:
            raise CproError(503, UNAVAILABLE, f"{service} ne répond pas ({type(error).__name__})") from error
        if response.is_success:
            return response.json()
        raise refusal(service, response)


def refusal(service: str, response: httpx.Response) -> CproError:
    """A problem (RFC 9457) of the owning service, as Chorus Pro answers it."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        detail += " : " + "; ".join(
            f"{e.get('field')} {e.get('message')}" for e in errors if isinstance(e, dict)
        )
    allowed = problem.get("allowed")
    if isinstance(allowed, list) and allowed:
        detail += f" (possibles : {', '.join(map(str, allowed))})"
    status = response.status_code
    if status == 404:
        return CproError(400, NOT_FOUND, detail[:1000])
    if status in (403, 409):
        return CproError(400, REFUSED, detail[:1000])
    if status in (400, 422):
        return CproError(400, INVALID_REQUEST, detail[:1000])
    return CproError(503, UNAVAILABLE, f"{service} : {detail}"[:1000])
