"""Graceful shutdown: sockets close with 4012 (restarting) so clients resume elsewhere; workers hand back their replies."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

from chat.realtime import registry

logger = logging.getLogger(__name__)

# How long a stopping process waits for its sockets' disconnect work (presence, groups) to finish.
CLOSE_GRACE_SECONDS = 5.0

_installed = False


async def close_local_sockets() -> int:
    """Close every socket of this process with 4012 (server restarting)."""
    consumers = registry.live()
    await asyncio.gather(*(consumer.close_for_restart() for consumer in consumers), return_exceptions=True)
    return len(consumers)


def install_daphne_sigterm() -> None:
    """Wrap the server's SIGTERM handler: first close our sockets with 4012, then let the server stop.

    Daphne (Twisted) stops its reactor on SIGTERM and drops connections without a close
    code; clients would then treat it as a network error instead of a planned restart.
    """
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):  # not under a server that stops itself (tests, runworker)
        return
    loop = asyncio.get_running_loop()

    async def shut_down(signum, frame):
        closed = await close_local_sockets()
        logger.info("SIGTERM: closed %d sockets with 4012", closed)
        # Stopping the loop under a consumer still in its disconnect handler would hang the
        # process (its on-commit broadcast waits on the loop): wait, bounded, for all to finish.
        deadline = loop.time() + CLOSE_GRACE_SECONDS
        while registry.live() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        previous(signum, frame)

    def on_sigterm(signum, frame):
        loop.call_soon_threadsafe(lambda: loop.create_task(shut_down(signum, frame)))

    signal.signal(signal.SIGTERM, on_sigterm)
    _installed = True
