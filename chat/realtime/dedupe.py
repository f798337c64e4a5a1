"""Drop live events a client already got in its replay (the socket joins its groups before it reads)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from chat.protocol.cursors import Cursor

ENDED = math.inf
TRACKED = frozenset({"message.new", "reply.start", "reply.delta", "reply.snapshot", "reply.end"})


@dataclass
class _Seen:
    """What one conversation's client holds: all seqs up to `covered`, a few later ones, reply progress."""

    covered: int = 0
    later: set[int] = field(default_factory=set)
    reply_index: dict[int, float] = field(default_factory=dict)

    def has_seq(self, seq: int) -> bool:
        return seq <= self.covered or seq in self.later


class ReplayFilter:
    """Remembers, per conversation, which messages and reply indexes a client already has."""

    def __init__(self):
        self._seen: dict[int, _Seen] = {}

    def start(self, conversation_id: int, cursor: Cursor, replayed: list[dict]) -> None:
        """Record a replay sent from `cursor`; forget what an earlier replay of the conversation covered."""
        seen = _Seen(covered=cursor.seq, reply_index={cursor.seq: cursor.index} if cursor.seq else {})
        self._seen[conversation_id] = seen
        for event in replayed:
            self._note(seen, event)
        # Replayed messages are contiguous, so the covered prefix extends to the last one.
        seen.covered = max([seen.covered, *seen.later])
        seen.later.clear()

    def forget(self, conversation_id: int) -> None:
        """Stop tracking a conversation (unsubscribed)."""
        self._seen.pop(conversation_id, None)

    @staticmethod
    def _note(seen: _Seen, event: dict) -> None:
        kind = event.get("type")
        if kind == "message.new":
            seen.later.add(event["message"]["seq"])
            seen.reply_index[event["message"]["seq"]] = ENDED
        elif kind == "reply.start":
            seen.later.add(event["seq"])
            seen.reply_index.setdefault(event["seq"], -1)
        elif kind in ("reply.delta", "reply.snapshot"):
            seen.reply_index[event["seq"]] = max(seen.reply_index.get(event["seq"], -1), event["index"])
        elif kind == "reply.end":
            seen.reply_index[event["seq"]] = ENDED

    def is_duplicate(self, event: dict) -> bool:
        """True when the client already has this event; otherwise remember it and return False."""
        kind = event.get("type")
        if kind not in TRACKED:
            return False
        seen = self._seen.get(event.get("conversation"))
        if seen is None:
            return False
        if kind == "message.new":
            duplicate = seen.has_seq(event["message"]["seq"])
        elif kind == "reply.start":
            duplicate = seen.has_seq(event["seq"])
        elif kind in ("reply.delta", "reply.snapshot"):
            duplicate = event["index"] <= seen.reply_index.get(event["seq"], -1)
        elif kind == "reply.end":
            duplicate = seen.reply_index.get(event["seq"]) == ENDED
        if not duplicate:
            self._note(seen, event)
        return duplicate
