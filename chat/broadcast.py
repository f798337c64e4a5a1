"""Fan events out through the channel layer, only after the transaction that caused them commits."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat import groups, metrics
from chat.models import Conversation

logger = logging.getLogger(__name__)

# The handler name consumers implement: `parley_event`.
EVENT_MESSAGE_TYPE = "parley.event"

LayerCall = Callable[[], Awaitable[object]]


async def group_send_safely(group: str, message: dict) -> bool:
    """Send one layer message to a group; a full or unreachable layer is logged and counted, not raised."""
    try:
        await get_channel_layer().group_send(group, message)
        return True
    except Exception:
        # The database already holds the truth; a lost event shows up as a gap the client repairs.
        logger.warning("group_send to %s failed", group, exc_info=True)
        metrics.LAYER_SEND_FAILURES.inc()
        return False


async def send_to_groups(deliveries: list[tuple[str, dict]]) -> None:
    """Send each (group, event) as a `parley.event`."""
    for group, event in deliveries:
        await group_send_safely(group, {"type": EVENT_MESSAGE_TYPE, "event": event})


class _Outbox:
    """Layer calls queued by database threads, made one after another by a task on the event loop.

    The database thread only queues them: waiting for a busy event loop would hold up every
    other socket's database work behind it. One task keeps them in the order they were queued,
    which is commit order, so a conversation's events leave in seq order.
    """

    def __init__(self) -> None:
        self.items: deque[LayerCall | asyncio.Future] = deque()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.busy = False

    def put(self, item: LayerCall | asyncio.Future) -> None:
        self.items.append(item)
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.items:
                item = self.items.popleft()
                if isinstance(item, asyncio.Future):
                    if not item.done():
                        item.set_result(None)
                    continue
                self.busy = True
                try:
                    await item()
                except Exception:
                    logger.warning("a queued channel-layer call failed", exc_info=True)
                finally:
                    self.busy = False


_outboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox]" = weakref.WeakKeyDictionary()


def _outbox() -> _Outbox:
    """This event loop's outbox (call on the loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _outboxes:
        _outboxes[loop] = _Outbox()
    return _outboxes[loop]


def call_layer_soon(call: LayerCall) -> None:
    """Make a channel-layer call from synchronous code without waiting for it, after earlier ones.

    In a thread serving the event loop (database work of consumers and views) it is queued on
    that loop; anywhere else (management commands, plain sync tests) it runs at once.
    """
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(lambda: _outbox().put(call))
    else:
        async_to_sync(call)()


async def flushed() -> None:
    """Wait until every layer call queued before now has been made (say, events before their ack)."""
    outbox = _outboxes.get(asyncio.get_running_loop())
    if outbox is not None and (outbox.items or outbox.busy):
        marker = asyncio.get_running_loop().create_future()
        outbox.put(marker)
        await marker


def publish(deliveries: list[tuple[str, dict]]) -> None:
    """Queue the deliveries to go out once the current transaction commits (at once outside one)."""
    if deliveries:
        transaction.on_commit(partial(call_layer_soon, partial(send_to_groups, deliveries)))


def conversation_deliveries(
    conversation: Conversation, *, customer: dict | None = None, agents: dict | None = None, inbox: dict | None = None
) -> list[tuple[str, dict]]:
    """Address one change of a conversation to its customer tabs, its subscribed agents and its site's inbox."""
    deliveries = []
    if customer is not None:
        deliveries.append((groups.visitor_group(conversation.visitor_id), customer))
    if agents is not None:
        deliveries.append((groups.conversation_group(conversation.pk), agents))
    if inbox is not None:
        deliveries.append((groups.site_group(conversation.site_id), inbox))
    return deliveries
