"""Reads of the public API: what a token's agent may see, on the agent's sites only; "not yours" is a 404."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.utils.crypto import constant_time_compare

from chat.models import ApiToken, Attachment, Conversation, KnowledgeArticle, Label, Message, Site, Visitor
from chat.security.api_tokens import token_hash, token_prefix
from chat.selectors.access import NotFound
from chat.selectors.agents import agent_site_ids, is_agent


def api_token_for(raw: str) -> ApiToken | None:
    """The live token a request presents (its agent still active and an agent), else None."""
    prefix = token_prefix(raw)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
    if token is None or not constant_time_compare(token.secret_hash, token_hash(raw)):
        return None
    if not is_agent(token.user):
        return None
    return token


def api_tokens_of(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The agent's tokens, live first, newest first."""
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def api_sites(*, user: AbstractBaseUser) -> QuerySet[Site]:
    """The sites the agent serves."""
    return Site.objects.filter(pk__in=agent_site_ids(user)).order_by("pk")


def api_site(*, user: AbstractBaseUser, site_id: int) -> Site:
    """One site the agent serves."""
    site = api_sites(user=user).filter(pk=site_id).first()
    if site is None:
        raise NotFound()
    return site


def api_site_ids(*, user: AbstractBaseUser, site_id: int | None = None) -> list[int]:
    """The agent's sites, or just `site_id` when it is one of them (NotFound when it is not)."""
    site_ids = agent_site_ids(user)
    if site_id is None:
        return site_ids
    if site_id not in site_ids:
        raise NotFound()
    return [site_id]


def _conversations(site_ids: list[int]) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(site_id__in=site_ids)
        .select_related("visitor", "assignee")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
    )


def api_conversations(
    *,
    user: AbstractBaseUser,
    site_id: int | None = None,
    status: str = "",
    owner: str = "",
    assignee_id: int | None = None,
    unassigned: bool = False,
    label: str = "",
    updated_since: datetime | None = None,
) -> QuerySet[Conversation]:
    """The agent's conversations, filtered; the caller orders and pages them."""
    conversations = _conversations(api_site_ids(user=user, site_id=site_id))
    if status:
        conversations = conversations.filter(status=status)
    if owner:
        conversations = conversations.filter(owner=owner)
    if unassigned:
        conversations = conversations.filter(assignee__isnull=True)
    elif assignee_id is not None:
        conversations = conversations.filter(assignee_id=assignee_id)
    if label:
        conversations = conversations.filter(labels__name=label)
    if updated_since is not None:
        conversations = conversations.filter(updated_at__gte=updated_since)
    return conversations


def api_conversation(*, user: AbstractBaseUser, conversation_id: int) -> Conversation:
    """One conversation of the agent's sites, with its visitor, assignee and labels."""
    conversation = _conversations(agent_site_ids(user)).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    return conversation


def api_messages(*, conversation: Conversation, after: int = 0, limit: int = 50) -> tuple[list[Message], bool]:
    """Messages after seq `after`, in order, notes included (the agent's view), and whether more follow."""
    rows = list(
        Message.objects.filter(conversation=conversation, seq__gt=after)
        .select_related("author_agent")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
        .order_by("seq")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


def api_message(*, conversation: Conversation, message_id: int) -> Message:
    """One message of a conversation, as the list shows it."""
    message = (
        Message.objects.filter(conversation=conversation, pk=message_id)
        .select_related("author_agent")
        .prefetch_related("attachments")
        .first()
    )
    if message is None:
        raise NotFound()
    return message


def api_contacts(*, user: AbstractBaseUser, site_id: int | None = None, email: str = "") -> QuerySet[Visitor]:
    """The customers of the agent's sites, newest first."""
    contacts = Visitor.objects.filter(site_id__in=api_site_ids(user=user, site_id=site_id)).select_related("attributes")
    if email:
        contacts = contacts.filter(email__iexact=email)
    return contacts


def api_contact(*, user: AbstractBaseUser, contact_id: int) -> Visitor:
    """One customer of the agent's sites."""
    contact = api_contacts(user=user).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound()
    return contact


def api_articles(*, user: AbstractBaseUser, site_id: int | None = None) -> QuerySet[KnowledgeArticle]:
    """The knowledge-base articles of the agent's sites."""
    return KnowledgeArticle.objects.filter(site_id__in=api_site_ids(user=user, site_id=site_id))


def api_article(*, user: AbstractBaseUser, article_id: int) -> KnowledgeArticle:
    """One article of the agent's sites."""
    article = api_articles(user=user).filter(pk=article_id).first()
    if article is None:
        raise NotFound()
    return article
