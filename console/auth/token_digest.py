"""Random bearer secrets (session and API tokens) and the digest that is stored instead.

A token is 32 random bytes, URL-safe base64: too many to guess, so a plain SHA-256 of it
is a safe thing to store and to look up by (unlike a password, which needs argon2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token(prefix: str = "") -> str:
    """A fresh random token; ``prefix`` names its kind for secret scanners (``lantai_``)."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Equality that takes as long whatever the first differing character."""
    return hmac.compare_digest(a.encode(), b.encode())
