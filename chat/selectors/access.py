"""Authorization: one helper per kind of actor; "not yours" and "does not exist" look the same."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from chat.models import Conversation, Message, Visitor
from chat.selectors.agents import agent_site_ids, site_agents


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


def visitor_from_claim(*, visitor_id: int, site_id: int) -> Visitor | None:
    """The visitor a valid token names, only if it still belongs to the token's site."""
    return Visitor.objects.select_related("site").filter(pk=visitor_id, site_id=site_id).first()
