"""The one-process channel layer: Channels' in-memory layer, with its expiry sweep rate-limited and lean group sends."""

from __future__ import annotations

import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class SweptInMemoryChannelLayer(InMemoryChannelLayer):
    """Sweeps expired messages and group memberships at most once per `sweep_interval` seconds.

    The stock layer walks every channel and every group on each send to a group and on each
    receive, so with thousands of sockets each frame cost grew with the number held. Expiry is
    measured in tens of seconds, so sweeping once a second changes nothing a client can see.
    """

    def __init__(self, *args, sweep_interval: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sweep_interval = sweep_interval
        self._swept_at = float("-inf")

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_interval:
            self._swept_at = now
            super()._clean_expired()

    async def flush(self) -> None:
        await super().flush()
        self._swept_at = float("-inf")

    async def group_send(self, group: str, message: dict) -> None:
        """Queue the message on each member channel directly, skipping a full one.

        The stock layer starts a task per member and gathers them, though queueing never waits:
        a cost paid on every streamed delta.
        """
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass
