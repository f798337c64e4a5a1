"""The pages behind the signed links in emails: confirm an address, unsubscribe, reopen a conversation.

Each link carries its own signed value (chat/tasks/links.py); a changed or expired one gets a
small page that says so (400), never a hint of whose it was.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from chat.models import Conversation, Site, Visitor
from chat.security import tokens
from chat.services import contacts, notifications
from chat.tasks import texts
from chat.tasks.links import AgentClaim, BadLink, confirm_read, open_read, unsubscribe_read

# Nothing on these pages but their own text and, on the reopen page, one inline script with this response's nonce.
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def _page(request, *, site: Site | None, title: str, body: str, status: int = 200, **extra):
    """A small page in the site's language (English without a site)."""
    language = texts.language_of(site.language if site else "")
    context = {
        "language": language,
        "site": site,
        "title": texts.text(language, title, **extra.pop("values", {})),
        "body": texts.text(language, body, **extra.pop("body_values", {})),
        **extra,
    }
    response = render(request, "email_links/page.html", context, status=status)
    return _private(response, PAGE_CSP)


def _private(response, policy: str):
    """The link's token is in the URL: never send it on as a Referer, never cache the page, never index it."""
    response["Content-Security-Policy"] = policy
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _invalid(request):
    return _page(request, site=None, title="page.invalid.title", body="page.invalid.body", status=400)


@require_GET
def email_confirm(request, token: str):
    """GET /email/confirm/<signed>/: confirm the address the link was sent to, if it is still the visitor's."""
    try:
        claim = confirm_read(token)
    except BadLink:
        return _invalid(request)
    visitor = contacts.visitor_email_confirm(claim=claim)
    if visitor is None:
        return _invalid(request)
    values = {"site": visitor.site.name, "email": visitor.email}
    return _page(
        request, site=visitor.site, title="page.confirmed.title", body="page.confirmed.body", body_values=values
    )


@csrf_exempt  # RFC 8058 one-click: mail providers POST without a cookie; the signed link is the protection
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request, token: str):
    """GET asks (link scanners only GET), POST unsubscribes: /email/unsubscribe/<signed>/, also the one-click POST."""
    try:
        claim = unsubscribe_read(token)
    except BadLink:
        return _invalid(request)
    if isinstance(claim, AgentClaim):
        if not get_user_model().objects.filter(pk=claim.user_id).exists():
            return _invalid(request)
        site, values, who = None, {}, "agent"
    else:
        visitor = Visitor.objects.select_related("site").filter(pk=claim.visitor_id).first()
        if visitor is None:
            return _invalid(request)
        site, values, who = visitor.site, {"site": visitor.site.name, "email": claim.email}, "body"
    if request.method == "POST":
        notifications.email_unsubscribe(claim=claim)
        return _page(
            request, site=site, title="page.unsubscribed.title", body=f"page.unsubscribed.{who}", body_values=values
        )
    return _page(
        request,
        site=site,
        title="page.unsubscribe.title",
        body=f"page.unsubscribe.{who}",
        body_values=values,
        button=texts.text(texts.language_of(site.language if site else ""), "page.unsubscribe.button"),
    )


@require_GET
def email_open(request, token: str):
    """GET /email/open/<signed>/: sign the visitor in again and open the conversation in the full-page widget.

    The widget keeps its token in this origin's localStorage (`parley:<site key>:token`,
    static/widget/session.js); this page stores a fresh one there and goes to /widget/<site key>/,
    which resumes the visitor and shows their conversation.
    """
    try:
        claim = open_read(token)
    except BadLink:
        return _invalid(request)
    visitor = (
        Visitor.objects.select_related("site")
        .filter(pk=claim.visitor_id, token_version=claim.version)  # a reset (Parley.reset()) ends the link too
        .first()
    )
    if visitor is None or not Conversation.objects.filter(pk=claim.conversation_id, visitor=visitor).exists():
        return _invalid(request)
    site = visitor.site
    if visitor.verified:
        # A signed-in customer's history opens only with the site's identity hash: send them to the site.
        return _page(
            request, site=site, title="page.open.title", body="page.open.verified", body_values={"site": site.name}
        )
    language = texts.language_of(site.language)
    widget_url = reverse("widget-frame", args=[site.key])
    nonce = secrets.token_urlsafe(16)
    data = {
        "site_key": site.key,
        "visitor": str(visitor.pk),
        "token": tokens.visitor_token_issue(visitor_id=visitor.pk, site_id=site.pk, version=visitor.token_version),
        "widget_url": widget_url,
    }
    response = render(
        request,
        "email_links/open.html",
        {
            "language": language,
            "site": site,
            "data": data,
            "nonce": nonce,
            "widget_url": widget_url,
            "title": texts.text(language, "page.open.title"),
            "body": texts.text(language, "page.open.body"),
            "link": texts.text(language, "page.open.link"),
        },
    )
    return _private(response, f"{PAGE_CSP}; script-src 'nonce-{nonce}'")
