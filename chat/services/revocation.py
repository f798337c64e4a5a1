"""Access that ends, ends at once: open sockets are told when their user's or visitor's rights change.

A desk socket re-reads its access on every ping anyway; these signals make it re-read at once
when an agent logs out, is deactivated or deleted, loses the staff flag, their profile, or a
site. The message goes to a channel-layer group of the user's own, after the change commits.
Bulk `QuerySet.update()`s send no signal: for those the next ping is the bound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from chat.models import AgentProfile
from chat.realtime.broadcast import group_send_safely

# The layer message a desk socket takes in `agent_access` (chat/transports/agent.py).
AGENT_ACCESS_MESSAGE = "agent.access"
# The layer message that tells a visitor's sockets their tokens were revoked (`visitor_revoked` handlers).
VISITOR_REVOKED_MESSAGE = "visitor.revoked"


def agent_group(user_id: int) -> str:
    """Every desk socket of one user: told to check its access again. Carries no data, only that nudge."""
    return f"agent.{int(user_id)}"


def session_fingerprint(session_key: str) -> str:
    """A session key as it travels on the layer: the key itself logs a browser in, its digest does not."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def signal_after_commit(group: str, message: dict) -> None:
    """Send a control message to a group once the current transaction commits (at once outside one; never on rollback)."""
    transaction.on_commit(lambda: async_to_sync(group_send_safely)(group, message))


def desk_access_changed(*, user_ids: Iterable[int], ended_session: str | None = None) -> None:
    """These users' desk sockets re-check their access after commit; `ended_session` (a key) was just logged out."""
    message = {"type": AGENT_ACCESS_MESSAGE}
    if ended_session:
        message["ended_session"] = session_fingerprint(ended_session)
    for user_id in sorted({user_id for user_id in user_ids if user_id is not None}):
        signal_after_commit(agent_group(user_id), message)


# --- the signals ------------------------------------------------------------------------------


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        session = getattr(request, "session", None)
        desk_access_changed(user_ids=[user.pk], ended_session=getattr(session, "session_key", None))


def _user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # Deactivation, the staff flag, a new password (which ends its sessions): any save but a login's.
    if not created and set(update_fields or ()) != {"last_login"}:
        desk_access_changed(user_ids=[instance.pk])


def _user_deleted(sender, instance, **kwargs) -> None:
    desk_access_changed(user_ids=[instance.pk])


def _profile_deleted(sender, instance: AgentProfile, **kwargs) -> None:
    desk_access_changed(user_ids=[instance.user_id])


def _sites_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """AgentProfile.sites changed, from the profile's side or from a site's (`site.agents`)."""
    if not reverse:  # instance is an AgentProfile
        if action in ("post_add", "post_remove", "post_clear"):
            desk_access_changed(user_ids=[instance.user_id])
        return
    # instance is a Site, pk_set holds AgentProfile pks; a clear names nobody, so remember who was there.
    if action == "pre_clear":
        instance._parley_cleared_agents = list(
            AgentProfile.objects.filter(sites=instance).values_list("user_id", flat=True)
        )
    elif action == "post_clear":
        desk_access_changed(user_ids=instance.__dict__.pop("_parley_cleared_agents", []))
    elif action in ("post_add", "post_remove") and pk_set:
        desk_access_changed(user_ids=AgentProfile.objects.filter(pk__in=pk_set).values_list("user_id", flat=True))


def connect_signals() -> None:
    """Tell desk sockets at once when their user's access may have changed."""
    user_model = get_user_model()
    user_logged_out.connect(_logged_out, dispatch_uid="parley-access-logged-out")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="parley-access-user-saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="parley-access-user-deleted")
    post_delete.connect(_profile_deleted, sender=AgentProfile, dispatch_uid="parley-access-profile-deleted")
    m2m_changed.connect(_sites_changed, sender=AgentProfile.sites.through, dispatch_uid="parley-access-sites")
