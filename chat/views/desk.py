"""The agent desk pages: who may open them, and the desk itself."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chat.selectors import agents
from chat.selectors import desk as desk_selectors


def agent_required(view):
    """Signed-in agents only: anonymous users go to the sign-in page, other users get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not agents.is_agent(request.user):
            raise PermissionDenied("The desk is for agents.")
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@agent_required
def desk(request):
    """GET /agent/: the three-pane desk; everything live comes over /ws/agent/ and /agent/api/."""
    user = request.user
    boot = {
        "agent": {"id": user.pk, "name": user.first_name or user.get_username(), "staff": user.is_staff},
        "sites": desk_selectors.desk_sites(user=user),
        "socket": "/ws/agent/",
        "api": "/agent/api/",
    }
    return render(request, "desk/desk.html", {"boot": boot, "agent_name": boot["agent"]["name"], "active": "desk"})
