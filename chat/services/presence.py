"""Agent presence, derived from open dashboard sockets in the database so every process agrees.

Presence drives assignment: an agent who becomes online is offered the queue, and one who goes
offline (their last dashboard closed) gives their unattended conversations back to it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chat import broadcast, events, groups
from chat.models import AgentConnection, AgentProfile
from chat.selectors import agent_site_ids
from chat.services import assignment

OFFLINE = "offline"


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
    broadcast.publish([(groups.site_group(site_id), event) for site_id in agent_site_ids(user)])


def _changed(user: AbstractBaseUser, before: str, after: str) -> None:
    """Announce a new presence and let assignment react to it."""
    if after == before:
        return
    _announce(user, after)
    if after == AgentProfile.Status.ONLINE:
        assignment.assignment_agent_available(user=user)
    elif after == OFFLINE:
        assignment.assignment_release(user=user)


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
