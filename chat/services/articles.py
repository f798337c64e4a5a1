"""Knowledge-base articles written through the API; the bot's index follows (chat.services.knowledge's signals)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from chat.models import KnowledgeArticle, Site
from chat.services.errors import ConversationError

ARTICLE_FIELDS = ("title", "body", "language", "published")


def _saved(article: KnowledgeArticle) -> KnowledgeArticle:
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError:
        raise ConversationError("duplicate_title", "The site has an article with this title already.") from None
    return article


def article_create(*, site: Site, title: str, body: str, language: str = "en", published: bool = True):
    """Add an article to the site's knowledge base."""
    return _saved(KnowledgeArticle(site=site, title=title, body=body, language=language, published=published))


def article_update(*, article: KnowledgeArticle, **fields) -> KnowledgeArticle:
    """Change an article's title, body, language or published flag."""
    unknown = set(fields) - set(ARTICLE_FIELDS)
    if unknown:
        raise ValueError(f"Articles have no field {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(article, name, value)
    return _saved(article)


def article_delete(*, article: KnowledgeArticle) -> None:
    """Remove an article from the knowledge base."""
    article.delete()
