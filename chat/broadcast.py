"""Fan events out through the channel layer, only after the transaction that caused them commits."""

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chat import groups
from chat.models import Conversation

logger = logging.getLogger(__name__)

# The handler name consumers implement: `parley_event`.
EVENT_MESSAGE_TYPE = "parley.event"


async def send_to_groups(deliveries: list[tuple[str, dict]]) -> None:
    """Send each (group, event); a full or unreachable layer is logged, since clients repair gaps by resuming."""
    layer = get_channel_layer()
    for group, event in deliveries:
        try:
            await layer.group_send(group, {"type": EVENT_MESSAGE_TYPE, "event": event})
        except Exception:
            # The database already holds the truth; a lost event shows up as a seq gap on the client.
            logger.warning("group_send to %s failed", group, exc_info=True)
            from chat import metrics

            metrics.LAYER_SEND_FAILURES.inc()


def publish(deliveries: list[tuple[str, dict]]) -> None:
    """Queue the deliveries to go out once the current transaction commits (at once outside one)."""
    if deliveries:
        transaction.on_commit(partial(async_to_sync(send_to_groups), deliveries))


def conversation_deliveries(
    conversation: Conversation, *, customer: dict | None = None, agents: dict | None = None, inbox: dict | None = None
) -> list[tuple[str, dict]]:
    """Address one change of a conversation to its customer tabs, its subscribed agents and its site's inbox."""
    deliveries = []
    if customer is not None:
        deliveries.append((groups.visitor_group(conversation.visitor_id), customer))
    if agents is not None:
        deliveries.append((groups.conversation_group(conversation.pk), agents))
    if inbox is not None:
        deliveries.append((groups.site_group(conversation.site_id), inbox))
    return deliveries
