"""Conversation lifecycle: starting, sending, handing off, assigning, resolving and read receipts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chat.models import Conversation, Message, Visitor
from chat.protocol import events
from chat.realtime import broadcast, effects, groups
from chat.selectors import agents
from chat.selectors.conversations import latest_conversation
from chat.services import message_sql, notifications, replies, webhooks
from chat.services.attachments import attachments_claim
from chat.services.errors import ConversationError
from chat.services.messages import (
    CUSTOMER,
    SYSTEM,
    Author,
    SendResult,
    conversation_lock,
    conversations_locking,
    message_find_by_client_id,
    message_insert,
    message_send_locked,
    written_deliver,
)


def _first_owner(site) -> str:
    """Who answers a new conversation: the bot when the site runs one, else the human queue."""
    return Conversation.Owner.BOT if site.bot_enabled else Conversation.Owner.QUEUE


def bot_answers(conversation: Conversation) -> bool:
    """Whether the bot answers the customer's next message: it owns the conversation, or helps while people are
    on their way (no person has answered yet, and the site lets it, or it asked the customer for an address)."""
    if conversation.owner == Conversation.Owner.BOT:
        return True
    site = conversation.site
    return (
        conversation.owner == Conversation.Owner.QUEUE
        and conversation.first_human_reply_at is None
        and site.bot_enabled
        and (site.bot_answers_in_queue or bool(conversation.bot_expects))
    )


def _save(conversation: Conversation, *fields: str) -> None:
    """Save the named fields and stamp updated_at."""
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=[*fields, "updated_at"])


def publish_conversation(conversation: Conversation, *, customer: bool = True) -> None:
    """Tell the customer (unless not `customer`) and the site's inbox that the conversation changed; refresh the queue count."""
    deliveries = broadcast.conversation_deliveries(
        conversation,
        customer=events.conversation_updated(conversation) if customer else None,
        inbox=events.conversation_updated(conversation, for_agents=True),
    )
    count = Conversation.objects.filter(
        site_id=conversation.site_id, status=Conversation.Status.OPEN, owner=Conversation.Owner.QUEUE
    ).count()
    deliveries.append(
        (groups.site_group(conversation.site_id), events.queue(site_id=conversation.site_id, count=count))
    )
    effects.deliver(conversation.pk, deliveries)
    webhooks.conversation_updated(conversation)


def _visitor_lock(visitor_id: int) -> Visitor:
    """Lock a visitor row: its sends queue here, so two tabs never start two conversations at once."""
    return Visitor.objects.select_for_update(no_key=True, of=("self",)).select_related("site").get(pk=visitor_id)


def _conversation_for_customer_message(visitor: Visitor) -> Conversation:
    """The conversation a customer's new message goes to, locked: the current one, reopened, or a new one.

    A resolved conversation reopens when the customer writes within PARLEY_REOPEN_WINDOW
    (a follow-up to the same problem, back with the same agent); after that a new one starts.
    """
    # Locking the latest conversation in the same query is safe: new ones start only under the visitor lock.
    conversation = latest_conversation(conversations_locking(), visitor)
    now = timezone.now()
    if conversation is not None:
        if conversation.status == Conversation.Status.OPEN:
            return conversation
        window = timedelta(seconds=settings.PARLEY_REOPEN_WINDOW)
        if conversation.resolved_at and now - conversation.resolved_at <= window:
            _reopen(conversation)
            return conversation
    owner = _first_owner(visitor.site)
    created = Conversation.objects.create(
        site=visitor.site,
        visitor=visitor,
        owner=owner,
        created_at=now,
        updated_at=now,
        queued_at=now if owner == Conversation.Owner.QUEUE else None,
    )
    conversation = conversation_lock(created.pk)
    webhooks.conversation_created(conversation)
    publish_conversation(conversation)
    if owner == Conversation.Owner.QUEUE:
        effects.fill([conversation.site_id])
    return conversation


def _reopen(conversation: Conversation) -> None:
    """Open a resolved conversation again: back to its agent if it had one, else to the bot or the queue."""
    conversation.status = Conversation.Status.OPEN
    conversation.resolved_at = None
    if conversation.assignee_id:
        conversation.owner = Conversation.Owner.AGENT
    else:
        conversation.owner = _first_owner(conversation.site)
        conversation.queued_at = timezone.now() if conversation.owner == Conversation.Owner.QUEUE else None
    _save(conversation, "status", "resolved_at", "owner", "queued_at")
    publish_conversation(conversation)
    if conversation.owner == Conversation.Owner.QUEUE:
        effects.fill([conversation.site_id])


def customer_message_send(
    *, visitor: Visitor, client_id: str, body: str, conversation_id: int | None = None, attachment_ids: list[int] = ()
) -> SendResult:
    """Store a customer's message (once per client_id) and start the bot's reply when the bot owns the thread.

    `conversation_id` is the one the client is in, when it knows: an open one takes one statement
    (unless the message carries uploaded files, `attachment_ids`, which must be the visitor's own).
    """
    if conversation_id is not None and not attachment_ids and message_sql.available():
        written = message_sql.customer_message(
            visitor_id=visitor.pk,
            conversation_id=conversation_id,
            client_id=client_id,
            body=body,
            now=timezone.now(),
            lease_until=replies.lease(),
        )
        if written is not None:
            message = written_deliver(written, author=CUSTOMER, client_id=client_id, body=body)
            if written.reply_id:
                replies.reply_begun(written, trigger=message)
            return SendResult(message, created=True)
    with transaction.atomic():
        locked_visitor = _visitor_lock(visitor.pk)
        # Under the visitor lock, so a retry racing its original finds it (in whichever conversation).
        earlier = Message.objects.filter(conversation__visitor=visitor, client_id=client_id).first()
        if earlier is not None:
            return SendResult(earlier, created=False)
        files = attachments_claim(attachment_ids, visitor=visitor)
        conversation = _conversation_for_customer_message(locked_visitor)
        message = message_insert(
            conversation=conversation,
            author=Author(Message.AuthorKind.CUSTOMER),
            body=body,
            client_id=client_id,
            attachments=files,
        )
        if bot_answers(conversation):
            replies.reply_begin(conversation=conversation, trigger=message)
    return SendResult(message, created=True)


def agent_message_send_fast(
    *, agent: AbstractBaseUser, site_ids: list[int], conversation_id: int, client_id: str, body: str, internal: bool
) -> SendResult | None:
    """A note, or an answer where a human owns the conversation, in one statement; None where `agent_message_send` must.

    `site_ids` are the sites the agent serves, as the caller checked them: the statement only
    writes to a conversation of one of them.
    """
    if not message_sql.available():
        return None
    written = message_sql.agent_message(
        agent_id=agent.pk,
        site_ids=site_ids,
        conversation_id=conversation_id,
        client_id=client_id,
        body=body,
        internal=internal,
        now=timezone.now(),
    )
    if written is None:
        return None
    message = written_deliver(
        written, author=Author(Message.AuthorKind.AGENT, agent), client_id=client_id, body=body, internal=internal
    )
    if not internal:
        notifications.agent_message_sent(message)
    return SendResult(message, created=True)


def agent_message_send(
    *,
    agent: AbstractBaseUser,
    conversation: Conversation,
    client_id: str,
    body: str,
    internal: bool,
    attachment_ids: list[int] = (),
) -> SendResult:
    """Store an agent's message or private note (with files the agent uploaded for this conversation).

    A public answer takes the conversation over from bot or queue.
    """
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if (
            not internal
            and conversation.owner != Conversation.Owner.AGENT
            and message_find_by_client_id(conversation=conversation, client_id=client_id) is None
        ):
            _take_over(conversation, agent)  # first, so the customer reads who joined before what they wrote
        result = message_send_locked(
            conversation=conversation,
            author=Author(Message.AuthorKind.AGENT, agent),
            client_id=client_id,
            body=body,
            internal=internal,
            attachments=lambda: attachments_claim(attachment_ids, agent=agent, conversation_id=conversation.pk),
        )
        if result.created and not internal:
            if conversation.first_human_reply_at is None:
                conversation.first_human_reply_at = result.message.created_at
                _save(conversation, "first_human_reply_at")
            notifications.agent_message_sent(result.message)
    return result


def _take_over(conversation: Conversation, agent: AbstractBaseUser) -> None:
    """Make a human the owner: the bot's reply in flight stops, the bot stays silent, the customer is told who came."""
    replies.reply_stop_active(conversation=conversation, taken_over=True)
    conversation.owner = Conversation.Owner.AGENT
    if conversation.assignee_id is None:
        conversation.assignee = agent
    _save(conversation, "owner", "assignee")
    _notice(conversation, "agent_joined", name=agent.first_name or agent.get_username())
    publish_conversation(conversation)


# What the customer is told when the conversation changes hands; the widget says it in its own language from
# `notice`, the desk, transcripts and emails show the body, written in the site's language.
NOTICES = {
    "agent_joined": gettext_noop("%(name)s joined the conversation"),
    "bot_back": gettext_noop("You're back with the assistant"),
    "handoff": gettext_noop("Connecting you with a member of our team. They'll reply here."),
    "handoff_away": gettext_noop("Our team is away right now; we'll reply to %(email)s as soon as we're back."),
    "handoff_away_ask": gettext_noop(
        "Our team is away right now. Leave your email address here and we'll get back to you."
    ),
}


def _notice(conversation: Conversation, notice: str, **params: str) -> None:
    """A system line in a conversation the caller holds locked."""
    with translation.override(conversation.site.language or settings.LANGUAGE_CODE):
        body = _(NOTICES[notice]) % params
    message_insert(conversation=conversation, author=SYSTEM, body=body, meta={"notice": notice, **params})


def conversation_handoff(
    *, conversation: Conversation, reason: str = "", announce: bool = True, stop_reply: bool = True
) -> Conversation:
    """Hand the conversation from the bot to the human queue, with a system line the customer sees.

    When nobody can answer now (closed, or no agent online), the line says so and, unless the visitor
    left an address already, asks for one: the bot reads the customer's next message for it.
    `announce=False` is for the bot's own handoff, whose reply has said it all.
    """
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if conversation.owner != Conversation.Owner.BOT and conversation.status == Conversation.Status.OPEN:
            return conversation  # already with humans: asking twice changes nothing
        if stop_reply:
            replies.reply_stop_active(conversation=conversation)
        now = timezone.now()
        conversation.status = Conversation.Status.OPEN
        conversation.owner = Conversation.Owner.QUEUE
        conversation.queued_at = now
        conversation.handed_off_at = conversation.handed_off_at or now
        conversation.bot_misses = 0
        _save(conversation, "status", "owner", "queued_at", "handed_off_at", "bot_misses")
        if announce and reason:
            message_insert(conversation=conversation, author=SYSTEM, body=reason)
        elif announce:
            _handoff_notice(conversation)
        publish_conversation(conversation)
        effects.fill([conversation.site_id])
    return conversation


def _handoff_notice(conversation: Conversation) -> None:
    """The line of a handoff the customer asked for; away, it asks for an email address (and the bot waits)."""
    if agents.site_team_available(conversation.site):
        _notice(conversation, "handoff")
    elif conversation.visitor.email:
        _notice(conversation, "handoff_away", email=conversation.visitor.email)
    else:
        conversation.bot_expects = "email"
        _save(conversation, "bot_expects")
        _notice(conversation, "handoff_away_ask")


def conversation_assign(*, conversation: Conversation, assignee: AbstractBaseUser | None) -> Conversation:
    """Give the conversation to an agent (a human owns it), or back to the queue with None."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        conversation_assign_locked(conversation=conversation, assignee=assignee)
    return conversation


def conversation_assign_locked(
    *, conversation: Conversation, assignee: AbstractBaseUser | None, queued_at: datetime | None = None
) -> Conversation:
    """Assign a conversation the caller holds locked; None queues it (waiting since `queued_at`, default now)."""
    previous = conversation.assignee
    if assignee is None:
        conversation.assignee = None
        conversation.owner = Conversation.Owner.QUEUE
        conversation.queued_at = queued_at or timezone.now()
    else:
        replies.reply_stop_active(conversation=conversation, taken_over=True)
        conversation.assignee = assignee
        conversation.owner = Conversation.Owner.AGENT
    _save(conversation, "assignee", "owner", "queued_at")
    if assignee is not None and (previous is None or previous.pk != assignee.pk):
        _notice(conversation, "agent_joined", name=assignee.first_name or assignee.get_username())
    publish_conversation(conversation)
    if assignee is None:
        effects.fill([conversation.site_id])
    elif previous is None or previous.pk != assignee.pk:
        notifications.conversation_assigned(conversation=conversation, assignee=assignee)
    _freed(previous, conversation)
    return conversation


def _freed(previous: AbstractBaseUser | None, conversation: Conversation) -> None:
    """The previous assignee no longer answers this conversation: they may have room for a queued one."""
    if previous is not None and not (
        conversation.assignee_id == previous.pk
        and conversation.owner == Conversation.Owner.AGENT
        and conversation.status == Conversation.Status.OPEN
    ):
        effects.fill(agents.agent_auto_site_ids(previous))


def conversation_bot_pause(*, conversation: Conversation, agent: AbstractBaseUser) -> Conversation:
    """An agent takes over from the bot."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if conversation.owner != Conversation.Owner.AGENT:
            _take_over(conversation, agent)
    return conversation


def conversation_bot_resume(*, conversation: Conversation) -> Conversation:
    """Hand the conversation back to the bot; it answers the customer's next message."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if not conversation.site.bot_enabled:
            raise ConversationError("bot_disabled", "This site has no bot to hand back to.")
        if conversation.owner == Conversation.Owner.BOT:
            return conversation  # already with the bot: nothing to announce
        previous = conversation.assignee
        conversation.owner = Conversation.Owner.BOT
        conversation.assignee = None
        conversation.queued_at = None
        _save(conversation, "owner", "assignee", "queued_at")
        _notice(conversation, "bot_back")
        publish_conversation(conversation)
        _freed(previous, conversation)
    return conversation


def conversation_resolve(*, conversation: Conversation) -> Conversation:
    """Close the conversation; any bot reply in flight stops."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if conversation.status == Conversation.Status.RESOLVED:
            return conversation
        replies.reply_stop_active(conversation=conversation)
        conversation.status = Conversation.Status.RESOLVED
        conversation.resolved_at = timezone.now()
        _save(conversation, "status", "resolved_at")
        publish_conversation(conversation)
        webhooks.conversation_resolved(conversation)
        _freed(conversation.assignee, conversation)
    return conversation


def conversation_reopen(*, conversation: Conversation) -> Conversation:
    """Open a resolved conversation again."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if conversation.status == Conversation.Status.RESOLVED:
            _reopen(conversation)
    return conversation


def conversation_mark_read(*, conversation: Conversation, by: str, seq: int) -> Conversation:
    """Record that the customer or the agents have read up to `seq`, and tell the other side."""
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        if by == "customer":
            seq = min(seq, conversation.last_public_seq)
            if seq <= conversation.customer_read_seq:
                return conversation
            conversation.customer_read_seq = seq
            conversation.unread_by_customer = Message.objects.filter(
                conversation=conversation,
                seq__gt=seq,
                internal=False,
                author_kind__in=[Message.AuthorKind.AGENT, Message.AuthorKind.BOT],
            ).count()
            _save(conversation, "customer_read_seq", "unread_by_customer")
            event = events.read(conversation_id=conversation.pk, by="customer", seq=seq)
            effects.deliver(
                conversation.pk,
                broadcast.conversation_deliveries(
                    conversation, agents=event, inbox=events.conversation_updated(conversation, for_agents=True)
                ),
            )
        else:
            seq = min(seq, conversation.last_seq)
            if seq <= conversation.agent_read_seq:
                return conversation
            conversation.agent_read_seq = seq
            conversation.unread_by_agent = Message.objects.filter(
                conversation=conversation, seq__gt=seq, author_kind=Message.AuthorKind.CUSTOMER
            ).count()
            _save(conversation, "agent_read_seq", "unread_by_agent")
            public_seq = min(seq, conversation.last_public_seq)
            event = events.read(conversation_id=conversation.pk, by="agent", seq=public_seq)
            effects.deliver(
                conversation.pk,
                broadcast.conversation_deliveries(
                    conversation,
                    customer=event,
                    agents=event,
                    inbox=events.conversation_updated(conversation, for_agents=True),
                ),
            )
    return conversation


def customer_handoff_request(*, visitor: Visitor) -> Conversation:
    """The customer asked for a human: hand the current conversation off, starting one if needed."""
    with transaction.atomic():
        locked_visitor = _visitor_lock(visitor.pk)
        conversation = _conversation_for_customer_message(locked_visitor)
        return conversation_handoff(conversation=conversation)
