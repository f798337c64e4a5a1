"""Fixed-window rate limits, counted on the event loop: in Redis when every process must share the budget.

Counting never takes a trip to the database thread, where it would queue behind every
other socket's writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from django.conf import settings

logger = logging.getLogger(__name__)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = weakref.WeakKeyDictionary()
# Without Redis there is one process: its own counters are the whole truth.
_local_counts: dict[str, tuple[int, float]] = {}


def _redis():
    """This event loop's Redis client (a client belongs to the loop that made it)."""
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
    return client


def _count_locally(bucket: str, window: int) -> int:
    now = time.monotonic()
    if len(_local_counts) > 10_000:  # drop finished windows now and then, not on every hit
        for key in [k for k, (_, expires) in _local_counts.items() if expires < now]:
            del _local_counts[key]
    count, expires = _local_counts.get(bucket, (0, now + window + 1))
    _local_counts[bucket] = (count + 1, expires)
    return count + 1


def rate_reset() -> None:
    """Forget this process's own counts (a test starting afresh); Redis counts expire with their window."""
    _local_counts.clear()


async def rate_allow(*, key: str, limit: int, window: int) -> bool:
    """Count one hit for `key`; False once `limit` hits fall in the current `window` seconds."""
    bucket = f"{settings.REDIS_PREFIX}:rl:{key}:{int(time.time() // window)}"
    if not settings.REDIS_URL:
        return _count_locally(bucket, window) <= limit
    try:
        async with _redis().pipeline(transaction=False) as pipe:
            pipe.incr(bucket)
            pipe.expire(bucket, window + 1, nx=True)
            count, _ = await pipe.execute()
    except Exception:
        # Redis is the channel layer too: while it is down nothing is delivered anyway. Let the
        # message be stored rather than refuse every customer.
        logger.warning("rate limit check failed; allowing", exc_info=True)
        return True
    return count <= limit
