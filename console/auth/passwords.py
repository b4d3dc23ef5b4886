"""Passwords: argon2id hashes, the rules a new password must meet, and a check that
takes as long for a name nobody has as for a real account.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr

# NIST SP 800-63B §3.1.1.2: length, not composition rules. Twelve characters is a short
# sentence in pinyin or English; the upper bound keeps one request from hashing megabytes.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


class PasswordRefused(ValueError):  # noqa: N818 - reads as "the password was refused"
    """A new password does not meet the rules; the message says which, in zh and en."""


@dataclass(frozen=True, slots=True)
class Checked:
    """The result of checking a password against a stored hash."""

    ok: bool
    # A fresh hash to store when the password was right but hashed with other parameters
    # (the settings changed since): every login moves an account to the current ones.
    rehashed: str | None = None


class Passwords:
    """Hashes and checks passwords with one argon2id parameter set."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        # PasswordHasher() is argon2id with RFC 9106's low-memory profile (64 MiB, t=3, p=4).
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def hash(self, password: SecretStr) -> str:
        return self._hasher.hash(password.get_secret_value())

    def check(self, stored: str, password: SecretStr) -> Checked:
        """Whether ``password`` matches ``stored``, and a new hash if it should be replaced."""
        try:
            self._hasher.verify(stored, password.get_secret_value())
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Checked(ok=False)
        if self._hasher.check_needs_rehash(stored):
            return Checked(ok=True, rehashed=self.hash(password))
        return Checked(ok=True)

    def waste_time(self, password: SecretStr) -> None:
        """Spend what a real check costs, for a name with no account: otherwise the answer's
        speed tells an attacker which names exist."""
        self.check(self._dummy_hash(), password)

    def _dummy_hash(self) -> str:
        # Made on first use, not at import or construction: hashing costs ~0.1 s.
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self._hasher.hash("lantai: no such account")
            return self._dummy


def refuse_weak_password(password: SecretStr, username: str) -> None:
    """Raise PasswordRefused unless ``password`` may be set for ``username``."""
    text = password.get_secret_value()
    if len(text) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符 / "
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(text) > MAX_PASSWORD_LENGTH:
        raise PasswordRefused(
            f"密码最多 {MAX_PASSWORD_LENGTH} 个字符 / "
            f"a password may have at most {MAX_PASSWORD_LENGTH} characters"
        )
    if text.strip().casefold() == username.casefold():
        raise PasswordRefused("密码不能与用户名相同 / the password must not be the user name")
