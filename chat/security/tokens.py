"""Signed visitor tokens and tickets: who a widget is, without a cookie."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

VISITOR_SALT = "parley.visitor-token"


@dataclass(frozen=True)
class VisitorClaim:
    """What a valid token vouches for."""

    visitor_id: int
    site_id: int


class BadToken(Exception):
    """The token is forged, expired or malformed."""


def visitor_token_issue(*, visitor_id: int, site_id: int) -> str:
    """Sign a token naming the visitor and its site."""
    return signing.dumps({"v": visitor_id, "s": site_id}, salt=VISITOR_SALT, compress=False)


def visitor_token_read(token: object, *, max_age: int | None = None, salt: str = VISITOR_SALT) -> VisitorClaim:
    """Check a token's signature and age and return its claim, or raise BadToken."""
    if not isinstance(token, str) or not token or len(token) > 500:
        raise BadToken("missing or malformed token")
    try:
        data = signing.loads(
            token, salt=salt, max_age=settings.PARLEY_VISITOR_TOKEN_MAX_AGE if max_age is None else max_age
        )
        return VisitorClaim(visitor_id=int(data["v"]), site_id=int(data["s"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise BadToken("invalid or expired token") from None
