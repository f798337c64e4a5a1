"""The widget's HTTP API: starting a visitor session, and whether anyone is there to answer."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chat.business_hours import site_is_open
from chat.models import Site
from chat.protocol import events
from chat.security.origins import origin_allowed
from chat.security.ratelimit import Limit, rate_hit_sync, request_client_ip, too_many_requests
from chat.selectors.agents import presence_list
from chat.services.visitors import IdentityRejected, visitor_session_start
from chat.views.http import BadRequest, error_response, json_body, text_field


def site_public_config(site: Site) -> dict:
    """What the widget may know about its site (never the identity secret)."""
    return {
        "key": site.key,
        "name": site.name,
        "greeting": site.greeting,
        "away_message": site.away_message,
        "language": site.language,
        "bot_enabled": site.bot_enabled,
        "ask_contact": site.ask_contact,
    }


def site_availability(site: Site) -> dict:
    """Whether the site is within business hours and whether any of its agents is online, for the header."""
    agents_online = any(entry["status"] == "online" for entry in presence_list([site.pk]))
    return {"open": site_is_open(site), "agents_online": agents_online}


@require_GET
def site_status(request, site_key: str):
    """GET /api/widget/<site_key>/status: open or away, and whether a human is around (public, no token)."""
    site = Site.objects.filter(key=site_key).first()
    if site is None:
        return error_response("not_found", "No such site.", 404)
    response = JsonResponse(site_availability(site))
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # no cookie is involved: the Origin check and the signed token are the protection
@require_POST
def session_start(request, site_key: str):
    """POST /api/widget/<site_key>/session: create or resume a visitor and return its token.

    Counted per client address before anything is read, then per site: minting visitors is how a
    client would otherwise get a fresh budget for everything a visitor is limited in.
    """
    ip = request_client_ip(request)
    refusal = rate_hit_sync([Limit.of("session_ip", f"ip:{ip}", settings.PARLEY_SESSION_IP_RATE)])
    if refusal is not None:
        return too_many_requests("Too many sessions from this address; wait a moment.", refusal.retry_seconds)
    site = Site.objects.filter(key=site_key).first()
    if site is None:
        return error_response("not_found", "No such site.", 404)
    if not origin_allowed(request.headers.get("Origin", ""), request.get_host(), site.allowed_origins):
        return error_response("origin_not_allowed", "This origin may not use the widget of this site.", 403)
    refusal = rate_hit_sync([Limit.of("session_site", f"site:{site.pk}", settings.PARLEY_SESSION_SITE_RATE)])
    if refusal is not None:
        return too_many_requests("Too many sessions for this site; wait a moment.", refusal.retry_seconds)
    try:
        data = json_body(request)
        fields = {
            "token": text_field(data, "token", max_length=500),
            "user_id": text_field(data, "user_id", max_length=255),
            "user_hash": text_field(data, "user_hash", max_length=128),
            "name": text_field(data, "name", max_length=120),
            "email": text_field(data, "email", max_length=254),
            "page_url": text_field(data, "page_url", max_length=1000),
        }
        _check_formats(fields)
        session = visitor_session_start(site=site, user_agent=request.headers.get("User-Agent", ""), **fields)
    except BadRequest as exc:
        return error_response(exc.code, exc.detail, exc.status)
    except IdentityRejected:
        return error_response("identity_rejected", "user_hash does not match user_id.", 403)
    return JsonResponse(
        {
            "visitor_token": session.token,
            "visitor": events.visitor_payload(session.visitor),
            "site": site_public_config(site),
            "availability": site_availability(site),
        }
    )


def _check_formats(fields: dict) -> None:
    """Email and page URL must be what they claim; both are shown to agents."""
    try:
        if fields["email"]:
            EmailValidator()(fields["email"])
        if fields["page_url"]:
            URLValidator(schemes=["http", "https"])(fields["page_url"])
    except ValidationError:
        raise BadRequest("bad_request", "`email` or `page_url` is not valid.") from None
