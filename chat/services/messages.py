"""Writing messages: the one place that allocates `seq`, and idempotent sends by `client_id`."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chat import metrics
from chat.models import Attachment, Conversation, Message
from chat.protocol import events
from chat.realtime import broadcast, effects
from chat.services import message_sql, webhooks
from chat.services.attachments import attachments_attach, attachments_payloads


@dataclass(frozen=True)
class Author:
    """Who writes a message: a kind, and the agent's user when the kind is agent."""

    kind: str
    agent: AbstractBaseUser | None = None


CUSTOMER = Author(Message.AuthorKind.CUSTOMER)
BOT = Author(Message.AuthorKind.BOT)
SYSTEM = Author(Message.AuthorKind.SYSTEM)


@dataclass(frozen=True)
class SendResult:
    """A stored message and whether this call created it (False for a retried client_id)."""

    message: Message
    created: bool


def conversations_locking():
    """Conversations read with their row locked until the transaction ends (site, visitor and assignee joined)."""
    return Conversation.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "site", "visitor", "assignee"
    )


def conversation_lock(conversation_id: int) -> Conversation:
    """Fetch a conversation row locked until the transaction ends; every seq allocation goes through it."""
    return conversations_locking().get(pk=conversation_id)


def message_insert(
    *,
    conversation: Conversation,
    author: Author,
    body: str,
    internal: bool = False,
    status: str = Message.Status.COMPLETE,
    client_id: str | None = None,
    trigger: Message | None = None,
    lease_until=None,
    attachments: list[Attachment] = (),
    meta: dict | None = None,
) -> Message:
    """Store a message with the next seq of a conversation locked by `conversation_lock`; its events go out on commit.

    Seq comes from the locked row's `last_seq`, so concurrent writers queue on the
    lock and a rolled-back transaction gives its number back: no gap, no duplicate.
    """
    assert transaction.get_connection().in_atomic_block, "message_insert needs conversation_lock's transaction"
    now = timezone.now()
    conversation.last_seq += 1
    prev_public_seq = None
    if not internal:
        prev_public_seq = conversation.last_public_seq
        conversation.last_public_seq = conversation.last_seq
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        author_kind=author.kind,
        author_agent=author.agent,
        client_id=client_id,
        body=body,
        internal=internal,
        status=status,
        trigger=trigger,
        lease_until=lease_until,
        meta=meta or {},
        created_at=now,
        updated_at=now,
    )
    if attachments:
        attachments_attach(attachments, message=message, conversation=conversation)
    if author.kind == Message.AuthorKind.CUSTOMER:
        conversation.unread_by_agent += 1
    elif not internal and author.kind != Message.AuthorKind.SYSTEM:
        conversation.unread_by_customer += 1
    conversation.updated_at = now
    conversation.last_message_at = now
    conversation.save(
        update_fields=[
            "last_seq",
            "last_public_seq",
            "unread_by_agent",
            "unread_by_customer",
            "updated_at",
            "last_message_at",
        ]
    )
    metrics.MESSAGES_STORED.inc()
    effects.deliver(conversation.pk, message_deliveries(conversation, message, prev_public_seq, attachments))
    if status != Message.Status.STREAMING:  # a bot reply is announced when it ends
        webhooks.message_created(message, site_id=conversation.site_id)
    return message


def message_deliveries(
    conversation: Conversation, message: Message, prev_public_seq: int | None, attachments: list[Attachment] = ()
) -> list:
    """The frames a new message sends: to the customer unless internal, to subscribed agents, to the inbox."""
    if message.status == Message.Status.STREAMING:
        customer = None if message.internal else events.reply_start(message, prev_seq=prev_public_seq)
        agents = events.reply_start(message)
    else:
        # Each audience gets its own links to the files: the customer's work for that customer only.
        customer = None
        if not message.internal:
            customer = events.message_new(
                message,
                prev_seq=prev_public_seq,
                attachments=attachments_payloads(attachments, visitor_id=conversation.visitor_id),
            )
        agents = events.message_new(message, attachments=attachments_payloads(attachments, visitor_id=None))
    return broadcast.conversation_deliveries(
        conversation,
        customer=customer,
        agents=agents,
        # A message never changes labels: reading them here would cost every message a query.
        inbox=events.conversation_updated(conversation, for_agents=True, labels=False),
    )


def written_deliver(
    written: message_sql.Written, *, author: Author, client_id: str, body: str, internal: bool = False
) -> Message:
    """Publish what a hot-path statement stored, as `message_insert` would have; return the message."""
    conversation = written.conversation
    seq = conversation.last_seq - (1 if written.reply_id else 0)
    message = Message(
        pk=written.message_id,
        conversation=conversation,
        seq=seq,
        author_kind=author.kind,
        author_agent=author.agent,
        client_id=client_id,
        body=body,
        internal=internal,
        created_at=conversation.last_message_at,
        updated_at=conversation.last_message_at,
    )
    metrics.MESSAGES_STORED.inc()
    prev_public_seq = None if internal else written.prev_public_seq
    effects.deliver(conversation.pk, message_deliveries(conversation, message, prev_public_seq))
    webhooks.message_created(message, site_id=conversation.site_id)
    return message


def message_find_by_client_id(*, conversation: Conversation, client_id: str) -> Message | None:
    """The message an earlier send with this client_id stored, if any."""
    return Message.objects.filter(conversation=conversation, client_id=client_id).first()


def message_send_locked(
    *,
    conversation: Conversation,
    author: Author,
    client_id: str,
    body: str,
    internal: bool = False,
    attachments=None,
) -> SendResult:
    """Store a client's message once per (conversation, client_id), inside `conversation_lock`'s transaction.

    `attachments`, when given, is called for the files to attach, only when the message is new.
    """
    existing = message_find_by_client_id(conversation=conversation, client_id=client_id)
    if existing is not None:
        return SendResult(existing, created=False)
    message = message_insert(
        conversation=conversation,
        author=author,
        body=body,
        internal=internal,
        client_id=client_id,
        attachments=attachments() if attachments is not None else [],
    )
    return SendResult(message, created=True)
