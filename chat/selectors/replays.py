"""What a customer client gets when it (re)connects: its conversation and every event after its cursor."""

from __future__ import annotations

from dataclasses import dataclass

from chat.models import Visitor
from chat.protocol import events
from chat.protocol.cursors import Cursor
from chat.selectors import conversations as selectors
from chat.selectors.access import access_conversation_for_visitor
from chat.selectors.conversations import conversation_current


@dataclass(frozen=True)
class CustomerReplay:
    """The welcome fields, the replay behind them, and the cursor it started from."""

    fields: dict
    replay: selectors.Replay | None
    cursor: Cursor
    conversation_id: int | None


def customer_replay(*, visitor: Visitor, cursor: Cursor, conversation_id: int | None) -> CustomerReplay:
    """Replay the visitor's current conversation from `cursor` (from the start if the cursor was for an older one)."""
    if conversation_id is not None:
        access_conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
    current = conversation_current(visitor=visitor)
    if current is not None and conversation_id not in (None, current.pk):
        cursor = Cursor()
    fields = {
        "visitor": events.visitor_payload(visitor),
        "conversation": None,
        "events": [],
        "cursor": str(cursor),
        "more": False,
    }
    if current is None:
        return CustomerReplay(fields, None, cursor, None)
    replay = selectors.conversation_replay(conversation=current, cursor=cursor, audience=selectors.CUSTOMER)
    fields.update(
        conversation=events.conversation_payload(current),
        events=replay.events,
        cursor=str(replay.head),
        more=replay.more,
    )
    return CustomerReplay(fields, replay, cursor, current.pk)


def event_cursor(event: dict) -> str | None:
    """The cursor a client holds right after this event, or None when the event does not move it."""
    kind = event.get("type")
    if kind == "message.new":
        return f"{event['message']['seq']}.0"
    if kind in ("reply.delta", "reply.snapshot"):
        return f"{event['seq']}.{event['index']}"
    if kind == "reply.end":
        return f"{event['seq']}.{event['index'] + 1}"
    return None
