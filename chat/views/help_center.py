"""The public help center (`/help/<site_key>/`): a site's published articles, the pages the bot's answers cite."""

from __future__ import annotations

import secrets

from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from chat.models import KnowledgeArticle, Site
from chat.views.widget_frame import widget_language

LANGUAGES = ("en", "zh-hans")


def shipped_language(code: str) -> str:
    """The language we ship that `code` names ("zh", "zh-Hans" -> "zh-hans"), or "" for any other."""
    code = (code or "").strip().lower()
    if code.startswith("zh"):
        return "zh-hans"
    return "en" if code.startswith("en") else ""


def help_language(*, requested: str, article_language: str, site_language: str, accept_language: str) -> str:
    """`?lang=` when it names a language we ship, else the article's own, else the site's or the browser's."""
    return (
        shipped_language(requested)
        or shipped_language(article_language)
        or widget_language(site_language, accept_language)
    )


def content_security_policy(nonce: str) -> str:
    """Nothing runs and nothing loads but the page's own stylesheet: article text is admin-entered."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _render(request, template: str, *, site: Site, language: str, context: dict):
    # A link keeps the language only when the reader chose it; otherwise each page picks its own.
    chosen = shipped_language(request.GET.get("lang", ""))
    nonce = secrets.token_urlsafe(16)
    with translation.override(language):
        response = render(
            request,
            template,
            {
                **context,
                "site": site,
                "LANGUAGE_CODE": language,
                "lang_query": f"?lang={chosen}" if chosen else "",
                "languages": [("en", "English"), ("zh-hans", "简体中文")],
                "csp_nonce": nonce,
            },
        )
    response["Content-Language"] = language
    response["Content-Security-Policy"] = content_security_policy(nonce)
    patch_vary_headers(response, ["Accept-Language"])
    return response


@require_GET
def help_index(request, site_key: str):
    """GET /help/<site_key>/: the site's published articles, those in the page's language first."""
    site = get_object_or_404(Site, key=site_key)
    language = help_language(
        requested=request.GET.get("lang", ""),
        article_language="",
        site_language=site.language,
        accept_language=request.headers.get("Accept-Language", ""),
    )
    articles = list(KnowledgeArticle.objects.filter(site=site, published=True).order_by("title"))
    primary = [article for article in articles if shipped_language(article.language) == language]
    others = [article for article in articles if shipped_language(article.language) != language]
    return _render(
        request, "help/index.html", site=site, language=language, context={"primary": primary, "others": others}
    )


@require_GET
def help_article(request, site_key: str, article_id: int):
    """GET /help/<site_key>/<article_id>/: one published article; any other (unpublished, another site's) is a 404."""
    site = get_object_or_404(Site, key=site_key)
    article = get_object_or_404(KnowledgeArticle, pk=article_id, site=site, published=True)
    language = help_language(
        requested=request.GET.get("lang", ""),
        article_language=article.language,
        site_language=site.language,
        accept_language=request.headers.get("Accept-Language", ""),
    )
    return _render(request, "help/article.html", site=site, language=language, context={"article": article})
