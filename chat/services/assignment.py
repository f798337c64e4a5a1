"""Who answers a queued conversation: round robin over online agents with room, and giving back on leaving."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from chat.models import AgentProfile, Conversation, Message, Site
from chat.realtime import effects
from chat.selectors.agents import agent_auto_site_ids
from chat.services import conversations
from chat.services.messages import conversation_lock

# One fill pass assigns at most this many conversations; the next trigger (a resolve, an agent
# coming online) continues, so a huge backlog never holds a request thread for long.
FILL_BATCH = 50


def _open_load():
    """Open conversations an agent answers right now, across all their sites."""
    return Count(
        "user__assigned_conversations",
        filter=Q(
            user__assigned_conversations__status=Conversation.Status.OPEN,
            user__assigned_conversations__owner=Conversation.Owner.AGENT,
        ),
        distinct=True,
    )


def _load_of(user_id: int) -> int:
    return Conversation.objects.filter(
        assignee_id=user_id, status=Conversation.Status.OPEN, owner=Conversation.Owner.AGENT
    ).count()


def assignment_candidates(*, site_id: int) -> list[AgentProfile]:
    """Agents of the site who are online (chosen status and an open dashboard) and under their limit, next first.

    Round robin: whoever was given a conversation longest ago (or never) comes first.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    present = AgentProfile.objects.filter(
        sites=site_id,
        status=AgentProfile.Status.ONLINE,
        user__is_active=True,
        user__agent_connections__last_seen__gte=cutoff,
    ).values("pk")
    profiles = (
        AgentProfile.objects.filter(pk__in=present, max_concurrent__gt=0)
        .select_related("user")
        .annotate(load=_open_load())
        .order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
    )
    return [profile for profile in profiles if profile.load < profile.max_concurrent]


def _claim_agent(site_id: int) -> AgentProfile | None:
    """The next agent with room, their profile row locked so two passes never overfill one agent."""
    for candidate in assignment_candidates(site_id=site_id):
        profile = AgentProfile.objects.select_for_update().select_related("user").get(pk=candidate.pk)
        if _load_of(profile.user_id) < profile.max_concurrent:
            return profile
    return None


def assignment_fill(*, site_id: int) -> list[int]:
    """Give the site's queued conversations, oldest first, to online agents with room (auto sites only)."""
    if not Site.objects.filter(pk=site_id, assignment=Site.Assignment.AUTO).exists():
        return []
    queued = list(
        Conversation.objects.filter(site_id=site_id, status=Conversation.Status.OPEN, owner=Conversation.Owner.QUEUE)
        .order_by(F("queued_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:FILL_BATCH]
    )
    assigned = []
    for conversation_id in queued:
        with transaction.atomic():
            conversation = conversation_lock(conversation_id)
            if conversation.status != Conversation.Status.OPEN or conversation.owner != Conversation.Owner.QUEUE:
                continue  # someone took it since we listed the queue
            profile = _claim_agent(site_id)
            if profile is None:
                break
            conversations.conversation_assign_locked(conversation=conversation, assignee=profile.user)
            profile.last_assigned_at = timezone.now()
            profile.save(update_fields=["last_assigned_at"])
        assigned.append(conversation_id)
    return assigned


def assignment_agent_available(*, user: AbstractBaseUser) -> None:
    """The agent came online or got room: after commit, offer them their sites' queues."""
    effects.fill(agent_auto_site_ids(user))


def unattended_conversations(*, user: AbstractBaseUser):
    """The agent's open conversations where the customer waits: no agent has answered since the customer spoke.

    That is, the last public message (system lines aside) is the customer's or the bot's, or there is none.
    Conversations where the agent had the last word stay theirs: nobody is waiting on them.
    """
    last_author = Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), internal=False)
        .exclude(author_kind=Message.AuthorKind.SYSTEM)
        .order_by("-seq")
        .values("author_kind")[:1]
    )
    return (
        Conversation.objects.filter(assignee=user, status=Conversation.Status.OPEN, owner=Conversation.Owner.AGENT)
        .annotate(last_author=last_author)
        .filter(Q(last_author__isnull=True) | ~Q(last_author=Message.AuthorKind.AGENT))
    )


def _waiting_since(conversation: Conversation):
    """When the customer started waiting: their first message after the last agent answer, else now."""
    last_answer = (
        Message.objects.filter(conversation=conversation, internal=False, author_kind=Message.AuthorKind.AGENT)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    first_unanswered = (
        Message.objects.filter(
            conversation=conversation, author_kind=Message.AuthorKind.CUSTOMER, seq__gt=last_answer or 0
        )
        .order_by("seq")
        .values_list("created_at", flat=True)
        .first()
    )
    return first_unanswered or timezone.now()


def assignment_release(*, user: AbstractBaseUser) -> list[int]:
    """The agent left (last dashboard closed): their unattended conversations go back to the queue."""
    released = []
    for conversation_id in unattended_conversations(user=user).values_list("pk", flat=True):
        with transaction.atomic():
            conversation = conversation_lock(conversation_id)
            if not (
                conversation.assignee_id == user.pk
                and conversation.status == Conversation.Status.OPEN
                and conversation.owner == Conversation.Owner.AGENT
            ):
                continue
            # Keep the customer's place in the queue: they have been waiting since they last wrote.
            conversations.conversation_assign_locked(
                conversation=conversation, assignee=None, queued_at=_waiting_since(conversation)
            )
        released.append(conversation_id)
    return released
