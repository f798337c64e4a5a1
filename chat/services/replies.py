"""Bot replies: starting one, claiming it in a worker, checkpoints, stopping, finishing and reaping."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chat import metrics
from chat.ai.base import ReplyRequest, Turn
from chat.ai.phrases import language_of
from chat.ai.retrieval import retrieve_in_context
from chat.models import Conversation, Message
from chat.protocol import events
from chat.realtime import broadcast, effects
from chat.selectors import agents
from chat.services import message_sql, webhooks
from chat.services.errors import ConversationError
from chat.services.messages import BOT, conversation_lock, message_deliveries, message_insert

logger = logging.getLogger(__name__)

HISTORY_TURNS = 12


def lease() -> timezone.datetime:
    """When a reply started or checkpointed now is given up unless renewed."""
    return timezone.now() + timedelta(seconds=settings.PARLEY_REPLY_LEASE)


def reply_begin(*, conversation: Conversation, trigger: Message) -> Message:
    """Start the bot's answer to `trigger` inside the caller's locked transaction; a worker takes it after commit."""
    reply_stop_active(conversation=conversation)  # a newer question supersedes an answer in flight
    reply = message_insert(
        conversation=conversation,
        author=BOT,
        body="",
        status=Message.Status.STREAMING,
        trigger=trigger,
        lease_until=lease(),
    )
    # Queued after the reply.start event, so no delta can reach a client ahead of it.
    effects.job(conversation.pk, reply.pk)
    return reply


def reply_begun(written: message_sql.Written, *, trigger: Message) -> Message:
    """Publish what a one-statement customer send did for the bot: answers in flight stopped, the new reply begun."""
    conversation = written.conversation
    for reply_id, seq, body, index in written.stopped:
        reply_end_deliver(
            Message(
                pk=reply_id,
                conversation=conversation,
                seq=seq,
                author_kind=Message.AuthorKind.BOT,
                body=body,
                stream_index=index,
                status=Message.Status.STOPPED,
            )
        )
        metrics.REPLIES_ENDED.inc(Message.Status.STOPPED)
    for reply_id in written.signalled:
        effects.stop(reply_id)
    reply = Message(
        pk=written.reply_id,
        conversation=conversation,
        seq=conversation.last_seq,
        author_kind=Message.AuthorKind.BOT,
        status=Message.Status.STREAMING,
        trigger=trigger,
        created_at=trigger.created_at,
        updated_at=trigger.created_at,
    )
    metrics.MESSAGES_STORED.inc()
    effects.deliver(conversation.pk, message_deliveries(conversation, reply, trigger.seq))
    effects.job(conversation.pk, reply.pk)  # behind reply.start, as in reply_begin
    return reply


def _stop_locked(reply: Message) -> None:
    """Stop one streaming reply whose conversation the caller holds locked."""
    if not reply.worker:
        # No worker has it yet: end it here; the worker's claim will find it finished.
        _finish(reply.pk, status=Message.Status.STOPPED, text=reply.body, index=reply.stream_index)
    else:
        effects.stop(reply.pk)


def reply_stop(*, reply: Message) -> None:
    """Stop a streaming reply wherever it is generated; a finished one is refused and left alone."""
    with transaction.atomic():
        conversation_lock(reply.conversation_id)
        reply = Message.objects.get(pk=reply.pk)
        if reply.status != Message.Status.STREAMING:
            raise ConversationError("not_streaming", "That reply has already ended.")
        _stop_locked(reply)


async def reply_stop_now(reply: Message) -> None:
    """Stop a reply the caller was allowed to: its worker is signalled straight away, else it ends here."""
    if reply.status != Message.Status.STREAMING:
        raise ConversationError("not_streaming", "That reply has already ended.")
    if reply.worker:
        await effects.send_stop(reply.pk)  # the worker ends it `stopped` and publishes reply.end
    else:
        await effects.call(reply_stop, reply=reply, lane=reply.conversation_id)


def reply_stop_active(*, conversation: Conversation, taken_over: bool = False) -> None:
    """Stop every reply still streaming in a conversation the caller holds locked (`taken_over`: by a person)."""
    streaming = Message.objects.filter(
        conversation=conversation, author_kind=Message.AuthorKind.BOT, status=Message.Status.STREAMING
    )
    for reply in streaming:
        if taken_over:
            # Kept when the reply ends, whoever ends it: the customer is told a person cut it short, not them.
            Message.objects.filter(pk=reply.pk).update(error_reason=events.TAKEN_OVER)
            reply.error_reason = events.TAKEN_OVER
        _stop_locked(reply)


@dataclass(frozen=True)
class ReplyJob:
    """What a worker needs to generate one reply."""

    reply_id: int
    seq: int
    conversation_id: int
    visitor_id: int
    site_id: int
    request: ReplyRequest


def _earlier(reply: Message) -> list[Message]:
    """The last public messages before a reply, newest first (its question among them)."""
    return list(
        Message.objects.filter(conversation_id=reply.conversation_id, seq__lt=reply.seq, internal=False)
        .exclude(author_kind=Message.AuthorKind.SYSTEM)
        .order_by("-seq")[:HISTORY_TURNS]
    )


def _turns(earlier: list[Message]) -> list[Turn]:
    turns = [
        Turn("user" if m.author_kind == Message.AuthorKind.CUSTOMER else "assistant", m.body)
        for m in reversed(earlier)
        if m.body
    ]
    return turns[:-1] if turns and turns[-1].role == "user" else turns  # the question itself goes apart


def _request(conversation: Conversation, question: str, earlier: list[Message]) -> ReplyRequest:
    """Everything the bot answers one question with: the passages, the language, the conversation's state."""
    site = conversation.site
    history = _turns(earlier)
    said = [turn.text for turn in history if turn.role == "user"]
    previous = said[-1] if said else ""
    # A message with no words ("👍") keeps the language the customer wrote in before, else the site's.
    language = language_of(question, language_of(previous, site.language or settings.LANGUAGE_CODE))
    passages = [
        replace(passage, url=reverse("help-article", kwargs={"site_key": site.key, "article_id": passage.article_id}))
        for passage in retrieve_in_context(site_id=site.pk, query=question, previous=previous, version=site.kb_version)
    ]
    in_queue = conversation.owner != Conversation.Owner.BOT
    return ReplyRequest(
        question=question,
        history=history,
        passages=passages,
        language=language,
        in_queue=in_queue,
        misses=conversation.bot_misses,
        handoff_after=site.bot_handoff_after,
        # Only a handoff needs it, and only one from the bot's own conversation.
        team_available=in_queue or agents.site_team_available(site),
        visitor_email=conversation.visitor.email,
        expects=conversation.bot_expects,
    )


def reply_claim(*, reply_id: int, worker: str) -> ReplyJob | None:
    """Take a reply for generation; None when it ended or another worker took it (one trigger, one reply)."""
    claimed = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING, worker="").update(
        worker=worker, lease_until=lease()
    )
    if not claimed:
        return None
    reply = Message.objects.select_related("conversation__site", "conversation__visitor").get(pk=reply_id)
    earlier = _earlier(reply)
    trigger = next((m for m in earlier if m.pk == reply.trigger_id), None)
    if trigger is None and reply.trigger_id:  # older than the history window: rare
        trigger = Message.objects.get(pk=reply.trigger_id)
    request = _request(reply.conversation, trigger.body if trigger else "", earlier)
    return ReplyJob(
        reply_id=reply.pk,
        seq=reply.seq,
        conversation_id=reply.conversation_id,
        visitor_id=reply.conversation.visitor_id,
        site_id=reply.conversation.site_id,
        request=request,
    )


@dataclass(frozen=True)
class Checkpoint:
    """A running reply's progress: the text streamed so far, its last delta index and the deltas' ends."""

    reply_id: int
    text: str
    index: int
    ends: list[int]


def reply_checkpoint_many(*, worker: str, checkpoints: list[Checkpoint]) -> set[int]:
    """Checkpoint every reply a worker runs in one transaction; the ids of those still streaming there."""
    alive, until, now = set(), lease(), timezone.now()
    if message_sql.available():
        return message_sql.checkpoint_many(worker=worker, lease_until=until, now=now, checkpoints=checkpoints)
    with transaction.atomic():
        for point in checkpoints:
            if Message.objects.filter(pk=point.reply_id, status=Message.Status.STREAMING, worker=worker).update(
                body=point.text, stream_index=point.index, delta_ends=point.ends, lease_until=until, updated_at=now
            ):
                alive.add(point.reply_id)
    return alive


FAILED_LINE = gettext_noop("Sorry, I couldn't finish this answer. I've asked a member of our team to help.")


def _finish(
    reply_id: int,
    *,
    status: str,
    text: str,
    index: int,
    ends: list[int] | None = None,
    reason: str = "",
    outcome: str = "",
    meta: dict | None = None,
    **only_if,
) -> Message | None:
    """End a streaming reply once (whoever comes first wins) and publish `reply.end` on commit."""
    fields = {"status": status, "body": text, "stream_index": index, "lease_until": None, "updated_at": timezone.now()}
    if reason:  # else keep one set while it streamed: TAKEN_OVER, when a person took the conversation over
        fields["error_reason"] = reason[:300]
    if ends is not None:
        fields["delta_ends"] = ends
    if outcome:
        fields.update(outcome=outcome, meta=meta or {})
    updated = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING, **only_if).update(**fields)
    if not updated:
        return None
    reply = Message.objects.select_related("conversation").get(pk=reply_id)
    reply_end_deliver(reply)
    webhooks.message_created(reply, site_id=reply.conversation.site_id)
    metrics.REPLIES_ENDED.inc(status)
    return reply


def reply_end_deliver(reply: Message) -> None:
    """Publish a reply's end to its customer and its agents (after commit)."""
    effects.deliver(
        reply.conversation_id,
        broadcast.conversation_deliveries(
            reply.conversation, customer=events.reply_end(reply), agents=events.reply_end(reply, for_agents=True)
        ),
    )


def reply_finish(
    *,
    reply_id: int,
    status: str,
    text: str,
    index: int,
    ends: list[int],
    reason: str = "",
    outcome: str = "",
    meta: dict | None = None,
) -> Message | None:
    """The worker ends its reply: complete, stopped, interrupted or failed (with a line for the customer)."""
    if status == Message.Status.FAILED:
        language = Message.objects.filter(pk=reply_id).values_list("conversation__site__language", flat=True).first()
        with translation.override(language or settings.LANGUAGE_CODE):
            line = _(FAILED_LINE)
        text = f"{text}\n\n{line}" if text else line
    with transaction.atomic():
        return _finish(
            reply_id, status=status, text=text, index=index, ends=ends, reason=reason, outcome=outcome, meta=meta
        )


def reply_feedback(*, visitor_id: int, reply_id: int, helpful: bool) -> Message:
    """The customer's 👍 or 👎 on a bot answer of their own conversation (the last one counts)."""
    with transaction.atomic():
        reply = (
            Message.objects.select_for_update()
            .select_related("conversation")
            .filter(pk=reply_id, conversation__visitor_id=visitor_id, author_kind=Message.AuthorKind.BOT)
            .exclude(status=Message.Status.STREAMING)
            .first()
        )
        if reply is None:
            raise ConversationError("not_found", "No such reply.")
        value = 1 if helpful else -1
        if reply.feedback != value:
            reply.feedback = value
            reply.save(update_fields=["feedback"])
        event = events.reply_feedback(reply)
        effects.deliver(
            reply.conversation_id, broadcast.conversation_deliveries(reply.conversation, customer=event, agents=event)
        )
    return reply


def reply_reap_expired() -> int:
    """End as `interrupted` every streaming reply whose worker stopped renewing its lease (partial text kept)."""
    now = timezone.now()
    expired = Message.objects.filter(status=Message.Status.STREAMING, lease_until__lt=now)
    reaped = 0
    for reply in expired.only("pk", "body", "stream_index", "lease_until"):
        with transaction.atomic():
            # Only if the lease is unchanged: a checkpoint that just landed keeps the reply alive.
            if _finish(
                reply.pk,
                status=Message.Status.INTERRUPTED,
                text=reply.body,
                index=reply.stream_index,
                reason="The reply's worker stopped before it finished.",
                lease_until=reply.lease_until,
            ):
                reaped += 1
    return reaped
