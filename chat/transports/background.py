"""Running the AI-reply consumer and the reply reaper inside a Daphne process."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Callable

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import BaseCache
from django.core.cache import cache as default_cache

from chat.realtime import effects
from chat.realtime.groups import REPLY_CHANNEL
from chat.realtime.lifecycle import install_daphne_sigterm
from chat.services.presence import presence_gone_agents, presence_release_gone
from chat.services.replies import reply_reap_expired
from chat.transports.ai_worker import announce_alive_forever, worker_name
from chat.transports.task_runner import embedded_task_runners

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0

# One set of background tasks per event loop (tests run many loops; Daphne runs one).
_started: dict[asyncio.AbstractEventLoop, list[asyncio.Task]] = {}


class CacheLease:
    """Leadership held as one key of Django's cache: taken with `add`, renewed by its holder, lapsing if it dies.

    Every process sharing the cache (Redis in production, locmem within one process) makes its own
    lease for the same key; at most one holds it at a time, and once the holder stops renewing,
    another can take it within one TTL.
    """

    def __init__(self, key: str, *, ttl: int, holder: str | None = None, cache: BaseCache | None = None):
        if not isinstance(ttl, int) or ttl < 1:
            # Redis keeps whole-second expiries (Django rounds down), and a timeout of 0 stores nothing.
            raise ValueError(f"a cache lease needs a TTL of whole seconds, at least 1 (got {ttl!r})")
        self.key = key
        self.ttl = ttl
        self.holder = holder or worker_name()
        self.cache = cache if cache is not None else default_cache
        # Monotonic time until which the key is surely ours: we set it before asking the cache.
        self.valid_until = 0.0

    def _surely_ours(self) -> bool:
        # A quarter of the TTL to spare covers the round trip that renews or releases it.
        return time.monotonic() < self.valid_until - self.ttl / 4

    def hold(self) -> bool:
        """Take the lease if it is free, renew it if we hold it; whether we hold it now (blocking: cache trips)."""
        asked_at = time.monotonic()
        if self._surely_ours():
            # Still ours by our own clock, so it cannot have lapsed to another; compare all the same,
            # since a cache that lost its keys (a Redis restart) may have given it away meanwhile.
            held = self.cache.get(self.key) == self.holder and self.cache.touch(self.key, self.ttl)
        else:
            # Free, or we let it lapse (a pass overran): only `add` may take it, so two never both succeed.
            held = self.cache.add(self.key, self.holder, self.ttl)
        self.valid_until = asked_at + self.ttl if held else 0.0
        return held

    def release(self) -> None:
        """Give the lease up (a clean stop), so another process need not wait for it to lapse. Blocking."""
        if self._surely_ours() and self.cache.get(self.key) == self.holder:
            self.cache.delete(self.key)
        self.valid_until = 0.0


def reaper_lease_ttl(interval: float) -> int:
    """A little longer than the reaper's interval, in whole seconds: the holder renews it every pass.

    At least a second over the interval, so a busy event loop or a slow cache trip at short
    intervals does not let it lapse between the holder's renewals.
    """
    return math.ceil(interval + max(interval / 2, 1.0))


def reaper_lease() -> CacheLease:
    """This process's candidacy for running the reaper, one lease per deployment (the prefix of its Redis keys)."""
    return CacheLease(f"{settings.REDIS_PREFIX}:reaper-leader", ttl=reaper_lease_ttl(settings.PARLEY_REAPER_INTERVAL))


async def _lead(lease: CacheLease) -> bool:
    """Take or renew the lease; without a cache to ask, lead anyway."""
    try:
        return await asyncio.to_thread(lease.hold)
    except Exception:
        # With the cache (Redis) down no process can be elected, so each runs the pass: that costs only
        # duplicate work (every step rechecks its rows under a lock), where skipping passes would break
        # the protocol's promise that a reply whose worker died ends within 30 s.
        logger.warning("reaper lease unavailable; running the pass without it", exc_info=True)
        return True


async def reap_once(*, budget: float) -> None:
    """End replies whose worker died, release absent agents' conversations; start no new trip after `budget` s."""
    deadline = time.monotonic() + budget
    try:
        reaped = await effects.call(reply_reap_expired)
        if reaped:
            logger.info("marked %d orphaned replies interrupted", reaped)
        released = 0
        gone = await effects.call(presence_gone_agents)
        # One database trip per agent: a sweep that releases hundreds of conversations must not
        # hold the process's database thread, and every socket's writes behind it, for seconds.
        for done, user_id in enumerate(gone):
            if time.monotonic() > deadline:
                # The lease must be renewed before it lapses; the next pass takes the rest.
                logger.info("%d absent agents left for the next reaper pass", len(gone) - done)
                break
            released += await effects.call(presence_release_gone, user_id=user_id)
        if released:
            logger.info("returned %d conversations of absent agents to the queue", released)
    except Exception:
        logger.warning("reaper pass failed", exc_info=True)


async def reap_forever(*, lease: CacheLease | None = None, on_pass: Callable[[], object] | None = None) -> None:
    """Every PARLEY_REAPER_INTERVAL seconds, in the one process that holds the reaper's lease: run a reaper pass.

    Every Daphne and worker process runs this loop; the lease elects which of them works, and
    another takes over within one TTL if that one dies. `on_pass` is called after each pass this
    process ran.
    """
    interval = settings.PARLEY_REAPER_INTERVAL
    lease = lease or reaper_lease()
    try:
        while True:
            if await _lead(lease):
                # Half the interval: renewed before and after, the lease never waits longer than a pass or a sleep.
                await reap_once(budget=interval / 2)
                await _lead(lease)
                if on_pass is not None:
                    on_pass()
            await asyncio.sleep(interval)
    finally:
        try:
            await asyncio.to_thread(lease.release)
        except Exception:
            logger.warning("could not release the reaper lease; it lapses within %d s", lease.ttl, exc_info=True)


async def feed_reply_channel(application) -> None:
    """What `runworker ai-reply` does, in-process: pass each job on the channel to one consumer instance."""
    layer = get_channel_layer()
    inbox: asyncio.Queue = asyncio.Queue()

    async def send(_message):  # a channel consumer has no client to answer
        return None

    consumer = asyncio.create_task(application({"type": "channel", "channel": REPLY_CHANNEL}, inbox.get, send))
    try:
        while True:
            inbox.put_nowait(await layer.receive(REPLY_CHANNEL))
    finally:
        consumer.cancel()


def ensure_background_tasks(application) -> None:
    """Start the reaper (always) and the embedded reply worker (when configured) once per event loop."""
    loop = asyncio.get_running_loop()
    if loop in _started:
        return
    tasks = [loop.create_task(reap_forever())]
    if settings.PARLEY_EMBEDDED_WORKER:
        tasks.append(loop.create_task(feed_reply_channel(application)))
        tasks.append(loop.create_task(announce_alive_forever(f"embedded:{os.getpid()}")))
    tasks += embedded_task_runners(loop)  # the email task worker, when PARLEY_EMBEDDED_TASKS
    _started[loop] = tasks


async def stop_background_tasks() -> None:
    """Cancel this loop's background tasks and wait for them, a few seconds at most (tests, shutdown)."""
    tasks = _started.pop(asyncio.get_running_loop(), [])
    for task in tasks:
        task.cancel()
    if tasks:
        # A receive blocked in the Redis client can outlive its cancellation; the loop is ending anyway.
        await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)


class BackgroundTasksMiddleware:
    """On the first connection or request a process serves: start its background tasks, arm graceful shutdown."""

    def __init__(self, app, channel_application):
        self.app = app
        self.channel_application = channel_application

    async def __call__(self, scope, receive, send):
        ensure_background_tasks(self.channel_application)
        install_daphne_sigterm()
        return await self.app(scope, receive, send)
