"""What a finished bot reply changes in its conversation: the outcome kept, misses counted, handoff, contact."""

from __future__ import annotations

from django.db import transaction

from chat import metrics
from chat.ai.base import Outcome
from chat.models import Conversation, Message, Visitor
from chat.services import conversations, notifications, replies
from chat.services.messages import conversation_lock


def outcome_meta(outcome: Outcome, language: str) -> dict:
    """The reply's `meta`: its sources, quick replies and language, as clients render them."""
    meta: dict = {"language": language}
    if outcome.sources:
        meta["sources"] = [{"id": s.article_id, "title": s.title, "url": s.url} for s in outcome.sources]
    if outcome.actions:
        meta["actions"] = list(outcome.actions)
    if outcome.options:
        meta["options"] = list(outcome.options)
    if outcome.handoff:
        meta["handoff"] = True
    return meta


def bot_reply_finish(
    *,
    reply_id: int,
    conversation_id: int,
    status: str,
    text: str,
    index: int,
    ends: list[int],
    reason: str = "",
    outcome: Outcome | None = None,
    language: str = "en",
    handoff: bool = False,
) -> Message | None:
    """End the worker's reply and apply what it decided, in one transaction; `handoff` forces one (a failure)."""
    complete = status == Message.Status.COMPLETE and outcome is not None
    with transaction.atomic():
        reply = replies.reply_finish(
            reply_id=reply_id,
            status=status,
            text=text,
            index=index,
            ends=ends,
            reason=reason,
            outcome=outcome.kind if complete else "",
            meta=outcome_meta(outcome, language) if complete else None,
        )
        if reply is None:
            return None  # stopped or reaped meanwhile: whoever ended it decided
        if complete:
            _conclude(conversation_id, outcome)
            metrics.BOT_OUTCOMES.inc(outcome.kind)
        if handoff or (complete and outcome.handoff):
            # The reply said it already; a failed one says so in its last line.
            conversations.conversation_handoff(
                conversation=Conversation(pk=conversation_id), announce=False, stop_reply=False
            )
    return reply


def _conclude(conversation_id: int, outcome: Outcome) -> None:
    """Count the bot's misses, remember what it waits for, and keep an address the customer gave."""
    conversation = conversation_lock(conversation_id)
    if outcome.kind == "unanswered":
        misses = conversation.bot_misses + 1
    elif outcome.kind in ("answered", "handoff"):
        misses = 0
    else:
        misses = conversation.bot_misses  # small talk and questions back neither help nor count against
    changed = [
        name
        for name, value in (("bot_misses", misses), ("bot_expects", outcome.expects))
        if getattr(conversation, name) != value
    ]
    for name in changed:
        setattr(conversation, name, misses if name == "bot_misses" else outcome.expects)
    if changed:
        conversation.save(update_fields=changed)
    if outcome.email and outcome.email != conversation.visitor.email:
        Visitor.objects.filter(pk=conversation.visitor_id).update(
            email=outcome.email, email_confirmed_at=None, email_opt_out=False
        )
        visitor = conversation.visitor
        visitor.email, visitor.email_confirmed_at, visitor.email_opt_out = outcome.email, None, False
        notifications.contact_given(visitor)
        conversations.publish_conversation(conversation)  # the desk shows the address at once
