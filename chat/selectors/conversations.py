"""Reads of conversations: the current one, what a client missed since its cursor, queue counts."""

from __future__ import annotations

from django.conf import settings

from chat.models import Attachment, Conversation, Message, Visitor
from chat.protocol import events
from chat.protocol.cursors import Cursor
from chat.protocol.replay import Replay
from chat.security.file_links import attachment_payload

CUSTOMER = "customer"
AGENTS = "agents"


def queue_counts(site_ids: list[int]) -> list[dict]:
    """Conversations waiting for a human, per site."""
    counts = {site_id: 0 for site_id in site_ids}
    rows = (
        Conversation.objects.filter(
            site_id__in=site_ids, status=Conversation.Status.OPEN, owner=Conversation.Owner.QUEUE
        )
        .values_list("site_id")
        .order_by()
    )
    for (site_id,) in rows:
        counts[site_id] += 1
    return [events.queue(site_id=site_id, count=count) for site_id, count in counts.items()]


def latest_conversation(conversations, visitor: Visitor) -> Conversation | None:
    """The newest of a visitor's conversations in a queryset (which may lock the row)."""
    return conversations.filter(visitor=visitor).order_by("-created_at", "-pk").first()


def conversation_current(*, visitor: Visitor) -> Conversation | None:
    """The visitor's latest conversation, open or resolved."""
    return latest_conversation(Conversation.objects.select_related("site", "visitor", "assignee"), visitor)


def _is_reply(message: Message) -> bool:
    return message.author_kind == Message.AuthorKind.BOT


def conversation_replay(*, conversation: Conversation, cursor: Cursor, audience: str) -> Replay:
    """Every event after `cursor`, in order, as the audience sees them (customers never see notes).

    A reply counts its end as one more index: after `reply.end` of a reply with n deltas
    the cursor is "S.n", so a client that saw the end gets nothing again, and one that
    did not gets the end with the full body.
    """
    limit = settings.PARLEY_REPLAY_LIMIT
    query = Message.objects.filter(conversation=conversation, seq__gte=max(cursor.seq, 1)).select_related(
        "author_agent"
    )
    if audience == CUSTOMER:
        query = query.filter(internal=False)
    rows = list(query.order_by("seq")[: limit + 1])
    files = _files_of(rows[:limit], visitor_id=conversation.visitor_id if audience == CUSTOMER else None)
    replay = Replay(head=cursor, more=len(rows) > limit)
    prev_seq = cursor.seq
    for message in rows[:limit]:
        for_customer = audience == CUSTOMER
        if message.seq == cursor.seq:
            if _is_reply(message):
                replay.events.extend(_reply_catch_up(message, cursor.index, for_agents=not for_customer))
        elif _is_reply(message) and message.status == Message.Status.STREAMING:
            replay.events.append(events.reply_start(message, prev_seq=prev_seq if for_customer else None))
            replay.events.extend(_reply_catch_up(message, -1, for_agents=not for_customer))
        else:
            replay.events.append(
                events.message_new(
                    message, prev_seq=prev_seq if for_customer else None, attachments=files.get(message.pk)
                )
            )
        prev_seq = message.seq
        replay.head = cursor_after(message, previous=replay.head)
        if _is_reply(message) and message.status == Message.Status.STREAMING and message.worker:
            replay.generating.append(message.pk)
    return replay


def _files_of(messages: list[Message], *, visitor_id: int | None) -> dict[int, list[dict]]:
    """The files of the replayed messages, by message id, with fresh links for the audience: one query."""
    files: dict[int, list[dict]] = {}
    ids = [message.pk for message in messages if not _is_reply(message)]
    if ids:
        for attachment in Attachment.objects.filter(message_id__in=ids).order_by("pk"):
            files.setdefault(attachment.message_id, []).append(attachment_payload(attachment, visitor_id=visitor_id))
    return files


def _reply_catch_up(message: Message, index: int, *, for_agents: bool) -> list[dict]:
    """What a client that holds a reply up to `index` still needs of it."""
    if message.status == Message.Status.STREAMING:
        if message.stream_index > index:
            return [
                events.reply_snapshot(
                    reply_id=message.pk,
                    conversation_id=message.conversation_id,
                    seq=message.seq,
                    index=message.stream_index,
                    text=message.body,
                    ends=message.delta_ends,
                )
            ]
        return []
    if index < message.stream_index + 1:
        return [events.reply_end(message, for_agents=for_agents)]
    return []


def conversation_head(*, conversation_id: int, audience: str) -> Cursor:
    """The cursor of a client that holds everything of the conversation that exists now."""
    query = Message.objects.filter(conversation_id=conversation_id)
    if audience == CUSTOMER:
        query = query.filter(internal=False)
    # At most one reply streams at a time, so the last two messages settle the head.
    head = Cursor()
    for message in reversed(list(query.order_by("-seq")[:2])):
        head = cursor_after(message, previous=head)
    return head


def cursor_after(message: Message, *, previous: Cursor) -> Cursor:
    """The cursor of a client that has everything of this message that exists now.

    A reply with no delta yet leaves the cursor where it was, so a resume from it
    sends `reply.start` again rather than skipping the reply's first delta.
    """
    if not _is_reply(message):
        return Cursor(message.seq, 0)
    if message.status == Message.Status.STREAMING:
        return Cursor(message.seq, message.stream_index) if message.stream_index >= 0 else previous
    return Cursor(message.seq, message.stream_index + 1)
