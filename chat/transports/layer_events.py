"""Hearing a visitor's group without a consumer, for the HTTP streams."""

from __future__ import annotations

import asyncio
import contextlib

from channels.layers import get_channel_layer

from chat.realtime import groups
from chat.realtime.broadcast import event_in
from chat.services.revocation import VISITOR_REVOKED_MESSAGE


class VisitorListener:
    """A channel of our own in the visitor's group, for an HTTP stream: the events a consumer would be handed."""

    def __init__(self, visitor_id: int):
        self.visitor_id = visitor_id
        self.layer = get_channel_layer()
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        self.channel_name = ""
        self.revoked = False  # the visitor's tokens were revoked while we listened
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> VisitorListener:
        self.channel_name = await self.layer.new_channel()
        await self.layer.group_add(groups.visitor_group(self.visitor_id), self.channel_name)
        # A task reads the layer into a queue: a receive cancelled by a timeout could lose a message.
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            message = await self.layer.receive(self.channel_name)
            if message.get("type") == VISITOR_REVOKED_MESSAGE:
                self.revoked = True
                self.queue.put_nowait(None)  # wakes `next_event` now
            elif (event := event_in(message)) is not None:
                self.queue.put_nowait(event)

    async def __aexit__(self, *exc) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.layer.group_discard(groups.visitor_group(self.visitor_id), self.channel_name)

    async def next_event(self, timeout: float) -> dict | None:
        """The next protocol event, or None after `timeout` seconds of silence (or once `revoked`)."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout=timeout)
        except TimeoutError:
            return None
