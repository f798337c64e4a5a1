"""The email tasks: a follow-up of unread answers, a transcript, an agent's notice, an address confirmation.

Each reads what it needs afresh when it runs (the conversation may have moved on since it was
queued) and decides then whether to send; a send that fails raises, so `retried` tries it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tasks import task

from chat.models import AgentConnection, AgentProfile, Conversation, Message, Visitor
from chat.tasks import links, mail, texts
from chat.tasks.retry import retried

logger = logging.getLogger(__name__)

# What a customer sees of a conversation: public messages with something to read.
_SHOWN = {"internal": False}


def _public_messages(conversation: Conversation):
    return (
        Message.objects.filter(conversation=conversation, **_SHOWN)
        .exclude(body="")
        .exclude(status=Message.Status.STREAMING)
        .select_related("author_agent")
        .order_by("seq")
    )


@task()
@retried
def email_followup(conversation_id: int) -> dict:
    """Email the customer the agents' answers they have not read (nor been emailed), if their address is confirmed.

    The messages are claimed first (`emailed_seq` moves past them, compared-and-set, so two workers
    never send the same answer), and given back if the send fails, for the retry.
    """
    conversation = Conversation.objects.select_related("site", "visitor").filter(pk=conversation_id).first()
    if conversation is None:
        return {"sent": 0, "why": "gone"}
    visitor = conversation.visitor
    if not visitor.email_confirmed or visitor.email_opt_out:
        return {"sent": 0, "why": "no confirmed address"}
    after = max(conversation.emailed_seq, conversation.customer_read_seq)
    unread = list(
        _public_messages(conversation).filter(
            seq__gt=after, author_kind=Message.AuthorKind.AGENT, status=Message.Status.COMPLETE
        )
    )
    if not unread:
        return {"sent": 0, "why": "read or already emailed"}
    claimed = unread[-1].seq
    if not Conversation.objects.filter(pk=conversation.pk, emailed_seq=conversation.emailed_seq).update(
        emailed_seq=claimed
    ):
        return {"sent": 0, "why": "another worker emails them"}
    language = texts.language_of(conversation.site.language)
    try:
        mail.send(
            kind="followup",
            to=visitor.email,
            language=language,
            unsubscribe_url=links.unsubscribe_url(visitor_id=visitor.pk, email=visitor.email),
            values={"site": conversation.site.name},
            context={
                "site": conversation.site,
                "messages": mail.message_rows(unread, language),
                "open_url": links.open_url(
                    visitor_id=visitor.pk, conversation_id=conversation.pk, version=visitor.token_version
                ),
            },
        )
    except BaseException:
        # Not sent: give the claim back (unless another follow-up has claimed more since), so the retry sends them.
        Conversation.objects.filter(pk=conversation.pk, emailed_seq=claimed).update(
            emailed_seq=conversation.emailed_seq
        )
        raise
    return {"sent": len(unread), "through_seq": claimed}


@task()
@retried
def email_transcript(conversation_id: int, email: str) -> dict:
    """Email the conversation's public messages (never notes) to the address the customer asked for."""
    conversation = Conversation.objects.select_related("site", "visitor").filter(pk=conversation_id).first()
    if conversation is None:
        return {"sent": 0, "why": "gone"}
    language = texts.language_of(conversation.site.language)
    messages = list(_public_messages(conversation))
    mail.send(
        kind="transcript",
        to=email,
        language=language,
        unsubscribe_url=links.unsubscribe_url(visitor_id=conversation.visitor_id, email=email),
        values={"site": conversation.site.name},
        context={
            "site": conversation.site,
            "conversation": conversation,
            "messages": mail.message_rows(messages, language),
        },
    )
    return {"sent": len(messages)}


def _dashboard_open(user_id: int) -> bool:
    """Whether a desk of the user's pinged within PARLEY_PRESENCE_TTL (how presence is known: AgentConnection)."""
    cutoff = timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL)
    return AgentConnection.objects.filter(user_id=user_id, last_seen__gte=cutoff).exists()


@task()
@retried
def email_assigned(conversation_id: int, user_id: int) -> dict:
    """Tell an agent by email about a conversation assigned to them, if it still is and no desk of theirs is open."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return {"sent": 0, "why": "no address"}
    # The setting lives on the agent profile: staff without one (supervisors) are not emailed.
    if not AgentProfile.objects.filter(user=user, email_when_offline=True).exists():
        return {"sent": 0, "why": "turned off"}
    conversation = Conversation.objects.select_related("site", "visitor").filter(pk=conversation_id).first()
    if conversation is None or conversation.assignee_id != user.pk or conversation.status != Conversation.Status.OPEN:
        return {"sent": 0, "why": "no longer theirs"}
    if _dashboard_open(user.pk):
        return {"sent": 0, "why": "online"}
    language = texts.language_of(conversation.site.language)
    visitor = conversation.visitor
    last = _public_messages(conversation).filter(author_kind=Message.AuthorKind.CUSTOMER).order_by("-seq").first()
    mail.send(
        kind="assigned",
        to=user.email,
        language=language,
        unsubscribe_url=links.unsubscribe_url(user_id=user.pk),
        values={
            "site": conversation.site.name,
            "id": conversation.pk,
            "visitor": visitor.name or visitor.email or texts.text(language, "visitor.someone"),
        },
        context={
            "site": conversation.site,
            "conversation": conversation,
            "agent_name": user.first_name or user.get_username(),
            "last": mail.message_rows([last], language) if last is not None else [],
            "desk_url": links.desk_url(conversation.pk),
        },
    )
    return {"sent": 1}


@task()
@retried
def email_confirmation(visitor_id: int, email: str) -> dict:
    """Ask the customer to confirm the address they gave, if it is still theirs and not confirmed yet."""
    visitor = Visitor.objects.select_related("site").filter(pk=visitor_id).first()
    if visitor is None or visitor.email != email:
        return {"sent": 0, "why": "address changed"}
    if visitor.email_confirmed:
        return {"sent": 0, "why": "already confirmed"}
    language = texts.language_of(visitor.site.language)
    mail.send(
        kind="confirm",
        to=email,
        language=language,
        unsubscribe_url=links.unsubscribe_url(visitor_id=visitor.pk, email=email),
        values={"site": visitor.site.name, "email": email},
        context={"site": visitor.site, "confirm_url": links.confirm_url(visitor_id=visitor.pk, email=email)},
    )
    return {"sent": 1}
