"""The signed links in emails: confirm an address, unsubscribe, reopen a conversation. Each kind has its own salt."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

CONFIRM_SALT = "parley.email.confirm"
UNSUBSCRIBE_SALT = "parley.email.unsubscribe"
OPEN_SALT = "parley.email.open"
MAX_TOKEN_LENGTH = 600


class BadLink(Exception):
    """The link was changed, has expired, or is not one of ours."""


@dataclass(frozen=True)
class AddressClaim:
    """A visitor and the address the link was sent to (confirm, unsubscribe)."""

    visitor_id: int
    email: str


@dataclass(frozen=True)
class AgentClaim:
    """An agent who may turn off the emails about conversations assigned while offline."""

    user_id: int


@dataclass(frozen=True)
class OpenClaim:
    """A visitor's conversation, while the visitor's tokens are still of this version."""

    visitor_id: int
    conversation_id: int
    version: int


def absolute(path: str) -> str:
    """A link on Parley's public origin (PARLEY_PUBLIC_URL)."""
    return settings.PARLEY_PUBLIC_URL + path


def _read(token: object, *, salt: str, max_age: int | None) -> dict:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadLink("missing or malformed link")
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired included
        raise BadLink("changed or expired link") from None
    if not isinstance(data, dict):
        raise BadLink("malformed link")
    return data


def confirm_url(*, visitor_id: int, email: str) -> str:
    """The link that confirms `email` as the visitor's address (while it still is)."""
    token = signing.dumps({"v": visitor_id, "e": email}, salt=CONFIRM_SALT, compress=True)
    return absolute(reverse("email-confirm", args=[token]))


def confirm_read(token: object) -> AddressClaim:
    """The claim of a confirm link, or BadLink; it works for PARLEY_EMAIL_CONFIRM_MAX_AGE."""
    data = _read(token, salt=CONFIRM_SALT, max_age=settings.PARLEY_EMAIL_CONFIRM_MAX_AGE)
    try:
        return AddressClaim(visitor_id=int(data["v"]), email=str(data["e"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("malformed link") from None


def unsubscribe_url(*, visitor_id: int | None = None, email: str = "", user_id: int | None = None) -> str:
    """The unsubscribe link of an email to a visitor's address, or to an agent (`user_id`). It never expires."""
    data = {"u": user_id} if user_id is not None else {"v": visitor_id, "e": email}
    token = signing.dumps(data, salt=UNSUBSCRIBE_SALT, compress=True)
    return absolute(reverse("email-unsubscribe", args=[token]))


def unsubscribe_read(token: object) -> AddressClaim | AgentClaim:
    """The claim of an unsubscribe link, or BadLink."""
    data = _read(token, salt=UNSUBSCRIBE_SALT, max_age=None)
    try:
        if "u" in data:
            return AgentClaim(user_id=int(data["u"]))
        return AddressClaim(visitor_id=int(data["v"]), email=str(data["e"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("malformed link") from None


def open_url(*, visitor_id: int, conversation_id: int, version: int) -> str:
    """The link that reopens the conversation in the widget, until the visitor's tokens are revoked."""
    token = signing.dumps({"v": visitor_id, "c": conversation_id, "n": version}, salt=OPEN_SALT, compress=True)
    return absolute(reverse("email-open", args=[token]))


def open_read(token: object) -> OpenClaim:
    """The claim of a reopen link, or BadLink; it works for PARLEY_EMAIL_OPEN_MAX_AGE (30 days)."""
    data = _read(token, salt=OPEN_SALT, max_age=settings.PARLEY_EMAIL_OPEN_MAX_AGE)
    try:
        return OpenClaim(visitor_id=int(data["v"]), conversation_id=int(data["c"]), version=int(data["n"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("malformed link") from None


def desk_url(conversation_id: int) -> str:
    """The desk with the conversation open (static/desk/desk.js reads `#conversation=<id>`)."""
    return absolute(f"/agent/#conversation={conversation_id}")
