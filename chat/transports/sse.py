"""Server-Sent Events for widgets that cannot hold a WebSocket (docs/protocol.md, section 5).

The event stream and its tickets, and the customer's commands over HTTP: thin adapters over
chat/transports/commands.py, as the socket's handlers are. The answer stream of
POST /api/widget/messages is chat/transports/openai_chunks.py.

A ticket opens the event stream and nothing else: it reads, it cannot send, stop, hand off or
get another ticket, so one that leaks (it rides in a URL) is worth one minute of reading.
"""

from __future__ import annotations

import functools
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chat.models import Visitor
from chat.protocol import events, frames
from chat.protocol.cursors import BadCursor, Cursor
from chat.realtime import db_threads
from chat.realtime.feeds import Feed
from chat.security import tokens
from chat.security.ratelimit import Connection, RateLimited, connection_limits, request_client_ip, too_many_requests
from chat.selectors.access import NotFound, visitor_from_claim
from chat.selectors.replays import event_cursor
from chat.services.errors import ConversationError
from chat.transports import commands, openai_chunks
from chat.transports.layer_events import VisitorListener
from chat.transports.sse_stream import HEARTBEAT_SECONDS, PING, RETRY, record, stream_response
from chat.views.http import BadRequest, error_response, json_body

TICKET_SALT = "parley.sse-ticket"
TICKET_MAX_AGE = 60  # seconds: long enough to open an EventSource, too short to be worth stealing

# The HTTP status of a refused command, by its code (docs/protocol.md, section 7); other refusals are 400s.
# (A rate limit's refusal is a RateLimited, answered by too_many_requests with its Retry-After.)
HTTP_STATUS = {"rate_limited": 429, "not_found": 404, "not_streaming": 409}


# --- authentication -----------------------------------------------------------


def _visitor_from_request(request, *, ticket: bool = False) -> Visitor | None:
    """The visitor of a Bearer token, or where `ticket` allows it (the event stream) of a short-lived ?ticket=."""
    header = request.headers.get("Authorization", "")
    try:
        if header.startswith("Bearer "):
            claim = tokens.visitor_token_read(header[7:].strip())
        elif ticket and "ticket" in request.GET:
            claim = tokens.visitor_token_read(request.GET["ticket"], max_age=TICKET_MAX_AGE, salt=TICKET_SALT)
        else:
            return None
    except tokens.BadToken:
        return None
    return visitor_from_claim(claim=claim)


def _unauthorized() -> JsonResponse:
    return error_response("unauthorized", "A valid visitor token is required.", 401)


# --- GET /api/widget/events ---------------------------------------------------


@require_GET
async def event_stream(request):
    """Every customer event after the cursor (Last-Event-ID or ?cursor=), then live ones, as SSE."""
    visitor = await db_threads.run(_visitor_from_request, request, ticket=True)
    if visitor is None:
        return _unauthorized()
    try:
        cursor = Cursor.parse(request.headers.get("Last-Event-ID") or request.GET.get("cursor"))
        conversation_id = int(request.GET["conversation"]) if request.GET.get("conversation") else None
    except (BadCursor, ValueError):
        return error_response("bad_request", 'cursor must look like "12.3" and conversation must be an id.', 400)
    # Each stream opened costs a replay; an open one holds a listener, counted with the visitor's sockets.
    connection = Connection()
    try:
        await commands.control_check(visitor, "events")
        refusal = await connection.join(*connection_limits(ip=request_client_ip(request), visitor_id=visitor.pk))
        if refusal is not None:
            raise RateLimited(refusal, "Too many open connections for this visitor or address.")
    except RateLimited as exc:
        return too_many_requests(exc.detail, exc.retry_after)
    return stream_response(_events(visitor, cursor, conversation_id, connection))


async def _events(visitor: Visitor, cursor: Cursor, conversation_id: int | None, connection: Connection):
    try:
        yield RETRY
        async with VisitorListener(visitor.pk) as listener:
            feed = Feed(listener.channel_name)
            try:
                result = await commands.resume(
                    visitor=visitor, feed=feed, cursor=cursor, conversation_id=conversation_id
                )
            except NotFound:
                yield record("error", json.dumps(events.error("not_found", "No such conversation.")))
                return
            welcome = {key: value for key, value in result.fields.items() if key != "events"}
            yield record("welcome", json.dumps({"type": "welcome", **welcome}))
            for event in result.fields["events"]:
                yield _event_record(event)
            while True:
                event = await listener.next_event(HEARTBEAT_SECONDS)
                if listener.revoked:
                    return  # Parley.reset(): the token is dead, and the client's reconnect gets a 401
                if event is None:
                    await connection.refresh()  # still open: it keeps counting against the caps
                    yield PING
                elif feed.accept(event):
                    yield _event_record(event)
    finally:
        # A stream the client dropped before it began never gets here: it lapses after PARLEY_CONNECTION_TTL.
        await connection.leave()


def _event_record(event: dict) -> str:
    return record(event["type"], json.dumps(event, ensure_ascii=False), event_cursor(event))


# --- POST /api/widget/ticket --------------------------------------------------


@csrf_exempt
@require_POST
async def ticket(request):
    """A short-lived ticket for `EventSource`, which cannot send an Authorization header; only a token gets one."""
    visitor = await db_threads.run(_visitor_from_request, request)
    if visitor is None:
        return _unauthorized()
    try:
        await commands.control_check(visitor, "ticket")
    except RateLimited as exc:
        return too_many_requests(exc.detail, exc.retry_after)
    value = tokens.visitor_token_issue(
        visitor_id=visitor.pk, site_id=visitor.site_id, version=visitor.token_version, salt=TICKET_SALT
    )
    return JsonResponse({"ticket": value, "expires_in": TICKET_MAX_AGE})


# --- the customer's commands over HTTP ----------------------------------------


def _command(view):
    """A POST endpoint run as the visitor of its Bearer token (never a ticket), a refusal answered as a JSON error."""

    @functools.wraps(view)
    async def run(request, *args, **kwargs):
        visitor = await db_threads.run(_visitor_from_request, request)
        if visitor is None:
            return _unauthorized()
        try:
            return await view(request, visitor, *args, **kwargs)
        except BadRequest as exc:
            return error_response(exc.code, exc.detail, exc.status)
        except RateLimited as exc:
            return too_many_requests(exc.detail, exc.retry_after)
        except frames.ProtocolError as exc:
            return error_response(exc.code, exc.detail, HTTP_STATUS.get(exc.code, 400))
        except NotFound:
            # Over HTTP a widget names nothing but replies by id.
            return error_response("not_found", "No such conversation, reply or file.", 404)
        except ConversationError as exc:
            return error_response(exc.code, exc.detail, HTTP_STATUS.get(exc.code, 409))

    return csrf_exempt(require_POST(run))


@_command
async def send_message(request, visitor: Visitor):
    """Store a customer message; with Accept: text/event-stream, stream the bot's answer as chat-completion chunks."""
    sent = await commands.message_send(
        visitor=visitor, conversation_id=None, fields=json_body(request), ip=request_client_ip(request)
    )
    if "text/event-stream" not in request.headers.get("Accept", ""):
        return JsonResponse(sent.ack)
    last_event_id = request.headers.get("Last-Event-ID")
    return stream_response(openai_chunks.completion_chunks(visitor.pk, sent.message, last_event_id))


@_command
async def stop_reply(request, visitor: Visitor, reply_id: int):
    """Stop a streaming reply of the visitor's own conversation (same as `reply.stop`)."""
    await commands.reply_stop(visitor=visitor, reply_id=reply_id)
    return JsonResponse({"reply_id": reply_id, "stopping": True})


@_command
async def reply_feedback(request, visitor: Visitor, reply_id: int):
    """Rate a bot answer of the visitor's own conversation (same as `reply.feedback`)."""
    fields = json_body(request)
    reply = await commands.reply_feedback(visitor=visitor, conversation_id=None, reply_id=reply_id, fields=fields)
    return JsonResponse({"reply_id": reply_id, "helpful": reply.feedback == 1})


@_command
async def request_handoff(request, visitor: Visitor):
    """Ask for a human (same as `handoff.request`)."""
    conversation = await commands.handoff_request(visitor=visitor, conversation_id=None)
    return JsonResponse({"conversation": events.conversation_payload(conversation)})


@_command
async def rate_conversation(request, visitor: Visitor, conversation_id: int):
    """Rate a resolved conversation of the visitor's 1-5 (same as `rating.submit`)."""
    fields = json_body(request)
    conversation = await commands.rating_submit(visitor=visitor, conversation_id=conversation_id, fields=fields)
    return JsonResponse({"conversation": events.conversation_payload(conversation)})


@_command
async def set_contact(request, visitor: Visitor):
    """Leave an email address for the team (same as `contact.set`)."""
    visitor = await commands.contact_set(visitor=visitor, fields=json_body(request))
    return JsonResponse({"visitor": events.visitor_payload(visitor)})


@_command
async def email_transcript(request, visitor: Visitor, conversation_id: int):
    """Email me this conversation (same as `transcript.email`)."""
    fields = json_body(request)
    email = await commands.transcript_email(visitor=visitor, conversation_id=conversation_id, fields=fields)
    return JsonResponse({"conversation": conversation_id, "email": email})
