"""The sockets open in this process, so a shutdown can close each with 4012 (restarting) and metrics can count them.

Deliberately process-local: fan-out between processes goes through channel-layer groups;
this only answers "what must this process close before it exits?".
"""

from __future__ import annotations

import weakref

_live: weakref.WeakSet = weakref.WeakSet()


def register(consumer) -> None:
    """A socket was accepted."""
    _live.add(consumer)


def unregister(consumer) -> None:
    """A socket closed."""
    _live.discard(consumer)


def live() -> list:
    """The consumers with an open socket in this process."""
    return list(_live)


def count_by_kind() -> dict[str, int]:
    """Open sockets per consumer kind (customer, agent)."""
    counts: dict[str, int] = {}
    for consumer in list(_live):
        if not consumer.closed:  # closing sockets wait for the client's close handshake
            counts[consumer.kind] = counts.get(consumer.kind, 0) + 1
    return counts
