"""What a service call changed besides the database, and carrying it out once the change is committed.

Services record their effects (events to deliver, reply jobs, stop signals, queue fills)
with the functions below. `call()` runs a service on the database thread, collects what it
recorded, and carries it out on the event loop: deliveries go out through the outbox, each
conversation's in commit order, and the caller resumes once its own deliveries have left.
Effects are recorded on commit, so a transaction that rolls back publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat.realtime import db_threads, groups, outbox
from chat.realtime.broadcast import group_send_safely, send_to_groups

logger = logging.getLogger(__name__)

T = TypeVar("T")
Delivery = tuple[str, dict]


@dataclass
class Effects:
    """Everything one service call asks for once its transaction has committed."""

    #: (lane, deliveries): a lane (usually the conversation id) keeps its events in order.
    deliveries: list[tuple[Hashable, list[Delivery]]] = field(default_factory=list)
    #: (lane, reply id): replies for a worker to generate, sent after the lane's earlier events.
    jobs: list[tuple[Hashable, int]] = field(default_factory=list)
    #: reply ids whose worker must stop generating.
    stops: list[int] = field(default_factory=list)
    #: sites whose queue may now be given to agents (database work, done after the caller resumes).
    fills: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.jobs or self.stops or self.fills)


_local = threading.local()


@contextmanager
def collect():
    """Collect the effects that service calls in this thread record, until the block ends."""
    previous = getattr(_local, "effects", None)
    effects = _local.effects = Effects()
    try:
        yield effects
    finally:
        _local.effects = previous


def _record(add: Callable[[Effects], None]) -> None:
    """Record an effect when the current transaction commits (at once outside one; never after a rollback)."""

    def on_commit() -> None:
        effects = getattr(_local, "effects", None)
        if effects is not None:
            add(effects)
            return
        # Outside `call()` (management commands, the admin, plain sync tests): carry it out now.
        alone = Effects()
        add(alone)
        async_to_sync(carry_out)(alone)
        for site_id in alone.fills:
            _fill(site_id)

    transaction.on_commit(on_commit)


def deliver(lane: Hashable, deliveries: list[Delivery]) -> None:
    """Send these (group, event) pairs after commit, after the lane's earlier ones."""
    if deliveries:
        _record(lambda effects: effects.deliveries.append((lane, deliveries)))


def job(lane: Hashable, reply_id: int) -> None:
    """Hand a new reply to a worker after commit, behind the lane's events (its `reply.start` first)."""
    _record(lambda effects: effects.jobs.append((lane, reply_id)))


def stop(reply_id: int) -> None:
    """Tell the worker generating a reply to stop, after commit."""
    _record(lambda effects: effects.stops.append(reply_id))


def fill(site_ids: Iterable[int]) -> None:
    """Offer these sites' queues to agents with room, after commit."""
    site_ids = sorted(set(site_ids))
    if site_ids:
        _record(lambda effects: effects.fills.extend(site_ids))


# --- carrying effects out on the event loop ---------------------------------------------------


async def send_job(reply_id: int) -> None:
    """Put a reply on the `ai-reply` channel; a lost job ends `interrupted` when its lease runs out."""
    try:
        await get_channel_layer().send(groups.REPLY_CHANNEL, {"type": "reply.generate", "reply_id": reply_id})
    except Exception:
        logger.warning("could not hand reply %s to a worker", reply_id, exc_info=True)


async def send_stop(reply_id: int) -> None:
    """Signal the worker of a reply (every process generating it listens on its group)."""
    await group_send_safely(groups.reply_group(reply_id), {"type": "reply.stop_signal", "reply_id": reply_id})


_background: set[asyncio.Task] = set()


# Offers a site's queue to agents with room; the services register it (chat/apps.py), since this layer sits
# below them and must not import them.
_filler: Callable[..., object] | None = None


def register_filler(filler: Callable[..., object]) -> None:
    """Set what carrying out a queue fill calls: `filler(site_id=...)`."""
    global _filler
    _filler = filler


def _fill(site_id: int) -> None:
    if _filler is None:
        logger.warning("no queue filler registered; site %s waits for the next trigger", site_id)
        return
    _filler(site_id=site_id)


async def _fill_later(site_ids: list[int]) -> None:
    for site_id in site_ids:
        try:
            await call(_fill, site_id)
        except Exception:
            # The next trigger (a resolve, an agent coming online, the reaper) fills the queue.
            logger.warning("assignment fill for site %s failed", site_id, exc_info=True)


def enqueue(effects: Effects) -> list[asyncio.Future]:
    """Queue the effects on their lanes (on the loop); the futures of the deliveries, done once they left."""
    sent = [outbox.put(lane, partial(send_to_groups, deliveries)) for lane, deliveries in effects.deliveries]
    for lane, reply_id in effects.jobs:
        outbox.put(lane, partial(send_job, reply_id))
    for reply_id in effects.stops:
        outbox.put(("stop", reply_id), partial(send_stop, reply_id))
    return sent


async def carry_out(effects: Effects) -> None:
    """Queue the effects on their lanes and wait until the deliveries (not jobs or fills) have left."""
    sent = enqueue(effects)
    if sent:
        await asyncio.gather(*sent)


# --- running services --------------------------------------------------------------------------

_lane_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _in_order(lane: Hashable | None):
    """Let one call of this process at a time write a lane (a conversation) and queue its events.

    With several database threads, two writes to one conversation could come back to the loop
    in another order than they committed; waiting here keeps each lane's events in seq order.
    """
    if lane is None:
        yield
        return
    locks = _lane_locks.setdefault(asyncio.get_running_loop(), {})
    entry = locks.setdefault(lane, [asyncio.Lock(), 0])
    entry[1] += 1
    try:
        async with entry[0]:
            yield
    finally:
        entry[1] -= 1
        if not entry[1]:
            del locks[lane]


async def call(service: Callable[..., T], /, *args, lane: Hashable | None = None, **kwargs) -> T:
    """Run a service on a database thread and carry out its effects; return once its events have left.

    `lane` names the conversation the call writes, when the caller knows it: calls of one lane
    run one at a time, so their events leave in commit order. Queue fills run afterwards, off
    the caller's path.
    """

    def run():
        with collect() as effects:
            return service(*args, **kwargs), effects

    async with _in_order(lane):
        result, effects = await db_threads.run(run)
        sent = enqueue(effects)  # before any await: commit order is queue order
    if sent:
        await asyncio.gather(*sent)
    if effects.fills:
        task = asyncio.get_running_loop().create_task(_fill_later(effects.fills))
        _background.add(task)
        task.add_done_callback(_background.discard)
    return result
