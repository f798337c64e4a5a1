"""Handing socket frames and layer events to consumer methods, without a database-thread trip each."""

from __future__ import annotations

from channels.consumer import get_handler_name


class DirectDispatch:
    """Channels' `AsyncConsumer.dispatch` without its `close_old_connections()` before every handler.

    That call is a trip to the one thread all database work of the process shares, taken for
    every frame and every layer event: for each streamed delta and each viewer, queued behind
    queries. Parley reaches the database only through `database_sync_to_async`, which closes
    stale connections around each call itself.
    """

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)
