"""Server-Sent Events for widgets that cannot hold a WebSocket (docs/protocol.md, section 5)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import signing
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chat.realtime import db_threads
from chat.realtime import effects
from chat.protocol import events
from chat.protocol import frames
from chat.realtime import groups
from chat.security import tokens
from chat.selectors.access import NotFound, access_reply_for_visitor, visitor_from_claim
from chat.protocol.cursors import BadCursor, Cursor
from chat.realtime.feeds import Feed
from chat.models import Message, Visitor
from chat.security.ratelimit import rate_allow
from chat.selectors.replays import customer_replay, event_cursor
from chat.protocol.replay import Replay
from chat.services import conversations, replies
from chat.services.errors import ConversationError
from chat.views.http import BadRequest, error_response, json_body

TICKET_SALT = "parley.sse-ticket"
TICKET_MAX_AGE = 60  # seconds: long enough to open an EventSource, too short to be worth stealing
HEARTBEAT_SECONDS = 15
RETRY_MILLISECONDS = 2000


# --- authentication -----------------------------------------------------------

def _visitor_from_request(request) -> Visitor | None:
    """The visitor of a Bearer token, or of a short-lived ?ticket= (for native EventSource)."""
    header = request.headers.get("Authorization", "")
    try:
        if header.startswith("Bearer "):
            claim = tokens.visitor_token_read(header[7:].strip())
        elif "ticket" in request.GET:
            claim = tokens.visitor_token_read(request.GET["ticket"], max_age=TICKET_MAX_AGE, salt=TICKET_SALT)
        else:
            return None
    except tokens.BadToken:
        return None
    return visitor_from_claim(visitor_id=claim.visitor_id, site_id=claim.site_id)


def _unauthorized() -> JsonResponse:
    return error_response("unauthorized", "A valid visitor token is required.", 401)


def _sse(event_type: str | None, data: str, event_id: str | None = None) -> str:
    """One SSE record."""
    lines = []
    if event_type:
        lines.append(f"event: {event_type}")
    if event_id:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def _stream_response(iterator) -> StreamingHttpResponse:
    response = StreamingHttpResponse(iterator, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each record on at once
    return response


class LayerListener:
    """A channel of our own in the visitor's group, read by a task into a queue (safe to wait on with a timeout)."""

    def __init__(self, visitor_id: int):
        self.visitor_id = visitor_id
        self.layer = get_channel_layer()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.channel_name = ""
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> "LayerListener":
        self.channel_name = await self.layer.new_channel()
        await self.layer.group_add(groups.visitor_group(self.visitor_id), self.channel_name)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            self.queue.put_nowait(await self.layer.receive(self.channel_name))

    async def __aexit__(self, *exc) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.layer.group_discard(groups.visitor_group(self.visitor_id), self.channel_name)

    async def next_event(self) -> dict | None:
        """The next parley event, or None after HEARTBEAT_SECONDS of silence."""
        try:
            message = await asyncio.wait_for(self.queue.get(), timeout=HEARTBEAT_SECONDS)
        except TimeoutError:
            return None
        return message.get("event") if message.get("type") == "parley.event" else {}


# --- GET /api/widget/events ---------------------------------------------------

@require_GET
async def event_stream(request):
    """Every customer event after the cursor (Last-Event-ID or ?cursor=), then live ones, as SSE."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    try:
        cursor = Cursor.parse(request.headers.get("Last-Event-ID") or request.GET.get("cursor"))
        conversation_id = int(request.GET["conversation"]) if request.GET.get("conversation") else None
    except (BadCursor, ValueError):
        return error_response("bad_request", "cursor must look like \"12.3\" and conversation must be an id.", 400)
    return _stream_response(_events(visitor, cursor, conversation_id))


async def _events(visitor: Visitor, cursor: Cursor, conversation_id: int | None):
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    async with LayerListener(visitor.pk) as listener:
        feed = Feed(listener.channel_name)
        try:
            result = await db_threads.run(customer_replay, visitor=visitor, cursor=cursor,
                                          conversation_id=conversation_id)
        except NotFound:
            yield _sse("error", json.dumps(events.error("not_found", "No such conversation.")))
            return
        if result.replay is not None:
            await feed.start(result.conversation_id, result.cursor, result.replay)
        yield _sse("welcome", json.dumps({"type": "welcome", **{k: v for k, v in result.fields.items() if k != "events"}}))
        for event in result.fields["events"]:
            yield _sse(event["type"], json.dumps(event, ensure_ascii=False), event_cursor(event))
        while True:
            event = await listener.next_event()
            if event is None:
                yield ": ping\n\n"
            elif event and feed.accept(event):
                yield _sse(event["type"], json.dumps(event, ensure_ascii=False), event_cursor(event))


# --- POST /api/widget/ticket --------------------------------------------------

@csrf_exempt
@require_POST
def ticket(request):
    """A short-lived ticket for `EventSource`, which cannot send an Authorization header."""
    visitor = _visitor_from_request(request)
    if visitor is None:
        return _unauthorized()
    value = signing.dumps({"v": visitor.pk, "s": visitor.site_id}, salt=TICKET_SALT, compress=False)
    return JsonResponse({"ticket": value, "expires_in": TICKET_MAX_AGE})


# --- POST /api/widget/messages ------------------------------------------------

def _parse_send(request) -> tuple[str, str]:
    data = json_body(request)
    try:
        client_id = frames.client_id(data)
        return client_id, frames.body(data, client_id)
    except frames.ProtocolError as exc:
        raise BadRequest(exc.code, exc.detail) from None


async def _send(visitor: Visitor, client_id: str, body: str):
    allowed = await rate_allow(key=f"visitor:{visitor.pk}", limit=settings.PARLEY_SEND_RATE_COUNT,
                               window=settings.PARLEY_SEND_RATE_WINDOW)
    if not allowed:
        raise BadRequest("rate_limited", "Too many messages; wait a few seconds.", status=429)

    def send():
        result = conversations.customer_message_send(visitor=visitor, client_id=client_id, body=body)
        return result.message, Message.objects.filter(trigger=result.message).first()

    return await effects.call(send)


@csrf_exempt
@require_POST
async def send_message(request):
    """Store a customer message; with Accept: text/event-stream, stream the bot's answer as chat-completion chunks."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    try:
        client_id, body = await sync_to_async(_parse_send)(request)
        message, reply = await _send(visitor, client_id, body)
    except BadRequest as exc:
        return error_response(exc.code, exc.detail, exc.status)
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return JsonResponse(events.message_ack(message, client_id))
    return _stream_response(_completion_chunks(visitor, reply, _resume_index(request, reply)))


def _resume_index(request, reply: Message | None) -> int:
    """The last delta index a retrying client holds (its Last-Event-ID "S.I" for this reply), else -1."""
    try:
        cursor = Cursor.parse(request.headers.get("Last-Event-ID"))
    except BadCursor:
        return -1
    if reply is None or cursor.seq != reply.seq:
        return -1
    return cursor.index


def _chunk(reply_id: int, content: str | None, finish_reason: str | None = None, status: str | None = None,
           ended: Message | None = None) -> str:
    delta = {"content": content} if content is not None else {}
    chunk = {"id": f"reply-{reply_id}", "object": "chat.completion.chunk", "created": int(time.time()),
             "model": settings.AI_PROVIDER,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    if status is not None:
        chunk["parley_status"] = status
    if ended is not None:  # what the reply did: sources and quick replies (docs/protocol.md, 3.1)
        chunk["parley_outcome"] = ended.outcome
        chunk["parley_meta"] = ended.meta or {}
    return json.dumps(chunk, ensure_ascii=False)


FINISH_REASONS = {"complete": "stop", "stopped": "stop", "interrupted": "length", "failed": "stop"}


async def _completion_chunks(visitor: Visitor, reply: Message | None, resume_index: int):
    """The reply as OpenAI chunks; a retried POST attaches to the same reply and skips what the client has.

    Offsets come from `ends` (text length after each delta index): from the worker's
    snapshot while the reply streams, from the database once it has ended.
    """
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    if reply is None:  # a human owns the conversation: the bot stays silent
        yield _sse(None, _chunk(0, None, "stop", status="no_reply"))
        yield _sse(None, "[DONE]")
        return
    async with LayerListener(visitor.pk) as listener:
        reply = await db_threads.run(Message.objects.get, pk=reply.pk)
        stream = _ReplyText(reply.seq, resume_index)
        if reply.status == Message.Status.STREAMING:
            feed = Feed(listener.channel_name)
            generating = [reply.pk] if reply.worker else []
            await feed.start(reply.conversation_id, Cursor(reply.seq, resume_index),
                             Replay(events=[], generating=generating))
            while True:
                event = await listener.next_event()
                if event is None:
                    yield ": ping\n\n"
                    continue
                if not event or event.get("reply_id") != reply.pk or not feed.accept(event):
                    continue
                if event["type"] == "reply.end":
                    reply = await db_threads.run(Message.objects.get, pk=reply.pk)
                    break
                record = stream.take(event)
                if record:
                    yield record
        for record in stream.finish(reply):
            yield record


class _ReplyText:
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
        """A chunk for a delta or snapshot, minus anything already sent."""
        if event["type"] == "reply.snapshot":
            self.ends = list(event.get("ends", []))
            if self.sent is None:
                self.sent = self._offset_of(self.index, self.ends)
            fresh = event["text"][self.sent:]
            self.sent = len(event["text"])
        elif event["type"] == "reply.delta" and self.sent is not None:
            fresh = event["text"]
            self.sent += len(fresh)
            self.ends.append(self.sent)
        else:
            return ""
        self.index = event["index"]
        return _sse(None, _chunk(event["reply_id"], fresh), f"{self.seq}.{self.index}") if fresh else ""

    def finish(self, reply: Message) -> list[str]:
        """The rest of the final body (a failure line, or text never streamed), the finish chunk and [DONE]."""
        if self.sent is None:
            self.sent = self._offset_of(self.index, reply.delta_ends)
        records = []
        if len(reply.body) > self.sent:
            records.append(_sse(None, _chunk(reply.pk, reply.body[self.sent:]), f"{self.seq}.{max(self.index, 0)}"))
        status = None if reply.status == Message.Status.COMPLETE else reply.status
        end_cursor = f"{self.seq}.{reply.stream_index + 1}"
        records.append(_sse(None, _chunk(reply.pk, None, FINISH_REASONS.get(reply.status, "stop"), status=status,
                                         ended=reply), end_cursor))
        records.append(_sse(None, "[DONE]"))
        return records


# --- POST /api/widget/replies/<id>/stop and /api/widget/handoff ---------------

@csrf_exempt
@require_POST
async def stop_reply(request, reply_id: int):
    """Stop a streaming reply of the visitor's own conversation (same as `reply.stop`)."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    try:
        reply = await db_threads.run(access_reply_for_visitor, visitor=visitor, reply_id=reply_id)
        await replies.reply_stop_now(reply)
    except NotFound:
        return error_response("not_found", "No such reply.", 404)
    except ConversationError as exc:
        return error_response(exc.code, exc.detail, 409)
    return JsonResponse({"reply_id": reply_id, "stopping": True})


@csrf_exempt
@require_POST
async def reply_feedback(request, reply_id: int):
    """Rate a bot answer of the visitor's own conversation (same as `reply.feedback`)."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    try:
        helpful = json_body(request).get("helpful")
        if not isinstance(helpful, bool):
            raise BadRequest("bad_request", "`helpful` must be true or false.")
        await effects.call(replies.reply_feedback, visitor_id=visitor.pk, reply_id=reply_id, helpful=helpful)
    except BadRequest as exc:
        return error_response(exc.code, exc.detail, exc.status)
    except ConversationError as exc:
        return error_response(exc.code, exc.detail, 404)
    return JsonResponse({"reply_id": reply_id, "helpful": helpful})


@csrf_exempt
@require_POST
async def request_handoff(request):
    """Ask for a human (same as `handoff.request`)."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    conversation = await effects.call(conversations.customer_handoff_request, visitor=visitor)
    return JsonResponse({"conversation": events.conversation_payload(conversation)})
