"""Channel-layer calls in lanes: each lane's calls are made in the order queued, lanes independently.

A lane is usually a conversation, so one conversation's events leave in seq order while a
slow or full receiver in another conversation holds up nobody else.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

logger = logging.getLogger(__name__)

LayerCall = Callable[[], Awaitable[object]]


class Outbox:
    """One event loop's lanes; a lane exists while it has calls to make."""

    def __init__(self) -> None:
        self.lanes: dict[Hashable, deque[tuple[LayerCall, asyncio.Future]]] = {}
        self.tasks: set[asyncio.Task] = set()

    def put(self, lane: Hashable, call: LayerCall) -> asyncio.Future:
        """Queue a call behind the lane's earlier ones; the future is done once it has been made."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        queue = self.lanes.get(lane)
        if queue is None:
            queue = self.lanes[lane] = deque()
            task = loop.create_task(self._drain(lane, queue))
            self.tasks.add(task)
            task.add_done_callback(lambda task: self._abandon(task, lane, queue))
        queue.append((call, done))
        return done

    async def _drain(self, lane: Hashable, queue: deque) -> None:
        try:
            while queue:
                call, done = queue[0]
                try:
                    await call()
                except Exception:
                    logger.warning("a channel-layer call on lane %r failed", lane, exc_info=True)
                finally:
                    queue.popleft()
                    if not done.done():
                        done.set_result(None)
        finally:
            if self.lanes.get(lane) is queue:
                del self.lanes[lane]

    def _abandon(self, task: asyncio.Task, lane: Hashable, queue: deque) -> None:
        """A lane's task ended, perhaps cancelled before it ran (loop shutting down): nobody waits forever."""
        self.tasks.discard(task)
        if self.lanes.get(lane) is queue:
            del self.lanes[lane]
        for _call, done in queue:
            if not done.done():
                done.cancel()


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Outbox] = weakref.WeakKeyDictionary()


def current() -> Outbox:
    """This event loop's outbox (call on the loop)."""
    loop = asyncio.get_running_loop()
    box = _outboxes.get(loop)
    if box is None:
        box = _outboxes[loop] = Outbox()
    return box


def put(lane: Hashable, call: LayerCall) -> asyncio.Future:
    """Queue a layer call on a lane of this loop's outbox."""
    return current().put(lane, call)
