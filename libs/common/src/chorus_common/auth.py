"""Bearer-token verification into a `Principal`: HS256 in dev, JWKS with issuer/audience elsewhere."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chorus_common.problems import Problem
from chorus_common.settings import DEV_JWT_SECRET, ServiceSettings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
# The PISTE gateway forwards a technical account's actions to the services that own them with a
# short-lived token of its own: this issuer, the one service it is for as audience, signed with its
# key (CHORUS_GATEWAY_JWKS_URL) or, in CHORUS_APP_ENV=dev, with the dev secret. Such a token acts for
# the structures it names: the gateway checked the technical account, which the directory attaches to
# that structure.
GATEWAY_ISSUER = "urn:chorus:piste-gateway"


def gateway_audience(service: str) -> str:
    """The audience of a token the gateway forwards a call to `service` with (no other service takes it)."""
    return f"urn:chorus:service:{service}"


# A verified token is trusted again without checking its signature until it expires, for at most this
# long (so that a key withdrawn from the JWKS stops being honoured soon), among this many tokens.
VERIFIED_TOKEN_SECONDS = 300.0
VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class Principal:
    sub: str
    email: str | None = None
    structures: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)
    # Vouched for by the PISTE gateway (a technical account's forwarded call): its `structures` are the
    # account's, not looked up among the directory's attachments of a user.
    vouched: bool = False

    def acts_for(self, structure_id: str | None) -> bool:
        return structure_id is not None and structure_id in self.structures

    def has_role(self, role: str) -> bool:
        return role in self.roles


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class TokenVerifier:
    """Verifies bearer tokens as the settings say; built once per service."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.auth_issuer
        self._audience = settings.auth_audience
        self._jwks = jwt.PyJWKClient(settings.auth_jwks_url) if settings.auth_jwks_url else None
        self._gateway_audience = gateway_audience(settings.service_name)
        self._gateway_jwks = jwt.PyJWKClient(settings.gateway_jwks_url) if settings.gateway_jwks_url else None
        self._verified: dict[str, tuple[Principal, float]] = {}

    def already_verified(self, token: str) -> Principal | None:
        """The principal of a token verified recently and not expired since; None otherwise."""
        known = self._verified.get(token)
        if known is None:
            return None
        principal, trusted_until = known
        if time.time() < trusted_until:
            return principal
        self._verified.pop(token, None)
        return None

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None or self._gateway_jwks is not None

    def verify(self, token: str) -> Principal:
        if _issuer_of(token) == GATEWAY_ISSUER:
            return self._verify_gateway(token)
        options: Any = {"require": ["sub", "exp"], "verify_aud": self._audience is not None}
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ASYMMETRIC_ALGORITHMS
            elif self._secret is not None:
                key, algorithms = self._secret, ["HS256"]
            else:
                raise unauthenticated("No token verification is configured")
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=options,
            )
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"Invalid token: {exc}") from exc
        return self._remember(token, principal_from_claims(claims), claims)

    def _verify_gateway(self, token: str) -> Principal:
        """A token of the PISTE gateway: its own key in production, the dev secret in dev, nothing else."""
        try:
            if jwt.get_unverified_header(token).get("alg") == "HS256" and self._secret is not None:
                key: Any = self._secret  # CHORUS_APP_ENV=dev: the gateway signs with the dev secret
                algorithms = ["HS256"]
            elif self._gateway_jwks is not None:
                key = self._gateway_jwks.get_signing_key_from_jwt(token).key
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                raise unauthenticated(
                    "The PISTE gateway's tokens are not accepted (no CHORUS_GATEWAY_JWKS_URL)"
                )
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._gateway_audience,
                issuer=GATEWAY_ISSUER,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"Invalid token: {exc}") from exc
        principal = replace(principal_from_claims(claims), roles=frozenset(), vouched=True)
        return self._remember(token, principal, claims)

    def _remember(self, token: str, principal: Principal, claims: dict[str, Any]) -> Principal:
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (principal, min(float(claims["exp"]), time.time() + VERIFIED_TOKEN_SECONDS))
        return principal


def _issuer_of(token: str) -> str | None:
    """The `iss` a token claims, before its signature is checked (to choose the key that checks it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    structures = claims.get("structures", [])
    roles = claims.get("roles", [])
    if not isinstance(structures, list) or not isinstance(roles, list):
        raise unauthenticated("Claims 'structures' and 'roles' must be lists")
    return Principal(
        sub=str(claims["sub"]),
        email=claims.get("email"),
        structures=frozenset(str(s) for s in structures),
        roles=frozenset(str(r) for r in roles),
    )


def mint_dev_token(
    sub: str,
    structures: list[str],
    roles: list[str] | None = None,
    email: str | None = None,
    secret: str = DEV_JWT_SECRET,
    ttl_seconds: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """An HS256 token as accepted by a service running with CHORUS_APP_ENV=dev."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "structures": structures,
        "roles": roles or [],
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


# Declares the bearer scheme in the OpenAPI documents; verification is `TokenVerifier`'s.
bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description=(
        "A JWT: HS256 with the dev secret in CHORUS_APP_ENV=dev, else RS256/ES256 from CHORUS_AUTH_JWKS_URL"
    ),
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def _verified_principal(request: Request, token: str) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    known = verifier.already_verified(token)
    if known is not None:
        return known
    if verifier.fetches_keys:
        # The JWKS client may fetch the keys over the network: not on the event loop.
        return await run_in_threadpool(verifier.verify, token)
    # A shared-secret check is pure computation, cheaper than a hop to the threadpool.
    return verifier.verify(token)


async def require_principal(request: Request, credentials: BearerCredentials) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise unauthenticated("A bearer token is required")
    return await _verified_principal(request, credentials.credentials.strip())


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def require_role(principal: Principal, role: str) -> None:
    if not principal.has_role(role):
        raise Problem(403, "forbidden", "Forbidden", f"The '{role}' role is required")
