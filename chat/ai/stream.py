"""Coalescing a provider's tokens into numbered `reply.delta` events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

SendDelta = Callable[[int, str], Awaitable[None]]


class DeltaStream:
    """Buffers text and sends it as deltas: the first at once, then at most one per `interval`.

    One pump task does all the sending, so deltas leave in index order; the text and index
    advance before each send, so a snapshot taken meanwhile already includes that delta.
    """

    def __init__(self, send_delta: SendDelta, *, interval: float):
        self.send_delta = send_delta
        self.interval = interval
        self.text = ""  # everything sent as deltas so far
        self.index = -1  # index of the last delta sent
        self.ends: list[int] = []  # text length after each delta, for resuming by offset
        self.pending = ""
        self._wake = asyncio.Event()
        self._closed = False

    @property
    def full_text(self) -> str:
        """What the provider produced, sent or not."""
        return self.text + self.pending

    def feed(self, chunk: str) -> None:
        """Add provider text; the pump sends it soon."""
        if chunk:
            self.pending += chunk
            self._wake.set()

    def close(self) -> None:
        """No more text: the pump sends what is pending and returns."""
        self._closed = True
        self._wake.set()

    async def pump(self) -> None:
        """Send pending text until closed and drained."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.pending:
                chunk, self.pending = self.pending, ""
                self.index += 1
                self.text += chunk
                self.ends.append(len(self.text))
                await self.send_delta(self.index, chunk)
            if self._closed and not self.pending:
                return
            if self.interval:
                await asyncio.sleep(self.interval)  # pacing, not waiting for something to happen
