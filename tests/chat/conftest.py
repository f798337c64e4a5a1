"""Fixtures for the in-process tests of the chat app."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
async def _quiet_background_tasks():
    """Each test gets its own event loop: stop the reaper and embedded worker it started, empty the layer."""
    yield
    from channels.layers import get_channel_layer

    from chat.ai.embedded import stop_background_tasks

    await stop_background_tasks()
    await get_channel_layer().flush()
