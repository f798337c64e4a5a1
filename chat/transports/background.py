"""Running the AI-reply consumer and the reply reaper inside a Daphne process."""

from __future__ import annotations

import asyncio
import logging
import os

from channels.layers import get_channel_layer
from django.conf import settings

from chat.realtime import effects
from chat.transports.ai_worker import announce_alive_forever
from chat.realtime.lifecycle import install_daphne_sigterm
from chat.services.presence import presence_gone_agents, presence_release_gone
from chat.realtime.groups import REPLY_CHANNEL
from chat.services.replies import reply_reap_expired

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0

# One set of background tasks per event loop (tests run many loops; Daphne runs one).
_started: dict[asyncio.AbstractEventLoop, list[asyncio.Task]] = {}


async def reap_forever() -> None:
    """Every PARLEY_REAPER_INTERVAL seconds: end replies whose worker died, release absent agents' conversations."""
    while True:
        try:
            reaped = await effects.call(reply_reap_expired)
            if reaped:
                logger.info("marked %d orphaned replies interrupted", reaped)
            released = 0
            # One database trip per agent: a sweep that releases hundreds of conversations must not
            # hold the process's database thread, and every socket's writes behind it, for seconds.
            for user_id in await effects.call(presence_gone_agents):
                released += await effects.call(presence_release_gone, user_id=user_id)
            if released:
                logger.info("returned %d conversations of absent agents to the queue", released)
        except Exception:
            logger.warning("reaper pass failed", exc_info=True)
        await asyncio.sleep(settings.PARLEY_REAPER_INTERVAL)


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
