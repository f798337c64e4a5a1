"""What a client missed: the events after its cursor, as one value every transport sends."""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.protocol.cursors import Cursor


@dataclass
class Replay:
    """The events a client missed, the cursor they bring it to, and whether more remain."""

    events: list[dict] = field(default_factory=list)
    head: Cursor = Cursor()
    more: bool = False
    # Replies a worker is generating right now: live deltas may have gone out between checkpoints.
    generating: list[int] = field(default_factory=list)
