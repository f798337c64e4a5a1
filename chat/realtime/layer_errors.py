"""What a lost channel layer looks like (Redis restarting or unreachable), and how consumers live through it."""

import asyncio

import redis.exceptions

# Connection-level failures only: a full channel (ChannelFull) is not the layer being gone.
LAYER_ERRORS = (ConnectionError, OSError, TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# Seconds between attempts while the layer is away.
LAYER_RETRY_SECONDS = 1.0


class ResilientLayerReceive:
    """Mixin for Channels consumers: a lost layer calls `on_layer_lost()` and is retried, instead of crashing.

    Channels assigns `channel_receive` in `__call__`; the property wraps what it assigns.
    """

    @property
    def channel_receive(self):
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive):
        self._layer_receive = receive

    async def _receive_from_layer(self):
        while True:
            try:
                return await self._layer_receive()
            except LAYER_ERRORS:
                await self.on_layer_lost()
                await asyncio.sleep(LAYER_RETRY_SECONDS)

    async def on_layer_lost(self) -> None:
        """Called each time a receive from the layer fails."""
