"""Ending a widget's visitor session: `Parley.reset()` on the host page, when its user logs out."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat.models import Site
from chat.security import tokens
from chat.security.origins import origin_allowed
from chat.selectors.access import visitor_from_claim
from chat.services.visitors import visitor_tokens_revoke
from chat.views.http import error_response


@csrf_exempt  # no cookie is involved: the Origin check and the signed token are the protection
@require_POST
def session_revoke(request, site_key: str):
    """POST /api/widget/<site_key>/session/revoke (Bearer token): revoke every token of its visitor, everywhere."""
    site = Site.objects.filter(key=site_key).first()
    if site is None:
        return error_response("not_found", "No such site.", 404)
    if not origin_allowed(request.headers.get("Origin", ""), request.get_host(), site.allowed_origins):
        return error_response("origin_not_allowed", "This origin may not use the widget of this site.", 403)
    header = request.headers.get("Authorization", "")
    try:
        claim = tokens.visitor_token_read(header[7:].strip() if header.startswith("Bearer ") else None)
    except tokens.BadToken:
        claim = None
    visitor = visitor_from_claim(claim=claim) if claim is not None and claim.site_id == site.pk else None
    # Already revoked reads as any other dead token: there is nothing left for it to end.
    if visitor is None or not visitor_tokens_revoke(visitor=visitor):
        return error_response("unauthorized", "A valid visitor token is required.", 401)
    return JsonResponse({"revoked": True})
