"""The customer's commands, one function each, shared by the widget socket and the HTTP endpoints of the SSE transport.

Each takes the visitor and the conversation the client is in (None when it does not know
one) and returns a plain result, or raises what both transports answer with the same code
(docs/protocol.md, section 7): ProtocolError for bad input and the rate limit, NotFound for
what is not the visitor's, ConversationError when the conversation's state does not allow it.
The socket turns them into `error` frames (chat/transports/base.py), HTTP into JSON errors
(chat/transports/sse.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from chat.models import Conversation, Message, Visitor
from chat.protocol import events, frames
from chat.protocol.cursors import Cursor
from chat.realtime import db_threads, effects
from chat.realtime.feeds import Feed
from chat.security.ratelimit import rate_allow
from chat.selectors.access import access_conversation_for_visitor, access_reply_for_visitor
from chat.selectors.replays import CustomerReplay, customer_replay
from chat.services import conversations, replies


@dataclass(frozen=True)
class Sent:
    """A stored customer message and the client_id it came with."""

    message: Message
    client_id: str

    @property
    def ack(self) -> dict:
        """The `message.ack`, identical for a retried client_id."""
        return events.message_ack(self.message, self.client_id)


async def message_send(*, visitor: Visitor, conversation_id: int | None, fields: dict) -> Sent:
    """Store a message (`client_id`, `body` of the frame or JSON body) once per client_id; the bot may answer it."""
    client_id = frames.client_id(fields)
    body = frames.body(fields, client_id)
    if not await rate_allow(
        key=f"visitor:{visitor.pk}", limit=settings.PARLEY_SEND_RATE_COUNT, window=settings.PARLEY_SEND_RATE_WINDOW
    ):
        raise frames.ProtocolError("rate_limited", "Too many messages; wait a few seconds.", client_id)
    # Returns once the message's events have left for the other tabs and the agents: then the ack.
    result = await effects.call(
        conversations.customer_message_send,
        visitor=visitor,
        client_id=client_id,
        body=body,
        conversation_id=conversation_id,
        lane=conversation_id,
    )
    return Sent(result.message, client_id)


async def reply_stop(*, visitor: Visitor, reply_id: int) -> Message:
    """Stop a bot reply of the visitor's conversation; one that already ended is refused (`not_streaming`)."""
    reply = await db_threads.run(access_reply_for_visitor, visitor=visitor, reply_id=reply_id)
    await replies.reply_stop_now(reply)
    return reply


async def reply_feedback(*, visitor: Visitor, conversation_id: int | None, reply_id: int, fields: dict) -> Message:
    """The customer's 👍 or 👎 (`helpful`) on a finished bot reply of theirs; the last one counts."""
    helpful = frames.boolean(fields, "helpful")
    return await effects.call(
        replies.reply_feedback, visitor_id=visitor.pk, reply_id=reply_id, helpful=helpful, lane=conversation_id
    )


async def handoff_request(*, visitor: Visitor, conversation_id: int | None) -> Conversation:
    """Hand the visitor's conversation to the human queue, starting one if there is none."""
    return await effects.call(conversations.customer_handoff_request, visitor=visitor, lane=conversation_id)


async def mark_read(*, visitor: Visitor, conversation_id: int | None, fields: dict) -> None:
    """The customer has seen everything up to `seq` of the conversation the client is in."""
    seq = frames.integer(fields, "seq")
    if conversation_id is None:
        raise frames.ProtocolError("not_found", "There is no conversation yet.", "read")

    def mark():  # access and the write in one trip to the database thread
        conversation = access_conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
        conversations.conversation_mark_read(conversation=conversation, by="customer", seq=seq)

    await effects.call(mark, lane=conversation_id)


async def resume(*, visitor: Visitor, feed: Feed, cursor: Cursor, conversation_id: int | None) -> CustomerReplay:
    """Every event of the visitor's conversation after `cursor`, with `feed` set to drop the live ones it covers."""
    result = await db_threads.run(customer_replay, visitor=visitor, cursor=cursor, conversation_id=conversation_id)
    return await follow(feed, result)


async def follow(feed: Feed, result: CustomerReplay) -> CustomerReplay:
    """Start `feed` where a replay ended, so the client gets each live event once and replies in flight exactly."""
    if result.replay is not None:
        await feed.start(result.conversation_id, result.cursor, result.replay)
    return result
