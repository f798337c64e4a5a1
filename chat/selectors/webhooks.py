"""Which sites have webhook endpoints: remembered per process, so a message of a site without any costs no query."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from chat.models import WebhookEndpoint

# (site ids, monotonic time until which they hold), swapped whole so a reader never sees half of an update;
# a generation number, so a read that raced an endpoint's change is not kept.
_cache: tuple[frozenset[int], float] = (frozenset(), 0.0)
_generation = 0
_lock = threading.Lock()


def webhook_site_ids() -> frozenset[int]:
    """The sites with at least one active endpoint, as read at most PARLEY_WEBHOOK_SITES_CACHE_SECONDS ago."""
    global _cache
    sites, until = _cache
    now = time.monotonic()
    if now < until:
        return sites
    generation = _generation
    sites = frozenset(WebhookEndpoint.objects.filter(active=True).values_list("site_id", flat=True).distinct())
    with _lock:
        if generation == _generation:
            _cache = (sites, now + settings.PARLEY_WEBHOOK_SITES_CACHE_SECONDS)
    return sites


def site_has_webhooks(site_id: int) -> bool:
    """Whether events of this site may have somewhere to go."""
    return site_id in webhook_site_ids()


def webhook_sites_forget() -> None:
    """An endpoint changed: read the sites again on the next event."""
    global _cache, _generation
    with _lock:
        _generation += 1
        _cache = (frozenset(), 0.0)


def webhook_endpoints_for(*, site_id: int, event_type: str) -> list[WebhookEndpoint]:
    """The site's active endpoints that asked for this event type."""
    endpoints = WebhookEndpoint.objects.filter(site_id=site_id, active=True).order_by("pk")
    return [endpoint for endpoint in endpoints if event_type in (endpoint.events or [])]


def _endpoint_changed(**kwargs) -> None:
    # Again once committed: a read between the change and its commit would have cached the old state.
    webhook_sites_forget()
    transaction.on_commit(webhook_sites_forget)


post_save.connect(_endpoint_changed, sender=WebhookEndpoint, dispatch_uid="parley-webhook-sites-saved")
post_delete.connect(_endpoint_changed, sender=WebhookEndpoint, dispatch_uid="parley-webhook-sites-deleted")
