"""What other people should hear about by email: each hook queues a background task after the commit.

The services that change conversations call these inside their transactions; nothing here sends
anything on the caller's path (a task row is written once the transaction commits, and a worker
sends it: chat/tasks/). Also the changes the links in those emails make: confirm, unsubscribe.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from chat.models import AgentProfile, Conversation, Message, Visitor
from chat.tasks import emails
from chat.tasks.links import AddressClaim, AgentClaim


def contact_given(visitor: Visitor) -> None:
    """A customer gave (or changed) an email address: ask them to confirm it."""
    if not visitor.email or visitor.email_confirmed:
        return  # an address confirmed already (and unchanged) gets nothing
    visitor_id, email = visitor.pk, visitor.email
    transaction.on_commit(lambda: emails.email_confirmation.enqueue(visitor_id, email))


def transcript_requested(*, conversation: Conversation, email: str) -> None:
    """The customer asked for this conversation by email."""
    conversation_id = conversation.pk
    transaction.on_commit(lambda: emails.email_transcript.enqueue(conversation_id, email))


def agent_message_sent(message: Message) -> None:
    """An agent answered: email it later if the customer has not read it by then."""
    if message.internal or message.author_kind != Message.AuthorKind.AGENT:
        return  # notes are never emailed
    # The writer read the visitor with the conversation (the hot path's one statement too): no query here.
    # Most customers leave no confirmed address, and so cost no task row per answer.
    visitor = message.conversation.visitor
    if not visitor.email_confirmed or visitor.email_opt_out:
        return
    conversation_id = message.conversation_id

    def enqueue() -> None:
        run_after = timezone.now() + timedelta(seconds=settings.PARLEY_EMAIL_FOLLOWUP_DELAY)
        emails.email_followup.using(run_after=run_after).enqueue(conversation_id)

    transaction.on_commit(enqueue)


def conversation_assigned(*, conversation: Conversation, assignee: AbstractBaseUser) -> None:
    """A conversation was assigned: tell the agent by email if no dashboard of theirs is open."""
    if not getattr(assignee, "email", ""):
        return
    conversation_id, user_id = conversation.pk, assignee.pk
    # Whether a dashboard is open is read when the task runs, off the assigning socket's path.
    transaction.on_commit(lambda: emails.email_assigned.enqueue(conversation_id, user_id))


def email_address_confirm(*, claim: AddressClaim) -> Visitor | None:
    """The confirmation link was opened: confirm the address if it is still the visitor's; None if not."""
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=claim.visitor_id).first()
        if visitor is None or not visitor.email or visitor.email.lower() != claim.email.lower():
            return None
        if visitor.email_confirmed_at is None or visitor.email_opt_out:
            # Confirming is asking for emails: it undoes an earlier unsubscribe of this address.
            visitor.email_confirmed_at = visitor.email_confirmed_at or timezone.now()
            visitor.email_opt_out = False
            visitor.save(update_fields=["email_confirmed_at", "email_opt_out"])
    return Visitor.objects.select_related("site").get(pk=visitor.pk)


def email_unsubscribe(*, claim: AddressClaim | AgentClaim) -> bool:
    """An unsubscribe link was used: no more follow-ups to that address, or no more offline notices to that agent.

    False when there is nobody to unsubscribe (gone since); an address that is no longer the
    visitor's is sent nothing by us anyway.
    """
    if isinstance(claim, AgentClaim):
        AgentProfile.objects.filter(user_id=claim.user_id).update(email_when_offline=False)
        return get_user_model().objects.filter(pk=claim.user_id).exists()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=claim.visitor_id).first()
        if visitor is None:
            return False
        if visitor.email.lower() == claim.email.lower() and not visitor.email_opt_out:
            visitor.email_opt_out = True
            visitor.save(update_fields=["email_opt_out"])
    return True
