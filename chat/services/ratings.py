"""The customer's satisfaction rating of a resolved conversation."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, Visitor
from chat.services import webhooks
from chat.services.conversations import publish_conversation
from chat.services.errors import ConversationError
from chat.services.messages import conversation_lock

RATING_COMMENT_MAX = 1000


def conversation_rate(*, visitor: Visitor, conversation: Conversation, score: int, comment: str = "") -> Conversation:
    """Store the customer's 1-5 rating (the last one counts) of their resolved conversation; everyone sees it."""
    if not 1 <= score <= 5:
        raise ValueError("A rating is 1 to 5.")
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if conversation.visitor_id != visitor.pk:
            raise ValueError("Not this visitor's conversation.")  # callers look it up by visitor: a bug if reached
        if conversation.status != Conversation.Status.RESOLVED:
            raise ConversationError("not_resolved", "A conversation is rated once it has ended.")
        conversation.rating = score
        conversation.rating_comment = comment[:RATING_COMMENT_MAX]
        conversation.rated_at = timezone.now()
        # Not `updated_at`: a rating is not activity that should lift the conversation in the desk's list.
        conversation.save(update_fields=["rating", "rating_comment", "rated_at"])
        publish_conversation(conversation)
        webhooks.csat_submitted(conversation)
    return conversation
