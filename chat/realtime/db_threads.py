"""Where database work runs: a few threads on PostgreSQL, the one database thread on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_local = threading.local()
# Bumped when a call finds its connection dead (the server restarted, or dropped us): the other
# threads' kept connections date from before and are replaced before their next call, so a
# client's retry after an outage does not meet one dead connection per thread in turn.
_generation = 0


def _fresh_connection(function: Callable[..., T]) -> Callable[..., T]:
    @wraps(function)
    def call(*args, **kwargs):
        global _generation
        if getattr(_local, "generation", 0) != _generation:
            connection.close()
            _local.generation = _generation
        try:
            return function(*args, **kwargs)
        except (OperationalError, InterfaceError):
            if not connection.in_atomic_block:
                _generation += 1
                _local.generation = _generation
                connection.close()
            raise

    return call


def _runner(function: Callable[..., T]):
    """PARLEY_DB_THREADS threads on PostgreSQL; SQLite has one writer, so there everything shares one thread."""
    global _executor
    if settings.PARLEY_DB_THREADS > 1 and connection.vendor == "postgresql":
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.PARLEY_DB_THREADS, thread_name_prefix="parley-db")
        return DatabaseSyncToAsync(_fresh_connection(function), thread_sensitive=False, executor=_executor)
    return database_sync_to_async(_fresh_connection(function))


async def run(function: Callable[..., T], /, *args, **kwargs) -> T:
    """Run database work off the event loop; a slow query holds up only its own thread."""
    return await _runner(function)(*args, **kwargs)
