"""The widget iframe (`/widget/<site_key>/`): the chat UI a site embeds through the loader."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from chat.models import DEFAULT_GREETING, Site
from chat.security.origins import normalize_origin, origin_allowed
from chat.views.widget_api import site_availability, site_public_config

LANGUAGES = ("en", "zh-hans")
# Only plain scheme://host[:port] values go into the CSP header: a stray ";" or space in an
# admin-entered origin must not be able to add a directive.
_HEADER_SAFE_ORIGIN = re.compile(r"^https?://[a-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9a-f:.]+\](:\d{1,5})?$")
PAGE_URL_MAX = 1000


def widget_language(site_language: str, accept_language: str) -> str:
    """The site's language when we ship it, else the browser's first choice: any zh is Simplified Chinese."""
    site = (site_language or "").strip().lower()
    if site.startswith(("zh", "en")):
        return "zh-hans" if site.startswith("zh") else "en"
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "zh-hans" if first.startswith("zh") else "en"


def frame_ancestors(site: Site) -> str:
    """The CSP `frame-ancestors` source list: the site's origins, then Parley itself."""
    origins = []
    for origin in site.allowed_origins or []:
        normalized = normalize_origin(origin) if isinstance(origin, str) else ""
        if _HEADER_SAFE_ORIGIN.match(normalized) and normalized not in origins:
            origins.append(normalized)
    return " ".join([*origins, "'self'"])


def content_security_policy(site: Site, request) -> str:
    """Who may frame the widget, and, as a second line of defence, what the widget itself may load."""
    socket = ("wss://" if request.is_secure() else "ws://") + request.get_host()
    return "; ".join(
        [
            f"frame-ancestors {frame_ancestors(site)}",
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {socket}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def embedding_origin(origin: str, host: str, site: Site) -> str:
    """The host page's origin as the loader reported it, if the site allows it; '' otherwise (no postMessage)."""
    if not origin or not origin_allowed(origin, host, site.allowed_origins):
        return ""
    return normalize_origin(origin)


def page_url(value: str) -> str:
    """The host page's URL when it is a plain http(s) URL the session API will accept, else ''."""
    if not value or len(value) > PAGE_URL_MAX:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return ""
    return value


@xframe_options_exempt  # framing is governed by CSP frame-ancestors, per site, instead of DENY
@require_GET
def widget_frame(request, site_key: str):
    """GET /widget/<site_key>/?origin=<host page origin>&page=<host page URL>: the chat UI."""
    site = get_object_or_404(Site, key=site_key)
    language = widget_language(site.language, request.headers.get("Accept-Language", ""))
    config = {
        **site_public_config(site),
        **site_availability(site),
        "language": language,
        "site_language": site.language,
        "parent_origin": embedding_origin(request.GET.get("origin", ""), request.get_host(), site),
        "page_url": page_url(request.GET.get("page", "")),
    }
    with translation.override(language):
        # The default greeting in the widget's language; a site's own is shown as written.
        if site.greeting == DEFAULT_GREETING:
            config["greeting"] = gettext("Hi! How can we help?")
        response = render(request, "widget/frame.html", {"site": site, "config": config, "language": language})
    response["Content-Security-Policy"] = content_security_policy(site, request)
    response["Cache-Control"] = "no-store"  # availability and the site's texts change
    response["Referrer-Policy"] = "no-referrer"
    return response
