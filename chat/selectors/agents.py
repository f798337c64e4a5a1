"""Reads about agents: who is one, which sites they serve, their presence, whether a person can answer now."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from chat.business_hours import site_is_open
from chat.models import AgentConnection, AgentProfile, Site
from chat.protocol import events


def is_agent(user: AbstractBaseUser) -> bool:
    """Staff, or a user with an agent profile, may use the dashboard."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or AgentProfile.objects.filter(user=user).exists()


def agent_site_ids(user: AbstractBaseUser) -> list[int]:
    """The sites an agent serves; staff serve every site."""
    if user.is_staff:
        return list(Site.objects.order_by("pk").values_list("pk", flat=True))
    return list(Site.objects.filter(agents__user=user).order_by("pk").values_list("pk", flat=True))


def agent_auto_site_ids(user: AbstractBaseUser) -> list[int]:
    """Auto-assigning sites the agent serves (staff without a profile are supervisors, never auto-assigned)."""
    return list(Site.objects.filter(agents__user=user, assignment=Site.Assignment.AUTO).values_list("pk", flat=True))


def site_agents(site_id: int):
    """Users who serve a site: its agents and staff."""
    return (
        get_user_model().objects.filter(Q(is_staff=True) | Q(agent_profile__sites=site_id), is_active=True).distinct()
    )


def presence_list(site_ids: list[int]) -> list[dict]:
    """The effective presence of every agent who serves any of these sites."""
    users = list(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(agent_profile__sites__in=site_ids), is_active=True)
        .distinct()
        .select_related("agent_profile")
        .order_by("pk")
    )
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    present = set(
        AgentConnection.objects.filter(user__in=users, last_seen__gte=cutoff).values_list("user_id", flat=True)
    )
    result = []
    for user in users:
        profile = getattr(user, "agent_profile", None)
        status = (profile.status if profile else AgentProfile.Status.ONLINE) if user.pk in present else "offline"
        result.append(events.presence(agent_id=user.pk, name=user.first_name or user.get_username(), status=status))
    return result


def site_team_available(site: Site) -> bool:
    """Whether a person could answer now: within business hours and an agent of the site online (one query)."""
    if not site_is_open(site):
        return False
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    serving = Q(user__is_staff=True) | Q(user__agent_profile__sites=site)
    online = ~Q(user__agent_profile__status=AgentProfile.Status.AWAY)
    return AgentConnection.objects.filter(serving, online, user__is_active=True, last_seen__gte=cutoff).exists()
