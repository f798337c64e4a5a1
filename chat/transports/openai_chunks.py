"""The bot's answer to POST /api/widget/messages as OpenAI `chat.completion.chunk`s (docs/protocol.md, section 5)."""

from __future__ import annotations

import json
import time

from django.conf import settings

from chat.models import Message
from chat.protocol.cursors import BadCursor, Cursor
from chat.protocol.replay import Replay
from chat.realtime import db_threads
from chat.realtime.feeds import Feed
from chat.transports.layer_events import VisitorListener
from chat.transports.sse_stream import HEARTBEAT_SECONDS, PING, RETRY, record

# A reply's status -> the chunk's finish_reason; `parley_status` tells stopped and failed from complete.
FINISH_REASONS = {"complete": "stop", "stopped": "stop", "interrupted": "length", "failed": "stop"}


def chunk(
    reply_id: int,
    content: str | None,
    finish_reason: str | None = None,
    status: str | None = None,
    ended: Message | None = None,
) -> str:
    """One chunk as JSON: text in `delta`, or the finish with what the reply did."""
    delta = {"content": content} if content is not None else {}
    data = {
        "id": f"reply-{reply_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": settings.AI_PROVIDER,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if status is not None:
        data["parley_status"] = status
    if ended is not None:  # what the reply did: sources and quick replies (docs/protocol.md, 3.1)
        data["parley_outcome"] = ended.outcome
        data["parley_meta"] = ended.meta or {}
    return json.dumps(data, ensure_ascii=False)


def _resume_index(last_event_id: str | None, reply: Message) -> int:
    """The last delta index a retrying client holds (its Last-Event-ID "S.I" for this reply), else -1."""
    try:
        cursor = Cursor.parse(last_event_id)
    except BadCursor:
        return -1
    return cursor.index if cursor.seq == reply.seq else -1


def _reply_to(trigger_id: int) -> Message | None:
    return Message.objects.filter(trigger_id=trigger_id).first()


async def completion_chunks(visitor_id: int, trigger: Message, last_event_id: str | None):
    """The bot's reply to `trigger` as chunks; a retried POST attaches to the same reply and skips what the client has.

    Offsets come from `ends` (text length after each delta index): from the worker's
    snapshot while the reply streams, from the database once it has ended.
    """
    yield RETRY
    async with VisitorListener(visitor_id) as listener:
        # Read after joining the group, so no event of the reply falls between the read and the join.
        reply = await db_threads.run(_reply_to, trigger.pk)
        if reply is None:  # a human owns the conversation: the bot stays silent
            yield record(None, chunk(0, None, "stop", status="no_reply"))
            yield record(None, "[DONE]")
            return
        index = _resume_index(last_event_id, reply)
        text = ReplyText(reply.seq, index)
        if reply.status == Message.Status.STREAMING:
            feed = Feed(listener.channel_name)
            generating = [reply.pk] if reply.worker else []
            await feed.start(reply.conversation_id, Cursor(reply.seq, index), Replay(events=[], generating=generating))
            while True:
                event = await listener.next_event(HEARTBEAT_SECONDS)
                if event is None:
                    yield PING
                    continue
                if event.get("reply_id") != reply.pk or not feed.accept(event):
                    continue
                if event["type"] == "reply.end":
                    reply = await db_threads.run(Message.objects.get, pk=reply.pk)
                    break
                fresh = text.take(event)
                if fresh:
                    yield fresh
        for last in text.finish(reply):
            yield last


class ReplyText:
    """What of one reply the POST stream has sent, by text offset and delta index."""

    def __init__(self, seq: int, resume_index: int):
        self.seq = seq
        self.index = resume_index
        self.ends: list[int] = []
        self.sent: int | None = 0 if resume_index < 0 else None  # unknown until a snapshot gives offsets

    def _offset_of(self, index: int, ends: list[int]) -> int:
        if index < 0 or not ends:
            return 0
        return ends[min(index, len(ends) - 1)]  # an index past the last delta is the end: all of it

    def take(self, event: dict) -> str:
        """A chunk record for a delta or snapshot, minus anything already sent."""
        if event["type"] == "reply.snapshot":
            self.ends = list(event.get("ends", []))
            if self.sent is None:
                self.sent = self._offset_of(self.index, self.ends)
            fresh = event["text"][self.sent :]
            self.sent = len(event["text"])
        elif event["type"] == "reply.delta" and self.sent is not None:
            fresh = event["text"]
            self.sent += len(fresh)
            self.ends.append(self.sent)
        else:
            return ""
        self.index = event["index"]
        return record(None, chunk(event["reply_id"], fresh), f"{self.seq}.{self.index}") if fresh else ""

    def finish(self, reply: Message) -> list[str]:
        """The rest of the final body (a failure line, or text never streamed), the finish chunk and [DONE]."""
        if self.sent is None:
            self.sent = self._offset_of(self.index, reply.delta_ends)
        records = []
        if len(reply.body) > self.sent:
            records.append(record(None, chunk(reply.pk, reply.body[self.sent :]), f"{self.seq}.{max(self.index, 0)}"))
        status = None if reply.status == Message.Status.COMPLETE else reply.status
        finish_reason = FINISH_REASONS.get(reply.status, "stop")
        end_cursor = f"{self.seq}.{reply.stream_index + 1}"
        records.append(record(None, chunk(reply.pk, None, finish_reason, status=status, ended=reply), end_cursor))
        records.append(record(None, "[DONE]"))
        return records
