"""Who calls, as PISTE and Chorus Pro decide it: an application's access token (OAuth 2.0 client
credentials), then a technical account of the directory in `cpro-account`, which fixes the structure
the call acts for.

An application is connected to one structure: its token acts only through that structure's technical
accounts. Client secrets are 256 random bits, kept as their SHA-256 (a hash that need not be slow: no
one can guess such a secret); technical accounts' passwords are the directory's scrypt hashes, and a
password once checked is believed for `credentials_cache_seconds` while the account's snapshot stays
the same (checking one takes about a quarter of a second).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from chorus_common.passwords import password_matches
from chorus_common.problems import field_problem
from chorus_common.unit_of_work import UnitOfWork
from piste_gateway import repository
from piste_gateway.domain import INVALID_ACCOUNT, UNAUTHENTICATED, CproError

AUDIENCE = "piste-gateway"


class OAuthError(Exception):
    """An OAuth 2.0 error (RFC 6749 §5.2): `error` and `error_description`, with its HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True)
class Caller:
    """A call's application, technical account and the structure it acts for."""

    client_id: str
    login: str
    structure_id: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def register_client(uow: UnitOfWork, name: str, structure_id: str, by: str) -> dict[str, Any]:
    """A new application connected to `structure_id`; its secret is in this answer only."""
    secret = secrets.token_urlsafe(32)
    async with uow:
        if await repository.structure(uow.conn, structure_id) is None:
            raise field_problem(
                "structure_id", "unknown-structure", "Unknown structure", "no such structure in the directory"
            )
        row = await repository.insert_client(
            uow.conn,
            {
                "client_id": str(uuid.uuid4()),
                "secret_hash": secret_hash(secret),
                "name": name,
                "structure_id": structure_id,
                "active": True,
                "created_by": by,
                "created_at": uow.now(),
            },
        )
    return {**row, "client_secret": secret}


class Access:
    def __init__(self, secret: str, ttl_seconds: int, cache_seconds: float) -> None:
        self._secret = secret
        self._ttl = ttl_seconds
        self._cache_seconds = cache_seconds
        # (login, SHA-256 of the password) -> (the account's version when checked, until when)
        self._checked: dict[tuple[str, str], tuple[int, float]] = {}

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    async def token(self, uow: UnitOfWork, client_id: str, client_secret: str) -> str:
        """An access token for the application, when its credentials are right and it is active."""
        async with uow.reading() as conn:
            row = await repository.client(conn, client_id)
        expected = row["secret_hash"] if row is not None else secret_hash(secrets.token_urlsafe(32))
        if not hmac.compare_digest(expected, secret_hash(client_secret)) or row is None or not row["active"]:
            raise OAuthError(401, "invalid_client", "unknown client, wrong secret, or client deactivated")
        now = datetime.now(UTC)
        claims = {
            "sub": client_id,
            "structure_id": row["structure_id"],
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + timedelta(seconds=self._ttl),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    async def caller(self, uow: UnitOfWork, authorization: str | None, cpro_account: str | None) -> Caller:
        claims = self._claims(authorization)
        login, password = _account(cpro_account)
        async with uow.reading() as conn:
            client = await repository.client(conn, claims["sub"])
            account = await repository.technical_account(conn, login)
        if client is None or not client["active"]:
            raise CproError(401, UNAUTHENTICATED, "Application inconnue ou désactivée")
        if account is None or not account["active"] or not await self._password_ok(account, password):
            raise CproError(401, INVALID_ACCOUNT, "Compte technique inconnu, inactif ou mot de passe erroné")
        if account["structure_id"] != client["structure_id"]:
            raise CproError(
                403,
                INVALID_ACCOUNT,
                "Ce compte technique n'est pas celui d'une structure raccordée à l'application",
            )
        return Caller(client["client_id"], login, account["structure_id"])

    def _claims(self, authorization: str | None) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise CproError(401, UNAUTHENTICATED, "Jeton d'accès absent (en-tête Authorization: Bearer)")
        try:
            claims: dict[str, Any] = jwt.decode(token, self._secret, algorithms=["HS256"], audience=AUDIENCE)
        except jwt.PyJWTError as exc:
            raise CproError(401, UNAUTHENTICATED, f"Jeton d'accès invalide ou expiré ({exc})") from exc
        return claims

    async def _password_ok(self, account: Any, password: str) -> bool:
        key = (account["login"], hashlib.sha256(password.encode()).hexdigest())
        checked = self._checked.get(key)
        if checked is not None and checked[0] == account["version"] and checked[1] > time.monotonic():
            return True
        # scrypt holds the CPU a quarter of a second: off the event loop.
        if not await asyncio.to_thread(password_matches, password, account["password_hash"]):
            return False
        if len(self._checked) > 10_000:
            self._checked.clear()
        self._checked[key] = (account["version"], time.monotonic() + self._cache_seconds)
        return True


def _account(header: str | None) -> tuple[str, str]:
    """`cpro-account`: base64 of `login:password`."""
    try:
        decoded = base64.b64decode(header or "", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    login, colon, password = decoded.partition(":")
    if not (login and colon and password):
        raise CproError(
            401, INVALID_ACCOUNT, "En-tête cpro-account absent ou invalide (base64 de login:motDePasse)"
        )
    return login, password
