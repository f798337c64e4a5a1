"""Where database work runs: a few threads on PostgreSQL, the one database thread on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def _runner(function: Callable[..., T]):
    """PARLEY_DB_THREADS threads on PostgreSQL; SQLite has one writer, so there everything shares one thread."""
    global _executor
    if settings.PARLEY_DB_THREADS > 1 and connection.vendor == "postgresql":
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.PARLEY_DB_THREADS, thread_name_prefix="parley-db")
        return DatabaseSyncToAsync(function, thread_sensitive=False, executor=_executor)
    return database_sync_to_async(function)


async def run(function: Callable[..., T], /, *args, **kwargs) -> T:
    """Run database work off the event loop; a slow query holds up only its own thread."""
    return await _runner(function)(*args, **kwargs)
