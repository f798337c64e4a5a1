"""Public-API token strings: `prl_<prefix>_<secret>`; the prefix finds the row, only the secret's hash is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

SCHEME = "prl"
PREFIX_LENGTH = 10
# 32 random bytes: far beyond guessing, so one fast hash is enough (a slow hash guards weak passwords, not these).
SECRET_BYTES = 32
_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(rf"{SCHEME}_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{20,100}})")


@dataclass(frozen=True)
class NewToken:
    """A token as made: the string shown once, and what is stored of it."""

    raw: str
    prefix: str
    secret_hash: str


def token_hash(raw: str) -> str:
    """The stored form of a whole token string: hex SHA-256."""
    return hashlib.sha256(raw.encode()).hexdigest()


def token_new() -> NewToken:
    """A fresh random token."""
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    raw = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewToken(raw=raw, prefix=prefix, secret_hash=token_hash(raw))


def token_prefix(raw: str) -> str | None:
    """The lookup prefix of a well-formed token string, else None."""
    match = _TOKEN.fullmatch(raw)
    return match.group(1) if match else None
