"""Authorization: one helper per kind of actor; "not yours" and "does not exist" look the same."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils.crypto import constant_time_compare

from chat.models import Conversation, Message, Visitor
from chat.security.tokens import VisitorClaim
from chat.selectors.agents import agent_site_ids, is_agent, site_agents


class NotFound(Exception):
    """The object does not exist or the actor may not touch it; the client cannot tell which."""

    code = "not_found"


def access_conversation_for_visitor(*, visitor: Visitor, conversation_id: int) -> Conversation:
    """A conversation of this very visitor."""
    conversation = (
        Conversation.objects.select_related("site", "visitor", "assignee")
        .filter(pk=conversation_id, visitor=visitor)
        .first()
    )
    if conversation is None:
        raise NotFound()
    return conversation


def access_conversation_for_agent(
    *, user: AbstractBaseUser, conversation_id: int, site_ids: list[int] | None = None
) -> Conversation:
    """A conversation of a site the agent serves (`site_ids`, when the caller already knows them)."""
    conversation = (
        Conversation.objects.select_related("site", "visitor", "assignee")
        .filter(pk=conversation_id, site_id__in=agent_site_ids(user) if site_ids is None else site_ids)
        .first()
    )
    if conversation is None:
        raise NotFound()
    return conversation


def access_assignee_for_site(*, site_id: int, agent_id: int) -> AbstractBaseUser:
    """An agent who serves the site and may take its conversations."""
    user = site_agents(site_id).filter(pk=agent_id).first()
    if user is None:
        raise NotFound()
    return user


def access_reply_for_visitor(*, visitor: Visitor, reply_id: int) -> Message:
    """A bot reply in one of this visitor's conversations."""
    reply = (
        Message.objects.select_related("conversation")
        .filter(pk=reply_id, author_kind=Message.AuthorKind.BOT, conversation__visitor=visitor)
        .first()
    )
    if reply is None:
        raise NotFound()
    return reply


def access_reply_for_agent(*, user: AbstractBaseUser, reply_id: int, site_ids: list[int] | None = None) -> Message:
    """A bot reply in a conversation of a site the agent serves (`site_ids`, when the caller already knows them)."""
    sites = agent_site_ids(user) if site_ids is None else site_ids
    reply = (
        Message.objects.select_related("conversation")
        .filter(pk=reply_id, author_kind=Message.AuthorKind.BOT, conversation__site_id__in=sites)
        .first()
    )
    if reply is None:
        raise NotFound()
    return reply


def visitor_from_claim(
    *, claim: VisitorClaim | None = None, visitor_id: int | None = None, site_id: int | None = None
) -> Visitor | None:
    """The visitor a valid token names: still of the token's site, and its tokens not revoked since this one was signed.

    Pass the whole `claim`. The `visitor_id` + `site_id` form is that of callers written before
    token versions; it cannot tell a revoked token from a live one and goes once they pass `claim`.
    """
    visitors = Visitor.objects.select_related("site")
    if claim is None:
        return visitors.filter(pk=visitor_id, site_id=site_id).first()
    return visitors.filter(pk=claim.visitor_id, site_id=claim.site_id, token_version=claim.version).first()


def access_desk(*, user_id: int, session_key: str | None) -> list[int] | None:
    """The sites a desk socket may follow now, or None when its user may no longer use the desk.

    The user must still exist, be active and an agent (staff, or with a profile), and the login the
    socket was opened with must still be alive: its session still exists, still names this user,
    and still carries the user's auth hash (a password change ends it, as it ends the HTTP session).
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not is_agent(user) or not _login_alive(user, session_key):
        return None
    return agent_site_ids(user)


def _login_alive(user: AbstractBaseUser, session_key: str | None) -> bool:
    """Whether the session is still this user's login, as `django.contrib.auth.get_user` would judge it (read-only)."""
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()  # {} once deleted or expired
    if (
        str(session.get(SESSION_KEY)) != str(user.pk)
        or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS
    ):
        return False
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(session_hash, candidate) for candidate in hashes)
