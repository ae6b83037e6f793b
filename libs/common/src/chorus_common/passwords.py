"""Passwords of technical accounts, as the directory stores them and the PISTE gateway checks them.

Passwords are generated (never chosen), shown once, and stored as a salted scrypt hash (Python's
hashlib): `scrypt$N$r$p$salt$digest`. N=2^14, r=8, p=5 is one of OWASP's equivalent minimums for scrypt,
at 16 MiB per check rather than the 128 MiB of N=2^17, p=1; measured here at 260 ms per hash on one core,
so whoever checks logins on every call keeps what it has verified for a while.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5


def new_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)
