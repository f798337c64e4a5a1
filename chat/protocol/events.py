"""Builders for the server-to-client frames of docs/protocol.md; one function per frame type."""

from __future__ import annotations

from datetime import datetime

from chat.models import Conversation, Message, Visitor

# The bot's name in frames: the widget and the desk call it the same (the widget in its own language).
BOT_NAME = "AI assistant"
# What a system line's notice may name: the agent who joined, the address the team will write to.
NOTICE_PARAMS = ("name", "email")
# A reply stopped because a person took the conversation over (Message.error_reason), not by the customer.
TAKEN_OVER = "taken_over"


def iso(moment: datetime | None) -> str | None:
    """Format a time as ISO 8601 UTC, as every frame does."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def author_of(message: Message) -> dict:
    """The author block of a message: kind and a display name."""
    if message.author_kind == Message.AuthorKind.AGENT and message.author_agent_id:
        agent = message.author_agent
        name = agent.first_name or agent.get_username()
        return {"kind": "agent", "name": name, "id": agent.pk}
    names = {"customer": "", "bot": BOT_NAME, "system": ""}
    return {"kind": message.author_kind, "name": names.get(message.author_kind, "")}


def message_payload(message: Message) -> dict:
    """The `message` object of `message.new`."""
    payload = {
        "id": message.pk,
        "seq": message.seq,
        "author": author_of(message),
        "body": message.body,
        "created_at": iso(message.created_at),
        "status": message.status,
    }
    if message.internal:
        payload["internal"] = True
    if message.author_kind == Message.AuthorKind.BOT:
        payload.update(_bot_fields(message))
    elif message.author_kind == Message.AuthorKind.SYSTEM and message.meta.get("notice"):
        # What happened, for a client to say in its own language (the body is in the site's).
        payload["notice"] = {
            "kind": message.meta["notice"],
            **{k: v for k, v in message.meta.items() if k in NOTICE_PARAMS},
        }
    return payload


def _feedback(message: Message) -> bool | None:
    return None if message.feedback is None else message.feedback > 0


def _bot_fields(message: Message) -> dict:
    """What a bot reply did, its sources and quick replies, the customer's verdict, and who stopped it."""
    fields = {"outcome": message.outcome, "meta": message.meta or {}, "feedback": _feedback(message)}
    if message.status == Message.Status.STOPPED and message.error_reason == TAKEN_OVER:
        fields["stopped_by"] = "agent"
    return fields


def visitor_payload(visitor: Visitor) -> dict:
    """What a visitor may know about itself, and what agents see in the list."""
    return {
        "id": visitor.pk,
        "name": visitor.name,
        "email": visitor.email,
        "verified": visitor.verified,
        "email_confirmed": visitor.email_confirmed,
    }


def _rating(conversation: Conversation) -> dict | None:
    """The customer's satisfaction rating of the conversation, or None before one."""
    if conversation.rating is None:
        return None
    return {
        "score": conversation.rating,
        "comment": conversation.rating_comment,
        "rated_at": iso(conversation.rated_at),
    }


def _label_names(conversation: Conversation) -> list[str]:
    """The conversation's labels, sorted; from a prefetch when the caller made one (the desk's list does)."""
    cached = getattr(conversation, "_prefetched_objects_cache", {}).get("labels")
    if cached is not None:
        return sorted(label.name for label in cached)
    if conversation.pk is None:
        return []
    return list(conversation.labels.order_by("name").values_list("name", flat=True))


def conversation_payload(conversation: Conversation) -> dict:
    """The `conversation` object of `conversation.updated` and `welcome`."""
    assignee = conversation.assignee
    return {
        "id": conversation.pk,
        "site": conversation.site_id,
        "status": conversation.status,
        "owner": conversation.owner,
        "assignee": {"id": assignee.pk, "name": assignee.first_name or assignee.get_username()} if assignee else None,
        "last_seq": conversation.last_public_seq,
        "customer_read_seq": conversation.customer_read_seq,
        "agent_read_seq": conversation.agent_read_seq,
        "updated_at": iso(conversation.updated_at),
        "rating": _rating(conversation),
    }


def conversation_agent_payload(conversation: Conversation, *, labels: bool = True) -> dict:
    """The conversation as agents see it: every seq, counters, the visitor and (unless not `labels`) its labels."""
    payload = conversation_payload(conversation)
    payload.update(
        last_seq=conversation.last_seq,
        unread=conversation.unread_by_agent,
        queued_at=iso(conversation.queued_at),
        last_message_at=iso(conversation.last_message_at),
        visitor=visitor_payload(conversation.visitor),
    )
    if labels:
        payload["labels"] = _label_names(conversation)
    return payload


def message_new(message: Message, *, prev_seq: int | None = None, attachments: list[dict] | None = None) -> dict:
    """A persisted message; `prev_seq` (customers only) is the previous seq they can see, for gap detection.

    `attachments` are the message's files as this audience sees them, links included (chat/security/file_links.py).
    """
    event = {"type": "message.new", "conversation": message.conversation_id, "message": message_payload(message)}
    if attachments:
        event["message"]["attachments"] = attachments
    if prev_seq is not None:
        event["prev_seq"] = prev_seq
    return event


def message_ack(message: Message, client_id: str) -> dict:
    """The sender's acknowledgement; identical for a retried client_id."""
    return {
        "type": "message.ack",
        "client_id": client_id,
        "id": message.pk,
        "seq": message.seq,
        "conversation": message.conversation_id,
    }


def reply_start(message: Message, *, prev_seq: int | None = None) -> dict:
    """A bot reply began streaming; it owns `seq` already."""
    event = {
        "type": "reply.start",
        "conversation": message.conversation_id,
        "reply_id": message.pk,
        "seq": message.seq,
        "author": author_of(message),
        "created_at": iso(message.created_at),
    }
    if prev_seq is not None:
        event["prev_seq"] = prev_seq
    return event


def reply_delta(*, reply_id: int, conversation_id: int, seq: int, index: int, text: str) -> dict:
    """A slice of a streaming reply; `index` counts 0, 1, 2, ... per reply."""
    return {
        "type": "reply.delta",
        "conversation": conversation_id,
        "reply_id": reply_id,
        "seq": seq,
        "index": index,
        "text": text,
    }


def reply_snapshot(*, reply_id: int, conversation_id: int, seq: int, index: int, text: str, ends: list[int]) -> dict:
    """All text of a streaming reply up to `index`, for a client that joins mid-stream.

    `ends[i]` is the text length after delta i, so a client holding deltas up to some
    index can take just the rest (`text[ends[i]:]`).
    """
    return {
        "type": "reply.snapshot",
        "conversation": conversation_id,
        "reply_id": reply_id,
        "seq": seq,
        "index": index,
        "text": text,
        "ends": ends,
    }


def reply_end(message: Message, *, for_agents: bool = False) -> dict:
    """A reply finished: complete, stopped, interrupted or failed, with its final body."""
    event = {
        "type": "reply.end",
        "conversation": message.conversation_id,
        "reply_id": message.pk,
        "seq": message.seq,
        "status": message.status,
        "body": message.body,
        "index": message.stream_index,
    }
    if for_agents and message.error_reason and message.status in (Message.Status.FAILED, Message.Status.INTERRUPTED):
        event["reason"] = message.error_reason
    event.update(_bot_fields(message))
    return event


def reply_feedback(message: Message) -> dict:
    """The customer rated a bot answer: helpful or not."""
    return {
        "type": "reply.feedback",
        "conversation": message.conversation_id,
        "reply_id": message.pk,
        "helpful": _feedback(message),
    }


def conversation_updated(conversation: Conversation, *, for_agents: bool = False, labels: bool = True) -> dict:
    """A conversation's status, owner or assignee changed; `labels=False` leaves out what a new message cannot change."""
    payload = (
        conversation_agent_payload(conversation, labels=labels) if for_agents else conversation_payload(conversation)
    )
    return {"type": "conversation.updated", "conversation": payload}


def contact_saved(visitor: Visitor) -> dict:
    """The customer's address (and name) are kept: the answer to `contact.set`."""
    return {"type": "contact.saved", "visitor": visitor_payload(visitor)}


def transcript_queued(*, conversation_id: int, email: str) -> dict:
    """The transcript will be emailed: the answer to `transcript.email`."""
    return {"type": "transcript.queued", "conversation": conversation_id, "email": email}


def typing(*, conversation_id: int, author: dict, active: bool) -> dict:
    """Someone is typing (or stopped)."""
    return {"type": "typing", "conversation": conversation_id, "author": author, "active": active}


def read(*, conversation_id: int, by: str, seq: int) -> dict:
    """A read receipt: `by` customer or agent has seen everything up to `seq`."""
    return {"type": "read", "conversation": conversation_id, "by": by, "seq": seq}


def presence(*, agent_id: int, name: str, status: str) -> dict:
    """An agent's effective presence: online, away or offline."""
    return {"type": "presence", "agent": {"id": agent_id, "name": name}, "status": status}


def queue(*, site_id: int, count: int) -> dict:
    """How many conversations of a site wait for a human."""
    return {"type": "queue", "site": site_id, "count": count}


def error(code: str, detail: str, ref: str | None = None) -> dict:
    """A refused frame; the socket stays open."""
    event = {"type": "error", "code": code, "detail": detail}
    if ref is not None:
        event["ref"] = ref
    return event
