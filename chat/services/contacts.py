"""How the team can reach a customer who leaves: their address, and the transcript they ask for."""

from __future__ import annotations

from django.db import transaction

from chat.models import Conversation, Visitor
from chat.selectors.conversations import conversation_current
from chat.services import notifications
from chat.services.conversations import publish_conversation


def visitor_contact_set(*, visitor: Visitor, email: str, name: str = "") -> Visitor:
    """Keep the customer's address (and name, when given); a new address must be confirmed before follow-ups."""
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        fields = []
        if email and email != visitor.email:
            visitor.email, visitor.email_confirmed_at, visitor.email_opt_out = email, None, False
            fields += ["email", "email_confirmed_at", "email_opt_out"]
        if name and name != visitor.name:
            visitor.name = name
            fields.append("name")
        if not fields:
            return visitor
        visitor.save(update_fields=fields)
        if "email" in fields:
            notifications.contact_given(visitor)
        _show_in_desk(visitor)
    return visitor


def visitor_email_confirm(*, claim) -> Visitor | None:
    """Confirm the address an emailed link names (None when the link no longer fits); the desk sees it at once."""
    with transaction.atomic():
        visitor = notifications.email_address_confirm(claim=claim)
        if visitor is not None:
            _show_in_desk(visitor)
    return visitor


def _show_in_desk(visitor: Visitor) -> None:
    """Publish the visitor's latest conversation, so every desk shows what changed about them."""
    conversation = conversation_current(visitor=visitor)
    if conversation is not None:
        conversation.visitor = visitor
        publish_conversation(conversation)


def transcript_request(*, visitor: Visitor, conversation: Conversation, email: str = "") -> str:
    """Queue the conversation's transcript by email, to `email` or the visitor's address; return the address.

    A given address is kept on a visitor who has none. It is sent this transcript without
    confirmation, since the customer asked for it here; anything else waits for confirmation.
    """
    with transaction.atomic():
        # The caller's Visitor may be stale (a socket's, read at hello): the row says which address is known.
        current = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if not email:
            email = current.email
            if not email:
                raise ValueError("No address to send the transcript to.")
        elif not current.email:
            visitor_contact_set(visitor=current, email=email)
        notifications.transcript_requested(conversation=conversation, email=email)
    return email
