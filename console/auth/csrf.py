"""CSRF: a change made with the session cookie must also carry a token that only the
console's own pages can read.

The token is derived from the session token (HMAC), so nothing more is stored and it
changes with every login. The server compares the ``X-CSRF-Token`` header with the value
derived from the cookie it was sent, never with the ``lantai_csrf`` cookie: that cookie
is only how the page's script learns the value, and a neighbouring site that can plant
cookies still cannot make them match the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from console.auth.token_digest import same

CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "lantai_csrf"
# Methods that only read; everything else changes something and needs the token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_PURPOSE = b"lantai csrf v1"


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with ``session_token``."""
    mac = hmac.new(session_token.encode(), _PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(session_token: str, sent: str | None) -> bool:
    """Whether ``sent`` (the header's value) is the session's CSRF token."""
    return bool(sent) and same(csrf_token(session_token), sent or "")
