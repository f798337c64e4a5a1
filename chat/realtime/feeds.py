"""One client's view of live events after a replay: duplicates dropped, mid-stream replies made exact."""

from __future__ import annotations

from chat.protocol.cursors import Cursor
from chat.protocol.replay import Replay
from chat.realtime import groups
from chat.realtime.broadcast import group_send_safely
from chat.realtime.dedupe import ReplayFilter


class Feed:
    """Per-connection state shared by the customer socket, the agent socket and the SSE stream."""

    def __init__(self, channel_name: str):
        self.channel_name = channel_name
        self.replay_filter = ReplayFilter()
        self.awaiting_snapshot: set[int] = set()

    async def start(self, conversation_id: int, cursor: Cursor, replay: Replay) -> None:
        """Record what a replay gave, and ask the workers of replies in flight for their exact text.

        The database holds a reply's text as of its last checkpoint, so deltas sent since
        then are missing; the worker answers with a snapshot, and until it does the feed
        holds back that reply's deltas (the snapshot includes them).
        """
        self.replay_filter.start(conversation_id, cursor, replay.events)
        for reply_id in replay.generating:
            self.awaiting_snapshot.add(reply_id)
            await group_send_safely(
                groups.reply_group(reply_id),
                {"type": "reply.snapshot_request", "reply_id": reply_id, "reply_to": self.channel_name},
            )

    def forget(self, conversation_id: int) -> None:
        """Stop tracking a conversation."""
        self.replay_filter.forget(conversation_id)

    def accept(self, event: dict) -> bool:
        """True when the client should get this live event."""
        kind = event.get("type")
        if kind == "reply.delta" and event["reply_id"] in self.awaiting_snapshot:
            return False
        if kind in ("reply.snapshot", "reply.end"):
            self.awaiting_snapshot.discard(event["reply_id"])
        return not self.replay_filter.is_duplicate(event)
