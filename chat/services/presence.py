"""Agent presence, derived from open dashboard sockets in the database so every process agrees.

Presence drives assignment: an agent who becomes online is offered the queue, and one who goes
offline (their last dashboard closed) gives their unattended conversations back to it.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from chat.models import AgentConnection, AgentProfile, Conversation
from chat.protocol import events
from chat.realtime import effects, groups
from chat.selectors.agents import agent_site_ids
from chat.services import assignment

OFFLINE = "offline"
OFFLINE_MEMORY = 24 * 60 * 60  # seconds the cache remembers when an agent went offline


def _offline_key(user_id: int) -> str:
    return f"parley:offline-since:{user_id}"


def _fresh_connections(user_id: int):
    """Sockets of this agent that pinged recently; rows of a killed process age out."""
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    return AgentConnection.objects.filter(user_id=user_id, last_seen__gte=cutoff)


def presence_of(user: AbstractBaseUser) -> str:
    """online or away as the agent chose while any dashboard is open, else offline."""
    if not _fresh_connections(user.pk).exists():
        return OFFLINE
    profile = AgentProfile.objects.filter(user=user).first()
    return profile.status if profile else AgentProfile.Status.ONLINE


def _announce(user: AbstractBaseUser, status: str) -> None:
    """Tell every site the agent serves about the new presence."""
    name = user.first_name or user.get_username()
    event = events.presence(agent_id=user.pk, name=name, status=status)
    effects.deliver(("presence", user.pk), [(groups.site_group(site_id), event) for site_id in agent_site_ids(user)])


def _changed(user: AbstractBaseUser, before: str, after: str) -> None:
    """Announce a new presence and let assignment react to it."""
    if after == before:
        return
    _announce(user, after)
    if after == AgentProfile.Status.ONLINE:
        assignment.assignment_agent_available(user=user)
    elif after == OFFLINE:
        cache.set(_offline_key(user.pk), time.time(), OFFLINE_MEMORY)
        if settings.PARLEY_RELEASE_GRACE <= 0:
            assignment.assignment_release(user=user)
        # else presence_sweep releases them once the grace has passed: a reload is not leaving.


def presence_connect(*, user: AbstractBaseUser, channel_name: str) -> str:
    """Register a dashboard socket; announce when this makes the agent present."""
    with transaction.atomic():
        before = presence_of(user)
        AgentConnection.objects.update_or_create(channel_name=channel_name, defaults={"user": user})
        after = presence_of(user)
        _changed(user, before, after)
    return after


def presence_touch(*, channel_name: str) -> None:
    """A socket is still alive (its ping)."""
    AgentConnection.objects.filter(channel_name=channel_name).update(last_seen=timezone.now())


def presence_disconnect(*, user: AbstractBaseUser, channel_name: str) -> str:
    """Forget a socket; the agent goes offline only when no other tab or process holds one."""
    with transaction.atomic():
        before = presence_of(user)
        AgentConnection.objects.filter(channel_name=channel_name).delete()
        after = presence_of(user)
        _changed(user, before, after)
    return after


def presence_set(*, user: AbstractBaseUser, status: str) -> str:
    """The agent chose online or away."""
    with transaction.atomic():
        before = presence_of(user)
        AgentProfile.objects.update_or_create(user=user, defaults={"status": status})
        after = presence_of(user)
        _changed(user, before, after)
    return after


def presence_gone_agents() -> list[int]:
    """Agents with open conversations who have been offline for longer than PARLEY_RELEASE_GRACE.

    One query and one cache read however many agents hold conversations: the reaper asks every few seconds.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    connections = AgentConnection.objects.filter(user=OuterRef("pk"))
    offline = (
        get_user_model()
        .objects.filter(Exists(Conversation.objects.filter(assignee=OuterRef("pk"), status=Conversation.Status.OPEN)))
        .filter(~Exists(connections.filter(last_seen__gte=cutoff)))  # no fresh socket: what presence_of calls offline
        .annotate(last_seen=Subquery(connections.order_by("-last_seen").values("last_seen")[:1]))
        .order_by("pk")
        .values_list("pk", "last_seen")
    )
    rows = list(offline)
    if not rows:
        return []
    # When each went offline: a clean close is remembered; a killed process's rows age out one TTL after their ping.
    remembered = cache.get_many([_offline_key(user_id) for user_id, _ in rows])
    now = time.time()
    gone = []
    for user_id, last_seen in rows:
        since = remembered.get(_offline_key(user_id))
        if since is None and last_seen is not None:
            since = last_seen.timestamp() + settings.PARLEY_PRESENCE_TTL
        if since is None or now - since >= settings.PARLEY_RELEASE_GRACE:
            gone.append(user_id)
    return gone


def presence_release_gone(*, user_id: int) -> int:
    """Return a gone agent's unattended conversations to the queue (if still gone); how many."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or presence_of(user) != OFFLINE:
        return 0
    released = len(assignment.assignment_release(user=user))
    AgentConnection.objects.filter(user=user).delete()  # rows of a killed process: counted, now done
    return released


def presence_sweep() -> int:
    """Return to the queue the unattended conversations of agents offline for longer than PARLEY_RELEASE_GRACE."""
    return sum(presence_release_gone(user_id=user_id) for user_id in presence_gone_agents())
