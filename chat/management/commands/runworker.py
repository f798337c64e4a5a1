"""`runworker ai-reply`, as Channels ships it, plus what production needs: liveness and a graceful SIGTERM."""

import asyncio
import logging
import signal

from channels.management.commands.runworker import Command as ChannelsRunworker
from channels.worker import Worker

from chat.realtime.layer_errors import LAYER_RETRY_SECONDS
from chat.transports.ai_worker import announce_alive_forever, shutdown_all, worker_name
from chat.transports.background import STOP_GRACE_SECONDS, reap_forever

logger = logging.getLogger("django.channels.worker")


class ParleyWorker(Worker):
    """Listens like Channels' worker; on SIGTERM stops taking jobs and hands back replies in flight."""

    async def handle(self):
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        helpers = [loop.create_task(announce_alive_forever(worker_name())), loop.create_task(reap_forever())]
        stop_wait = loop.create_task(stopping.wait())
        while not stopping.is_set():
            serving = loop.create_task(super().handle())
            await asyncio.wait([serving, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            if stopping.is_set():
                serving.cancel()
                break
            # The listener died (the channel layer went away): listen again once it is back.
            logger.warning("worker listener stopped (%r); listening again", serving.exception())
            await asyncio.wait([stop_wait], timeout=LAYER_RETRY_SECONDS)
        await shutdown_all()  # replies in flight end `interrupted` with their text, well within the lease
        from chat.ai.openai_provider import close_shared_clients  # here: a `kb` worker need not load aiohttp to start

        await close_shared_clients()
        for task in [*helpers, stop_wait]:
            task.cancel()
        # Bounded: the reaper gives up its lease as it stops, so another process takes over at once.
        await asyncio.wait([*helpers, stop_wait], timeout=STOP_GRACE_SECONDS)
        logger.info("worker stopped")


class Command(ChannelsRunworker):
    help = "Run a Channels worker (use: runworker ai-reply), with a graceful SIGTERM."
    worker_class = ParleyWorker
