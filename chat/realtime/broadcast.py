"""Sending events to groups through the channel layer, and addressing a conversation's events."""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer

from chat import metrics
from chat.models import Conversation
from chat.realtime import groups

logger = logging.getLogger(__name__)

# The handler name consumers implement: `parley_event`.
EVENT_MESSAGE_TYPE = "parley.event"


def layer_message(event: dict) -> dict:
    """The layer message that carries one protocol event; consumers take it in `parley_event`."""
    return {"type": EVENT_MESSAGE_TYPE, "event": event}


def event_in(message: dict) -> dict | None:
    """The protocol event a layer message carries, or None for any other message."""
    return message.get("event") if message.get("type") == EVENT_MESSAGE_TYPE else None


async def group_send_safely(group: str, message: dict) -> bool:
    """Send one layer message to a group; a full or unreachable layer is logged and counted, not raised."""
    try:
        await get_channel_layer().group_send(group, message)
        return True
    except Exception:
        # The database already holds the truth; a lost event shows up as a gap the client repairs.
        logger.warning("group_send to %s failed", group, exc_info=True)
        metrics.LAYER_SEND_FAILURES.inc()
        return False


async def send_to_groups(deliveries: list[tuple[str, dict]]) -> None:
    """Send each (group, event) as a `parley.event`."""
    for group, event in deliveries:
        await group_send_safely(group, layer_message(event))


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
