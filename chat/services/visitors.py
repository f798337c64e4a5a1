"""Visitor sessions: resume a token, start anew, or take a verified identity."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chat.models import Site, Visitor
from chat.realtime import groups
from chat.security import tokens
from chat.services import notifications
from chat.services.revocation import VISITOR_REVOKED_MESSAGE, signal_after_commit


class IdentityRejected(Exception):
    """A user_id came with a hash that does not match the site's identity secret."""


@dataclass(frozen=True)
class VisitorSession:
    """The visitor a widget speaks for, and its fresh token."""

    visitor: Visitor
    token: str


def identity_hash(*, secret: str, user_id: str) -> str:
    """HMAC-SHA256 of the user id under the site's secret, hex: what the site's backend computes."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_verify(*, site: Site, user_id: str, user_hash: str) -> bool:
    """Compare in constant time; a site without a secret verifies nobody."""
    if not site.identity_secret or not user_id or not user_hash:
        return False
    return hmac.compare_digest(identity_hash(secret=site.identity_secret, user_id=user_id), user_hash.lower())


def _resumable(site: Site, token: str | None) -> Visitor | None:
    """The visitor a still-valid, unrevoked token of this very site names; tokens of other sites resume nothing."""
    if not token:
        return None
    try:
        claim = tokens.visitor_token_read(token)
    except tokens.BadToken:
        return None
    if claim.site_id != site.pk:
        return None
    return Visitor.objects.filter(pk=claim.visitor_id, site=site, token_version=claim.version).first()


def visitor_session_start(
    *,
    site: Site,
    token: str | None = None,
    user_id: str = "",
    user_hash: str = "",
    name: str = "",
    email: str = "",
    page_url: str = "",
    user_agent: str = "",
) -> VisitorSession:
    """Resume the token's visitor, or the verified user's, or create an anonymous one; refresh what we know."""
    if user_id and not identity_verify(site=site, user_id=user_id, user_hash=user_hash):
        raise IdentityRejected("user_hash does not match user_id")
    visitor = None
    if user_id:
        visitor = Visitor.objects.filter(site=site, external_id=user_id).first()
        if visitor is None:
            try:
                with transaction.atomic():
                    visitor = Visitor.objects.create(site=site, external_id=user_id)
            except IntegrityError:  # a second tab verified the same user a moment ago
                visitor = Visitor.objects.get(site=site, external_id=user_id)
    else:
        visitor = _resumable(site, token)
        if visitor is not None and visitor.external_id:
            # An identified visitor's history needs the hash again: a bare token from a shared
            # computer must not reopen someone's account conversations after they logged out.
            visitor = None
    if visitor is None:
        visitor = Visitor.objects.create(site=site)
    visitor.last_seen = timezone.now()
    visitor.name = name or visitor.name
    fields = ["last_seen", "name", "last_page_url", "user_agent"]
    if email and email != visitor.email:
        # The site vouches for a verified user's address; one typed into a form is confirmed by its link.
        visitor.email, visitor.email_opt_out = email, False
        visitor.email_confirmed_at = timezone.now() if visitor.verified else None
        fields += ["email", "email_confirmed_at", "email_opt_out"]
    visitor.last_page_url = page_url or visitor.last_page_url
    visitor.user_agent = user_agent[:400] or visitor.user_agent
    visitor.save(update_fields=fields)
    if "email" in fields and not visitor.verified:
        notifications.contact_given(visitor)
    token = tokens.visitor_token_issue(
        visitor_id=visitor.pk,
        site_id=site.pk,
        version=visitor.token_version,
        # A verified session lasts PARLEY_VERIFIED_SESSION_MAX_AGE from this check of the hash.
        verified=visitor.verified,
    )
    return VisitorSession(visitor=visitor, token=token)


def visitor_tokens_revoke(*, visitor: Visitor) -> bool:
    """Revoke every token of the visitor (all tabs, devices and SSE tickets), and close its open sockets.

    `Parley.reset()` on the host page, when its user logs out. The visitor's conversations stay;
    a verified customer reaches them again only with the identity hash. False when the tokens
    had already been revoked since `visitor` was read (a retried reset).
    """
    with transaction.atomic():
        revoked = bool(
            Visitor.objects.filter(pk=visitor.pk, token_version=visitor.token_version).update(
                token_version=F("token_version") + 1
            )
        )
        if revoked:
            signal_after_commit(groups.visitor_group(visitor.pk), {"type": VISITOR_REVOKED_MESSAGE})
    return revoked
