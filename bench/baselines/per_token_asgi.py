"""The naive AI stream: Parley with delta coalescing removed, one channel-layer message per provider token.

Everything else (persistence, checkpoints, stop, replay) is Parley's own, so the difference measured
against Parley is the coalescing alone. Served by Daphne like chatsite.asgi, with the embedded worker.
"""

from __future__ import annotations

from collections import deque

# isort: off
from chatsite.asgi import application  # sets Django up before the worker is imported

from chat.transports import ai_worker as worker
from chat.ai.stream import DeltaStream

# isort: on


class PerTokenStream(DeltaStream):
    """Sends every chunk the provider yields as a delta of its own, never merging two."""

    def __init__(self, send_delta, *, interval: float):
        super().__init__(send_delta, interval=0.0)
        self.chunks: deque[str] = deque()

    def feed(self, chunk: str) -> None:
        """Queue one provider chunk as one delta."""
        if chunk:
            self.chunks.append(chunk)
        super().feed(chunk)

    async def pump(self) -> None:
        """Send queued chunks one by one until closed and drained."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.chunks:
                chunk = self.chunks.popleft()
                self.pending = self.pending[len(chunk) :]
                self.index += 1
                self.text += chunk
                self.ends.append(len(self.text))
                await self.send_delta(self.index, chunk)
            if self._closed:
                return


# The worker builds its stream through this module-level name when it claims a reply.
worker.DeltaStream = PerTokenStream
