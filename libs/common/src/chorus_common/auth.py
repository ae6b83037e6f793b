"""Bearer-token verification into a `Principal`: HS256 in dev, JWKS with issuer/audience elsewhere."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chorus_common.problems import Problem
from chorus_common.settings import DEV_JWT_SECRET, ServiceSettings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
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
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
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
        principal = principal_from_claims(claims)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (principal, min(float(claims["exp"]), time.time() + VERIFIED_TOKEN_SECONDS))
        return principal


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
    """An HS256 token as accepted by a service running with APP_ENV=dev."""
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
    description="A JWT: HS256 with the dev secret in APP_ENV=dev, else RS256/ES256 from AUTH_JWKS_URL",
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
