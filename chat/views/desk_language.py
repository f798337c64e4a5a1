"""The language of the desk, its reports and the sign-in page: the agent's choice, else the browser's."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from chat.services.agent_profiles import agent_language_set
from chat.views.desk import agent_required

# Only these pages follow the agent and the browser; the widget, the help center and the e-mails pick their
# language from the site and the customer, and the admin stays in LANGUAGE_CODE.
DESK_LANGUAGE_PREFIXES = ("/agent/", "/accounts/")
# The desk's JSON reads answer with data, not words: they skip the profile read that would cost each of them a query.
DESK_DATA_PREFIX = "/agent/api/"


def _speaks(request: HttpRequest) -> bool:
    path = request.path_info
    return path.startswith(DESK_LANGUAGE_PREFIXES) and not path.startswith(DESK_DATA_PREFIX)


def desk_language(request: HttpRequest) -> str:
    """The signed-in agent's profile language when set, else the best match for Accept-Language."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # A user without a profile raises RelatedObjectDoesNotExist, an AttributeError: getattr's default.
        profile = getattr(user, "agent_profile", None)
        if profile is not None and profile.language:
            return profile.language
    return translation.get_language_from_request(request)


def _answered_in(response: HttpResponse, language: str) -> HttpResponse:
    # The same URL answers in another language for another browser: caches must key on the header.
    patch_vary_headers(response, ("Accept-Language",))
    response.headers.setdefault("Content-Language", language)
    return response


class DeskLanguageMiddleware:
    """Activates desk_language() for the desk's and the sign-in page's requests; others pass untouched."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        """Called with each request, sync or async as the stack below is."""
        if self.is_async:
            return self.__acall__(request)
        if not _speaks(request):
            return self.get_response(request)
        language = desk_language(request)
        with translation.override(language):
            response = self.get_response(request)
        return _answered_in(response, language)

    async def __acall__(self, request):
        """The async path: the profile is read off the event loop."""
        if not _speaks(request):
            return await self.get_response(request)
        language = await sync_to_async(desk_language)(request)
        with translation.override(language):
            response = await self.get_response(request)
        return _answered_in(response, language)


@require_POST
@agent_required
def language_choose(request):
    """POST /agent/language (language=en|zh-hans|"", next=): saves the agent's desk language, then goes back."""
    try:
        agent_language_set(user=request.user, language=request.POST.get("language", ""))
    except ValueError:
        return HttpResponseBadRequest("Unknown language.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("desk")
    return redirect(back)
