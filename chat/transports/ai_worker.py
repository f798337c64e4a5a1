"""The AI-reply consumer: generates bot replies as jobs that outlive any socket."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
import weakref
from dataclasses import dataclass, field

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from django.conf import settings

from chat import metrics
from chat.ai.base import Outcome, ProviderError
from chat.ai.dialogue import respond
from chat.ai.providers import get_provider
from chat.ai.stream import DeltaStream
from chat.models import Message
from chat.protocol import events
from chat.realtime import effects, groups
from chat.realtime.broadcast import layer_message, send_to_groups
from chat.realtime.dispatch import DirectDispatch
from chat.realtime.layer_errors import LAYER_RETRY_SECONDS, ResilientLayerReceive
from chat.services import bot, replies

logger = logging.getLogger(__name__)

# Consumers generating replies in this process, so a shutdown can hand their replies back.
_instances: weakref.WeakSet[AIReplyConsumer] = weakref.WeakSet()

# Workers refresh this cache key; /readyz reports "no AI worker" once it expires.
ALIVE_KEY = "parley:ai-worker-alive"
ALIVE_TTL = 30
ALIVE_EVERY = 10


def worker_name() -> str:
    """host:pid:random, so a reply's row says which process generates it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Running:
    """A reply being generated in this process."""

    job: replies.ReplyJob
    stream: DeltaStream
    task: asyncio.Task | None = None
    stop_requested: bool = False
    shutting_down: bool = False
    claimed_at: float = field(default_factory=time.monotonic)
    stop_at: float | None = None
    finishing: bool = False


@dataclass
class Claiming:
    """A reply being claimed: what was asked of it before it started."""

    stop_at: float | None = None
    snapshots: list[str] = field(default_factory=list)


class AIReplyConsumer(DirectDispatch, ResilientLayerReceive, AsyncConsumer):
    """Listens on the `ai-reply` channel; each reply runs as its own task, stoppable via group `reply.<id>`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.worker = worker_name()
        self.running: dict[int, Running] = {}
        # Replies being claimed, with the stop and snapshot requests that arrived meanwhile.
        self.claiming: dict[int, Claiming] = {}
        self.claims: set[asyncio.Task] = set()
        self.heartbeat: asyncio.Task | None = None
        _instances.add(self)

    async def on_layer_lost(self) -> None:
        """Keep generating through a layer restart; the checkpoint loop re-joins the stop groups."""
        logger.warning("channel layer lost; retrying in %s s", LAYER_RETRY_SECONDS)

    async def reply_generate(self, message: dict) -> None:
        """A new reply to generate: claimed in a task of its own, so a hundred jobs start together, not in turn."""
        reply_id = int(message["reply_id"])
        if reply_id in self.running or reply_id in self.claiming:
            return
        self.claiming[reply_id] = Claiming()
        # Join the stop/snapshot group before claiming, so no request sent after the claim is missed.
        await self.channel_layer.group_add(groups.reply_group(reply_id), self.channel_name)
        task = asyncio.create_task(self._claim(reply_id))
        self.claims.add(task)
        task.add_done_callback(self.claims.discard)

    async def _claim(self, reply_id: int) -> None:
        try:
            job = await effects.call(replies.reply_claim, reply_id=reply_id, worker=self.worker)
        except Exception:
            # The reply's lease runs out and the reaper ends it `interrupted`.
            logger.exception("could not claim reply %s", reply_id)
            job = None
        asked = self.claiming.pop(reply_id, Claiming())
        if job is None:  # ended already, or another worker has it: one trigger, one reply
            await self.channel_layer.group_discard(groups.reply_group(reply_id), self.channel_name)
            return
        running = Running(
            job=job,
            stream=DeltaStream(self._delta_sender(job, time.monotonic()), interval=settings.PARLEY_DELTA_INTERVAL),
        )
        self.running[reply_id] = running
        running.task = asyncio.create_task(self._generate(running))
        if asked.stop_at is not None:  # stopped while we claimed it: end it before a token is spent
            self._cancel(running, asked.stop_at)
        for reply_to in asked.snapshots:  # joined while we claimed it: nothing streamed yet
            await self._send_snapshot(running, reply_to)
        if self.heartbeat is None or self.heartbeat.done():
            self.heartbeat = asyncio.create_task(self._checkpoint_forever())

    async def reply_stop_signal(self, message: dict) -> None:
        """Someone stopped a reply this process generates: cancel it, which closes the provider's stream."""
        reply_id = int(message["reply_id"])
        running = self.running.get(reply_id)
        if running and running.task:
            self._cancel(running, time.monotonic())
        elif reply_id in self.claiming:
            self.claiming[reply_id].stop_at = time.monotonic()

    @staticmethod
    def _cancel(running: Running, stop_at: float) -> None:
        running.stop_requested = True
        running.stop_at = stop_at
        running.task.cancel()

    async def reply_snapshot_request(self, message: dict) -> None:
        """A client joined mid-stream: send it the exact text so far."""
        reply_id = int(message["reply_id"])
        running = self.running.get(reply_id)
        if running is not None:
            await self._send_snapshot(running, message["reply_to"])
        elif reply_id in self.claiming:
            self.claiming[reply_id].snapshots.append(message["reply_to"])

    async def _send_snapshot(self, running: Running, reply_to: str) -> None:
        job, stream = running.job, running.stream
        snapshot = events.reply_snapshot(
            reply_id=job.reply_id,
            conversation_id=job.conversation_id,
            seq=job.seq,
            index=stream.index,
            text=stream.text,
            ends=list(stream.ends),
        )
        try:
            await self.channel_layer.send(reply_to, layer_message(snapshot))
        except Exception:
            logger.warning("could not answer a snapshot request for reply %s", job.reply_id, exc_info=True)

    def _delta_sender(self, job: replies.ReplyJob, claimed_at: float):
        async def send_delta(index: int, text: str) -> None:
            if index == 0:
                metrics.FIRST_TOKEN.observe(time.monotonic() - claimed_at)
            delta = events.reply_delta(
                reply_id=job.reply_id, conversation_id=job.conversation_id, seq=job.seq, index=index, text=text
            )
            await send_to_groups(
                [(groups.visitor_group(job.visitor_id), delta), (groups.conversation_group(job.conversation_id), delta)]
            )

        return send_delta

    async def _generate(self, running: Running) -> None:
        job, stream = running.job, running.stream
        pump = asyncio.create_task(stream.pump())
        status, reason, handoff, outcome = Message.Status.COMPLETE, "", False, None
        try:
            async for chunk in respond(job.request, get_provider(), chars_per_second=settings.AI_TYPING_CPS):
                if isinstance(chunk, Outcome):
                    outcome = chunk
                else:
                    stream.feed(chunk)
            stream.close()
            await pump
        except asyncio.CancelledError:
            status = Message.Status.STOPPED if running.stop_requested else Message.Status.INTERRUPTED
        except ProviderError as exc:
            status, reason, handoff = Message.Status.FAILED, exc.reason, True
        except Exception:
            logger.exception("reply %s failed", job.reply_id)
            status, reason, handoff = Message.Status.FAILED, "Internal error while generating the reply.", True
        finally:
            pump.cancel()
            await self._finish(running, status, reason, handoff, outcome)

    async def _finish(self, running: Running, status: str, reason: str, handoff: bool, outcome: Outcome | None) -> None:
        job, stream = running.job, running.stream
        running.finishing = True
        try:
            # Returns once its events have left: reply.end is out before a shutdown may stop the loop.
            await effects.call(
                bot.bot_reply_finish,
                reply_id=job.reply_id,
                conversation_id=job.conversation_id,
                status=status,
                text=stream.full_text,
                index=stream.index,
                reason=reason,
                ends=list(stream.ends),
                outcome=outcome,
                language=job.request.language,
                handoff=handoff and not running.shutting_down,
                lane=job.conversation_id,
            )
        except Exception:
            # The lease runs out and the reaper ends the reply `interrupted` with its last checkpoint.
            logger.exception("could not finish reply %s", job.reply_id)
        finally:
            if running.stop_at is not None:
                metrics.STOP_LATENCY.observe(time.monotonic() - running.stop_at)
            self.running.pop(job.reply_id, None)
            await self.channel_layer.group_discard(groups.reply_group(job.reply_id), self.channel_name)

    async def _checkpoint_forever(self) -> None:
        """About once a second: save every running reply's text (renewing its lease) and keep its stop group."""
        while self.running:
            await asyncio.sleep(settings.PARLEY_CHECKPOINT_INTERVAL)
            running = list(self.running.values())
            # A restarted layer forgot the groups: without them a stop would not reach us.
            await asyncio.gather(
                *(self.channel_layer.group_add(groups.reply_group(r.job.reply_id), self.channel_name) for r in running),
                return_exceptions=True,
            )
            # One database round trip for all of them: a hop per reply would queue stops and new replies behind.
            checkpoints = [
                replies.Checkpoint(r.job.reply_id, r.stream.text, r.stream.index, list(r.stream.ends)) for r in running
            ]
            try:
                alive = await effects.call(replies.reply_checkpoint_many, worker=self.worker, checkpoints=checkpoints)
            except Exception:
                logger.warning("checkpoint of %d replies failed", len(checkpoints), exc_info=True)
                continue
            for r in running:
                # Ended elsewhere (reaped): stop spending tokens on it. One ending here is left to finish.
                if r.job.reply_id not in alive and r.task and not r.finishing:
                    r.task.cancel()

    async def shutdown(self) -> None:
        """Hand back every reply in flight as `interrupted`, keeping its text (SIGTERM)."""
        for claim in list(self.claims):  # take no new replies
            claim.cancel()
        await asyncio.gather(*self.claims, return_exceptions=True)
        for running in list(self.running.values()):
            running.shutting_down = True
            if running.task:
                running.task.cancel()
        tasks = [running.task for running in self.running.values() if running.task]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


WORKER_METRICS_KEY = "parley:ai-worker-metrics"


async def announce_alive_forever(name: str) -> None:
    """Refresh the shared "a worker is alive" mark and this worker's metrics every ALIVE_EVERY seconds."""
    from django.core.cache import cache

    def announce():
        cache.set(ALIVE_KEY, name, ALIVE_TTL)
        # One shared dict of recent workers' snapshots; a lost update costs one refresh period.
        shared = cache.get(WORKER_METRICS_KEY) or {}
        now = time.time()
        shared = {key: value for key, value in shared.items() if now - value["at"] < ALIVE_TTL}
        shared[name] = {"at": now, "metrics": metrics.snapshot()}
        cache.set(WORKER_METRICS_KEY, shared, ALIVE_TTL)

    while True:
        try:
            await database_sync_to_async(announce)()
        except Exception:
            logger.warning("could not announce the worker", exc_info=True)
        await asyncio.sleep(ALIVE_EVERY)


async def shutdown_all() -> None:
    """Hand back every reply this process generates, as `interrupted` with its text."""
    await asyncio.gather(*(consumer.shutdown() for consumer in list(_instances)), return_exceptions=True)
