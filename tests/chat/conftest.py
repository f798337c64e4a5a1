"""Fixtures for the in-process tests of the chat app."""

import asyncio

import pytest

from tests.conftest import make_site, make_visitor


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with no rate-limit counts and an empty cache."""
    from django.core.cache import cache

    from chat.security.ratelimit import rate_reset

    cache.clear()
    rate_reset()
    yield


@pytest.fixture(autouse=True)
async def _quiet_background_tasks():
    """Each test gets its own event loop: stop the reaper and embedded worker it started, empty the layer."""
    yield
    from channels.layers import channel_layers, get_channel_layer

    from chat.ai.openai_provider import close_shared_clients
    from chat.transports.background import stop_background_tasks

    await stop_background_tasks()
    # Consumers a test left running (a socket it never closed) end now, while the layer still works.
    leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers, timeout=5)
    # The provider's HTTP client belongs to this loop too: closed now, it cannot warn when the loop goes.
    await close_shared_clients()
    layer = get_channel_layer()
    await layer.flush()
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    # A fresh layer per test: its locks and queues belong to the test's own event loop.
    channel_layers.backends.clear()


@pytest.fixture
def bot_visitor(transactional_db):
    """A visitor of a bot site whose knowledge base is the demo shop's."""
    site = make_site("Bot shop", bot=True)
    from django.core.management import call_command

    call_command("seed_demo", "--open-all-hours", stdout=open("/dev/null", "w"))  # a knowledge base for the kb provider
    from chat.models import KnowledgeArticle, Site

    demo = Site.objects.get(key="demo-shop")
    for article in KnowledgeArticle.objects.filter(site=demo):
        KnowledgeArticle.objects.create(site=site, title=article.title, body=article.body, language=article.language)
    return make_visitor(site, name="Cleo")
