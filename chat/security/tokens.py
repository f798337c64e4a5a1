"""Signed visitor tokens and tickets: who a widget is, without a cookie."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

VISITOR_SALT = "parley.visitor-token"

# How long after the host page last sent the identity hash a verified visitor's token still opens
# the account's history: the widget sends the hash again on its next session call (Parley.identify).
# PARLEY_VERIFIED_SESSION_MAX_AGE in settings overrides it.
VERIFIED_SESSION_MAX_AGE = 60 * 60 * 24


@dataclass(frozen=True)
class VisitorClaim:
    """What a valid token vouches for."""

    visitor_id: int
    site_id: int
    #: The visitor's token version when it was signed; a later version revokes it (tokens before versions: 0).
    version: int = 0
    #: When the identity hash was last checked (Unix seconds), for a verified visitor; None for an anonymous one.
    verified_at: int | None = None


class BadToken(Exception):
    """The token is forged, expired or malformed."""


def verified_session_max_age() -> int:
    """Seconds a verified visitor's token lasts after the hash was checked."""
    return getattr(settings, "PARLEY_VERIFIED_SESSION_MAX_AGE", VERIFIED_SESSION_MAX_AGE)


def visitor_token_issue(
    *, visitor_id: int, site_id: int, version: int = 0, verified: bool = False, salt: str = VISITOR_SALT
) -> str:
    """Sign a token naming the visitor, its site and its token version; `verified`: the identity hash was just checked."""
    data = {"v": visitor_id, "s": site_id, "n": version}
    if verified:
        data["t"] = int(time.time())
    return signing.dumps(data, salt=salt, compress=False)


def visitor_token_read(token: object, *, max_age: int | None = None, salt: str = VISITOR_SALT) -> VisitorClaim:
    """Check a token's signature and age and return its claim, or raise BadToken.

    A verified visitor's token also expires PARLEY_VERIFIED_SESSION_MAX_AGE after its hash was
    checked: a bare token must not reopen an account's history for the whole 90 days.
    """
    if not isinstance(token, str) or not token or len(token) > 500:
        raise BadToken("missing or malformed token")
    try:
        data = signing.loads(
            token, salt=salt, max_age=settings.PARLEY_VISITOR_TOKEN_MAX_AGE if max_age is None else max_age
        )
        verified_at = data.get("t")
        claim = VisitorClaim(
            visitor_id=int(data["v"]),
            site_id=int(data["s"]),
            version=int(data.get("n", 0)),
            verified_at=None if verified_at is None else int(verified_at),
        )
    except (signing.BadSignature, AttributeError, KeyError, TypeError, ValueError):
        raise BadToken("invalid or expired token") from None
    if claim.verified_at is not None and time.time() - claim.verified_at > verified_session_max_age():
        raise BadToken("the verified session expired; send the identity hash again")
    return claim
