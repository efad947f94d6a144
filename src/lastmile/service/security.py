"""Secrets: password hashing (argon2id), random tokens, and their stored digests.

Passwords are hashed with argon2id (argon2-cffi): slow on purpose. Session
tokens, API keys and tracking tokens are 256/192-bit random strings, so a
plain SHA-256 digest is enough to store them: nothing to brute-force.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

SESSION_PREFIX = "lms_"
API_KEY_PREFIX = "lmk_"


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so timing does not tell."""
    return _hasher.hash("not a password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such user) still costs a hash check."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "", *, nbytes: int = 32) -> str:
    """A URL-safe random token of ``nbytes`` random bytes (default 256 bits)."""
    return prefix + secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """The stored form of a random token: hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
