"""A fixed-window rate limiter in Django's cache, so every process counts against the same budget."""

import time

from django.core.cache import cache


def rate_allow(*, key: str, limit: int, window: int) -> bool:
    """Count one hit for `key`; False once `limit` hits fall in the current `window` seconds."""
    bucket = f"parley:rl:{key}:{int(time.time() // window)}"
    # add() is atomic: only the first hit of a window creates the counter.
    if cache.add(bucket, 1, timeout=window + 1):
        return True
    try:
        return cache.incr(bucket) <= limit
    except ValueError:  # expired between add and incr: this hit opens a new window
        cache.add(bucket, 1, timeout=window + 1)
        return True
