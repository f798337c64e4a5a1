"""The knowledge base's version per site: bumped on every change, so each process's bot index knows when to rebuild."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, QuerySet
from django.db.models.signals import post_delete, post_save, pre_save

from chat.models import KnowledgeArticle, Site


def knowledge_changed(site_ids: Iterable[int]) -> None:
    """The articles of these sites changed: their indexes are stale everywhere."""
    site_ids = sorted({site_id for site_id in site_ids if site_id is not None})
    if site_ids:
        Site.objects.filter(pk__in=site_ids).update(kb_version=F("kb_version") + 1)


def knowledge_update(articles: QuerySet, **fields) -> int:
    """`articles.update(**fields)` that also marks their sites' indexes stale (a bulk update sends no signal)."""
    site_ids = set(articles.values_list("site_id", flat=True))
    count = articles.update(**fields)
    knowledge_changed(site_ids)
    return count


def _remember_site(sender, instance: KnowledgeArticle, **kwargs) -> None:
    # An article moved to another site leaves the old site's index stale too.
    instance._previous_site_id = (
        KnowledgeArticle.objects.filter(pk=instance.pk).values_list("site_id", flat=True).first()
        if instance.pk
        else None
    )


def _saved(sender, instance: KnowledgeArticle, **kwargs) -> None:
    knowledge_changed([instance.site_id, getattr(instance, "_previous_site_id", None)])


def _deleted(sender, instance: KnowledgeArticle, **kwargs) -> None:
    knowledge_changed([instance.site_id])


def connect_signals() -> None:
    """Keep the versions current on every save and delete of an article."""
    pre_save.connect(_remember_site, sender=KnowledgeArticle, dispatch_uid="parley-kb-pre-save")
    post_save.connect(_saved, sender=KnowledgeArticle, dispatch_uid="parley-kb-saved")
    post_delete.connect(_deleted, sender=KnowledgeArticle, dispatch_uid="parley-kb-deleted")
