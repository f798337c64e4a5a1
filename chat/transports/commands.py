"""The customer's commands, one function each, shared by the widget socket and the HTTP endpoints of the SSE transport.

Each takes the visitor and the conversation the client is in (None when it does not know
one) and returns a plain result, or raises what both transports answer with the same code
(docs/protocol.md, section 7): ProtocolError for bad input, RateLimited (a ProtocolError with
`retry_after`) for the limits, NotFound for what is not the visitor's, ConversationError when the
conversation's state does not allow it. The socket turns them into `error` frames
(chat/transports/base.py), HTTP into JSON errors (chat/transports/sse.py).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from django.conf import settings

from chat import metrics
from chat.models import Conversation, Message, Visitor
from chat.protocol import events, frames
from chat.protocol.cursors import Cursor
from chat.realtime import db_threads, effects
from chat.realtime.feeds import Feed
from chat.security.ratelimit import Limit, RateLimited, rate_check, rate_forget, rate_hit
from chat.selectors.access import access_conversation_for_visitor, access_reply_for_visitor
from chat.selectors.replays import CustomerReplay, customer_replay
from chat.services import bot, contacts, conversations, ratings, replies
from chat.services.messages import SendResult

# What agents see as the `reason` of a reply the bot budget did not allow (the customer sees the failure line).
BOT_BUDGET_SPENT = "The site's budget of bot replies (PARLEY_BOT_SITE_RATE) is spent; handed to the team."


@dataclass(frozen=True)
class Sent:
    """A stored customer message and the client_id it came with."""

    message: Message
    client_id: str

    @property
    def ack(self) -> dict:
        """The `message.ack`, identical for a retried client_id."""
        return events.message_ack(self.message, self.client_id)


def send_limits(visitor: Visitor, ip: str) -> list[Limit]:
    """The budgets a customer message spends: its visitor's, its address's and its site's."""
    return [
        Limit(
            "send_visitor", f"visitor:{visitor.pk}", settings.PARLEY_SEND_RATE_COUNT, settings.PARLEY_SEND_RATE_WINDOW
        ),
        Limit.of("send_ip", f"ip:{ip}", settings.PARLEY_SEND_IP_RATE),
        Limit.of("send_site", f"site:{visitor.site_id}", settings.PARLEY_SEND_SITE_RATE),
    ]


async def control_check(visitor: Visitor, ref: str) -> None:
    """Count a request that costs a replay or a write besides messages (PARLEY_CONTROL_RATE, per visitor)."""
    limit = Limit.of("control", f"visitor:{visitor.pk}", settings.PARLEY_CONTROL_RATE)
    await rate_check([limit], detail="Too many requests; wait a moment.", ref=ref)


async def message_send(*, visitor: Visitor, conversation_id: int | None, fields: dict, ip: str) -> Sent:
    """Store a message (`client_id`, `body` of the frame or JSON body) once per client_id; the bot may answer it.

    Refused, and nothing stored, over a send limit. Over the site's bot budget the message is stored
    and acknowledged all the same, but the bot's reply ends at once, before any model is called.
    """
    client_id = frames.client_id(fields)
    attachment_ids = frames.attachment_ids(fields, client_id)
    body = frames.body(fields, client_id, may_be_empty=bool(attachment_ids))
    # A slot of the site's bot budget is held for the reply this message may begin, and given back if none
    # begins. Asked for with the send limits, at once: one round trip to Redis on the way to the ack.
    bot_budget = Limit.of("bot_site", f"site:{visitor.site_id}", settings.PARLEY_BOT_SITE_RATE)
    budget = [bot_budget] if visitor.site.bot_enabled else []
    slot = uuid.uuid4().hex
    refusal, full = await asyncio.gather(
        rate_hit(send_limits(visitor, ip)), rate_hit(budget, member=slot, counted=False)
    )
    held = bool(budget) and full is None
    if refusal is not None:
        if held:
            await rate_forget(budget, slot)
        raise RateLimited(refusal, "Too many messages; wait a few seconds.", client_id)
    began = False
    try:
        # Returns once the message's events have left for the other tabs and the agents: then the ack.
        result, began = await effects.call(
            _store,
            visitor=visitor,
            client_id=client_id,
            body=body,
            conversation_id=conversation_id,
            attachment_ids=attachment_ids,
            decline_reply=bool(budget) and not held,
            lane=conversation_id,
        )
    finally:
        if held and not began:
            await rate_forget(budget, slot)
    if began and not held:
        if budget:  # declined
            metrics.RATE_LIMITED.inc("bot_site")
        else:  # the site's bot is off, but a conversation it owned from before still has it: counted, not refused
            await rate_hit([bot_budget], member=slot, check=False)
    return Sent(result.message, client_id)


def _store(
    *,
    visitor: Visitor,
    client_id: str,
    body: str,
    conversation_id: int | None,
    attachment_ids: list[int],
    decline_reply: bool,
) -> tuple[SendResult, bool]:
    """Store the message, and whether it began a bot reply; one it began is ended at once when `decline_reply`."""
    result = conversations.customer_message_send(
        visitor=visitor,
        client_id=client_id,
        body=body,
        conversation_id=conversation_id,
        attachment_ids=attachment_ids,
    )
    if not result.created:  # a retry: its reply, if any, was counted the first time
        return result, False
    # A reply begins in its trigger's own transaction and takes the seq after it: no query needed to know.
    began = result.message.conversation.last_seq > result.message.seq
    if not (began and decline_reply):
        return result, began
    reply_id = Message.objects.filter(trigger_id=result.message.pk).values_list("pk", flat=True).first()
    if reply_id is not None:
        # As a failed provider call ends: the failure line for the customer, and a handoff to people. The job
        # queued behind it finds the reply ended and generates nothing.
        bot.bot_reply_finish(
            reply_id=reply_id,
            conversation_id=result.message.conversation_id,
            status=Message.Status.FAILED,
            text="",
            index=-1,
            ends=[],
            reason=BOT_BUDGET_SPENT,
            handoff=True,
        )
    return result, reply_id is not None


async def reply_stop(*, visitor: Visitor, reply_id: int) -> Message:
    """Stop a bot reply of the visitor's conversation; one that already ended is refused (`not_streaming`)."""
    await control_check(visitor, "reply.stop")
    reply = await db_threads.run(access_reply_for_visitor, visitor=visitor, reply_id=reply_id)
    await replies.reply_stop_now(reply)
    return reply


async def reply_feedback(*, visitor: Visitor, conversation_id: int | None, reply_id: int, fields: dict) -> Message:
    """The customer's 👍 or 👎 (`helpful`) on a finished bot reply of theirs; the last one counts."""
    helpful = frames.boolean(fields, "helpful")
    await control_check(visitor, "reply.feedback")
    return await effects.call(
        replies.reply_feedback, visitor_id=visitor.pk, reply_id=reply_id, helpful=helpful, lane=conversation_id
    )


async def handoff_request(*, visitor: Visitor, conversation_id: int | None) -> Conversation:
    """Hand the visitor's conversation to the human queue, starting one if there is none."""
    await control_check(visitor, "handoff.request")
    return await effects.call(conversations.customer_handoff_request, visitor=visitor, lane=conversation_id)


async def rating_submit(*, visitor: Visitor, conversation_id: int, fields: dict) -> Conversation:
    """The customer's 1-5 rating (`score`, optional `comment`) of their resolved conversation."""
    score = frames.integer(fields, "score", minimum=1)
    if score > 5:
        raise frames.ProtocolError("bad_request", "`score` must be 1 to 5.", "rating.submit")
    comment = frames.text(fields, "comment", max_length=ratings.RATING_COMMENT_MAX, multiline=True)
    await control_check(visitor, "rating.submit")

    def rate():  # access and the write in one trip to the database thread
        conversation = access_conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
        return ratings.conversation_rate(visitor=visitor, conversation=conversation, score=score, comment=comment)

    return await effects.call(rate, lane=conversation_id)


async def contact_set(*, visitor: Visitor, fields: dict) -> Visitor:
    """Keep the address (`email`, and `name` when given) the customer left for the team."""
    email = frames.email(fields)
    name = frames.text(fields, "name", max_length=120)
    await control_check(visitor, "contact.set")
    return await effects.call(contacts.visitor_contact_set, visitor=visitor, email=email, name=name, lane=None)


async def transcript_email(*, visitor: Visitor, conversation_id: int, fields: dict) -> str:
    """Queue the conversation's transcript to `email` (or the visitor's address); return the address."""
    email = frames.email(fields, optional=True)
    await control_check(visitor, "transcript.email")

    def request():
        conversation = access_conversation_for_visitor(visitor=visitor, conversation_id=conversation_id)
        try:
            return contacts.transcript_request(visitor=visitor, conversation=conversation, email=email)
        except ValueError:
            raise frames.ProtocolError(
                "bad_request", "Give an `email`: no address is known for you yet.", "transcript.email"
            ) from None

    return await effects.call(request, lane=conversation_id)


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
