"""The desk's settings: an agent's own API tokens, made (the secret shown once) and revoked."""

from __future__ import annotations

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from chat.models import ApiToken
from chat.selectors.api import api_tokens_of
from chat.services.api_tokens import api_token_create, api_token_revoke
from chat.views.desk import agent_required


class ApiTokenForm(forms.Form):
    """A new token's name and scope."""

    name = forms.CharField(label=_("Name"), max_length=80, strip=True)
    scope = forms.ChoiceField(label=_("Access"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)


def _page(request, *, form: ApiTokenForm, created: tuple[ApiToken, str] | None = None, status: int = 200):
    context = {
        "active": "settings",
        "agent_name": request.user.first_name or request.user.get_username(),
        "form": form,
        "tokens": api_tokens_of(user=request.user),
        "created": created,
    }
    response = render(request, "desk/settings_api_tokens.html", context, status=status)
    if created is not None:
        response["Cache-Control"] = "no-store"  # the page holds a secret: no copy in any cache
    return response


@require_http_methods(["GET", "POST"])
@agent_required
def api_tokens(request):
    """GET /agent/settings/api-tokens: the agent's tokens; POST makes one and shows its secret, this once."""
    if request.method == "GET":
        return _page(request, form=ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    token, raw = api_token_create(user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"])
    return _page(request, form=ApiTokenForm(), created=(token, raw))


@require_POST
@agent_required
def api_token_revoke_view(request, token_id: int):
    """POST /agent/settings/api-tokens/<id>/revoke: the token stops working at once."""
    token = api_tokens_of(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404()
    api_token_revoke(token=token)
    return redirect("desk-settings-api-tokens")
