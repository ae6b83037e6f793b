"""What stands between the signed-out forms and abuse, besides the hourly limit: a CSRF token on every
form post, and a proof-of-work captcha (ALTCHA) before a ticket is created signed out.

The CSRF token is a signed double submit: a random cookie, and in the form its HMAC under the portal's
secret, so that a page on another site can neither read the token nor forge one for a cookie it plants.
The captcha is ALTCHA's (the `altcha` package verifies, the widget is served from the portal's own
static files): the portal signs a challenge whose answer is a counter below `captcha_max_counter`,
each try costing `captcha_cost` PBKDF2 iterations; a solved challenge is spent once (the caller
records its signature until it expires).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import altcha

CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf_token"
CAPTCHA_FIELD = "altcha"
CAPTCHA_ALGORITHM = "PBKDF2/SHA-256"


@dataclass(frozen=True)
class SolvedCaptcha:
    """A verified solution: its challenge's signature, spent until the challenge expires."""

    signature: str
    expires_at: datetime


@dataclass(frozen=True)
class FormGuard:
    secret: bytes
    captcha_cost: int
    captcha_max_counter: int
    captcha_ttl_seconds: int
    secure_cookie: bool

    def _key(self, purpose: str) -> bytes:
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).digest()

    # -- CSRF -----------------------------------------------------------------------------------
    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self._key("csrf"), cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        return hmac.compare_digest(self.csrf_token(cookie), token)

    # -- captcha --------------------------------------------------------------------------------
    def challenge(self) -> dict[str, Any]:
        """A new challenge, as the widget fetches it (ALTCHA's v2 form: parameters and signature)."""
        challenge = altcha.create_challenge(
            CAPTCHA_ALGORITHM,
            self.captcha_cost,
            counter=secrets.randbelow(self.captcha_max_counter),
            expires_at=int(time.time()) + self.captcha_ttl_seconds,
            hmac_secret=self._key("altcha"),
            hmac_key_secret=self._key("altcha-key"),
        )
        answer: dict[str, Any] = challenge.to_dict()
        return answer

    def verify(self, payload: str) -> SolvedCaptcha | None:
        """The solved challenge in the widget's `altcha` field, or None when it is not one of ours, is
        expired or is not solved. Whether it was spent already is the caller's to check."""
        try:
            decoded = altcha.Payload.from_base64(payload)
            result = altcha.verify_solution(
                decoded, self._key("altcha"), hmac_key_secret=self._key("altcha-key")
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None  # not base64, not JSON, or not the shape of a payload
        expires_at = decoded.challenge.parameters.expires_at
        if not result.verified or not decoded.challenge.signature or not isinstance(expires_at, int):
            return None
        return SolvedCaptcha(decoded.challenge.signature, datetime.fromtimestamp(expires_at, UTC))
