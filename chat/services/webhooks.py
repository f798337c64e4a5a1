"""Webhook events: what the services emit when conversations, messages and ratings change, sent after commit.

Each hook first asks whether the site has any endpoint at all (a per-process cache: no query), so a
site without webhooks pays nothing per message. With endpoints, the event's payload is built now
(what changed, as it is in this transaction) and, once the transaction commits, one task fans it out
to the endpoints that asked for its type (chat/tasks/webhooks.py); a rollback sends nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.db import transaction

from chat.models import Conversation, Message, WebhookDelivery
from chat.protocol.events import iso
from chat.selectors.webhooks import site_has_webhooks
from chat.tasks import webhooks as webhook_tasks

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_RESOLVED = "conversation.resolved"
MESSAGE_CREATED = "message.created"
CSAT_SUBMITTED = "csat.submitted"
EVENT_TYPES = (CONVERSATION_CREATED, CONVERSATION_UPDATED, CONVERSATION_RESOLVED, MESSAGE_CREATED, CSAT_SUBMITTED)


def conversation_data(conversation: Conversation, *, labels: list[str] | None = None) -> dict:
    """A conversation as the API and the webhooks show it."""
    visitor = conversation.visitor
    assignee = conversation.assignee
    return {
        "id": conversation.pk,
        "site": conversation.site_id,
        "status": conversation.status,
        "owner": conversation.owner,
        "assignee": None
        if assignee is None
        else {"id": assignee.pk, "name": assignee.get_full_name() or assignee.get_username()},
        "contact": {"id": visitor.pk, "name": visitor.name, "email": visitor.email},
        "labels": labels if labels is not None else sorted(conversation.labels.values_list("name", flat=True)),
        "rating": conversation.rating,
        "rating_comment": conversation.rating_comment,
        "last_seq": conversation.last_seq,
        "unread_by_agent": conversation.unread_by_agent,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "last_message_at": iso(conversation.last_message_at),
        "resolved_at": iso(conversation.resolved_at),
    }


def message_data(message: Message) -> dict:
    """A message as the webhooks show it (the API adds its files)."""
    agent = message.author_agent
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "author": {
            "kind": message.author_kind,
            "agent": None if agent is None else {"id": agent.pk, "name": agent.get_full_name() or agent.get_username()},
        },
        "body": message.body,
        "internal": message.internal,
        "status": message.status,
        "client_id": message.client_id,
        "created_at": iso(message.created_at),
    }


def _emit(*, site_id: int, event_type: str, data: Callable[[], dict]) -> None:
    """Queue the event for the site's endpoints once the transaction commits; nothing at all for a site without."""
    if not site_has_webhooks(site_id):
        return
    event = {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created": int(time.time()),
        "site": site_id,
        "data": data(),
    }
    transaction.on_commit(lambda: webhook_tasks.webhook_fan_out.enqueue(event))


def conversation_created(conversation: Conversation) -> None:
    """A customer started a conversation."""
    # Its first publish (and whatever else this transaction does to it) is part of being created, not an update.
    conversation._webhook_created = True
    _emit(
        site_id=conversation.site_id,
        event_type=CONVERSATION_CREATED,
        data=lambda: {"conversation": conversation_data(conversation, labels=[])},
    )


def conversation_updated(conversation: Conversation) -> None:
    """A conversation's state changed (assignee, owner, status, labels, rating, the customer's details)."""
    if getattr(conversation, "_webhook_created", False):
        return
    _emit(
        site_id=conversation.site_id,
        event_type=CONVERSATION_UPDATED,
        data=lambda: {"conversation": conversation_data(conversation)},
    )


def conversation_resolved(conversation: Conversation) -> None:
    """A conversation was resolved."""
    _emit(
        site_id=conversation.site_id,
        event_type=CONVERSATION_RESOLVED,
        data=lambda: {"conversation": conversation_data(conversation)},
    )


def message_created(message: Message, *, site_id: int) -> None:
    """A message was stored: a customer's, an agent's answer or note, a system line, or a bot reply once complete."""
    _emit(site_id=site_id, event_type=MESSAGE_CREATED, data=lambda: {"message": message_data(message)})


def csat_submitted(conversation: Conversation) -> None:
    """The customer rated a resolved conversation."""
    _emit(
        site_id=conversation.site_id,
        event_type=CSAT_SUBMITTED,
        data=lambda: {
            "conversation": conversation.pk,
            "rating": conversation.rating,
            "comment": conversation.rating_comment,
            "assignee": conversation.assignee_id,
            "rated_at": iso(conversation.rated_at),
        },
    )


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again from its first attempt (same event id: the receiver can tell it saw it)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=None
    )
    delivery_id = delivery.pk
    transaction.on_commit(lambda: webhook_tasks.webhook_deliver.enqueue(delivery_id))
    return delivery
