"""`/ws/widget/`: the customer's socket."""

from __future__ import annotations

import asyncio
import time

from django.conf import settings

from chat import metrics
from chat.protocol import events, frames
from chat.realtime import db_threads, groups
from chat.realtime.broadcast import layer_message
from chat.realtime.feeds import Feed
from chat.security import tokens
from chat.security.origins import origin_allowed, scope_header
from chat.security.ratelimit import Connection, connection_limits, scope_client_ip
from chat.selectors import conversations as selectors
from chat.selectors.access import NotFound, visitor_from_claim
from chat.selectors.replays import CustomerReplay, customer_replay
from chat.transports import commands
from chat.transports.base import CLOSE_FORBIDDEN, CLOSE_HELLO_TIMEOUT, CLOSE_UNAUTHORIZED, ParleyConsumer


class CustomerConsumer(ParleyConsumer):
    """A visitor's widget: hello with a token, then messages, typing, read receipts and stops."""

    handlers = {
        "hello": "handle_hello",
        "resume": "handle_resume",
        "message.send": "handle_message_send",
        "reply.stop": "handle_reply_stop",
        "reply.feedback": "handle_reply_feedback",
        "handoff.request": "handle_handoff_request",
        "rating.submit": "handle_rating_submit",
        "contact.set": "handle_contact_set",
        "transcript.email": "handle_transcript_email",
        "typing": "handle_typing",
        "read": "handle_read",
        "ping": "handle_ping",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.visitor = None
        self.conversation_id: int | None = None
        self.hello_deadline: asyncio.Task | None = None
        self.hello_due = 0.0
        self.feed: Feed | None = None
        self.typing_sent = (False, 0.0)
        self.ip = ""
        self.connection: Connection | None = None

    async def connect(self):
        """Called when the socket opens: accept, count it against its address's cap, expect `hello` in time."""
        self.ip = scope_client_ip(self.scope)
        self.connection = Connection(self.channel_name)
        refusal = await self.connection.join(*connection_limits(ip=self.ip))
        await self.accept()  # a close before accepting would be a bare 403, without the close code
        if refusal is not None:
            await self.close_rate_limited(refusal)
            return
        self.feed = Feed(self.channel_name)
        self.hello_due = asyncio.get_running_loop().time() + settings.PARLEY_HELLO_TIMEOUT
        self.hello_deadline = asyncio.create_task(self._close_without_hello())

    async def disconnect(self, code):
        """Called when the socket closes."""
        if self.hello_deadline:
            self.hello_deadline.cancel()
        try:
            if self.visitor is not None:
                await self.channel_layer.group_discard(groups.visitor_group(self.visitor.pk), self.channel_name)
        finally:
            if self.connection is not None:
                await self.connection.leave()

    async def _close_without_hello(self) -> None:
        await asyncio.sleep(max(0.0, self.hello_due - asyncio.get_running_loop().time()))
        if self.visitor is None:
            await self.close_with(CLOSE_HELLO_TIMEOUT)

    def groups_to_keep(self) -> list[str]:
        """The visitor's group, once hello was said."""
        return [groups.visitor_group(self.visitor.pk)] if self.visitor is not None else []

    async def handle_ping(self, frame: dict) -> None:
        """Answer with the conversation's head cursor, so a client that silently missed events resumes."""
        self.check_frame_rate("ping", settings.PARLEY_PING_RATE, "ping")
        await self.connection.refresh()
        await self.rejoin_groups()
        pong = {"type": "pong"}
        if self.conversation_id is not None:
            head = await db_threads.run(
                selectors.conversation_head, conversation_id=self.conversation_id, audience=selectors.CUSTOMER
            )
            pong.update(conversation=self.conversation_id, cursor=str(head))
        await self.send_event(pong)

    async def visitor_revoked(self, message: dict) -> None:
        """Called when the visitor's tokens were revoked (`Parley.reset()` on the host page): this socket is done."""
        await self.close_with(CLOSE_UNAUTHORIZED)

    def check_ready(self, frame_type: str) -> None:
        """Only `hello` and `ping` are heard before hello."""
        if self.visitor is None and frame_type not in ("hello", "ping"):
            raise frames.ProtocolError("hello_required", "Send hello with your token first.", frame_type[:64])

    async def handle_hello(self, frame: dict) -> None:
        """Authenticate the token, join the visitor's group, and replay what the cursor missed."""
        if self.visitor is not None:
            raise frames.ProtocolError("bad_request", "hello was already said on this socket.", "hello")
        if self.closed:  # refused at connect (over its address's cap); frames already in flight are moot
            return
        # Said in time: a hello queued behind a busy database (a reconnect storm) is not closed for it.
        self.hello_deadline.cancel()
        try:
            await self._hello(frame)
        except Exception:
            if self.visitor is None and not self.closed:  # refused: the first deadline still stands
                self.hello_deadline = asyncio.create_task(self._close_without_hello())
            raise

    async def _hello(self, frame: dict) -> None:
        cursor = frames.cursor(frame)
        conversation_id = frames.integer(frame, "conversation", minimum=1, optional=True)
        try:
            claim = tokens.visitor_token_read(frame.get("token"))
        except tokens.BadToken:
            await self.close_with(CLOSE_UNAUTHORIZED)
            return
        # The signed token names the visitor: count the socket against its cap before any other work.
        refusal = await self.connection.join(*connection_limits(visitor_id=claim.visitor_id))
        if refusal is not None:
            await self.close_rate_limited(refusal, "hello")
            return
        origin, host = scope_header(self.scope, b"origin"), scope_header(self.scope, b"host")

        def admit():  # one trip to the database thread: who it is, whether this page may speak for it, the replay
            visitor = visitor_from_claim(claim=claim)
            if visitor is None:
                return None, CLOSE_UNAUTHORIZED
            if not origin_allowed(origin, host, visitor.site.allowed_origins):
                return None, CLOSE_FORBIDDEN
            try:
                return visitor, customer_replay(visitor=visitor, cursor=cursor, conversation_id=conversation_id)
            except NotFound:
                return visitor, None

        # Join before reading, so nothing published meanwhile is missed; the feed drops the overlap.
        # The group is the signed token's visitor's; it is left again unless the database confirms it.
        group = groups.visitor_group(claim.visitor_id)
        await self.channel_layer.group_add(group, self.channel_name)
        try:
            visitor, outcome = await db_threads.run(admit)
        except BaseException:
            await self.channel_layer.group_discard(group, self.channel_name)
            raise
        if visitor is None:
            await self.channel_layer.group_discard(group, self.channel_name)
            await self.close_with(outcome)
            return
        self.visitor = visitor
        if outcome is None:
            raise NotFound  # said hello, but named a conversation that is not theirs
        await commands.follow(self.feed, outcome)
        await self.send_event(self._replayed("welcome", outcome))

    def _replayed(self, frame_type: str, result: CustomerReplay) -> dict:
        """Follow the replayed conversation from now on, and build the frame that carries the replay."""
        if result.conversation_id is not None:
            self.conversation_id = result.conversation_id
        return {"type": frame_type, **result.fields}

    async def handle_resume(self, frame: dict) -> None:
        """Replay from a cursor again (after the client saw a gap), without reconnecting."""
        cursor = frames.cursor(frame)
        conversation_id = frames.integer(frame, "conversation", minimum=1, optional=True)
        await commands.control_check(self.visitor, "resume")
        result = await commands.resume(
            visitor=self.visitor, feed=self.feed, cursor=cursor, conversation_id=conversation_id
        )
        await self.send_event(self._replayed("replay", result))

    async def handle_message_send(self, frame: dict) -> None:
        """Store the message once per client_id, then acknowledge it to this socket."""
        started = time.perf_counter()
        sent = await commands.message_send(
            visitor=self.visitor, conversation_id=self.conversation_id, fields=frame, ip=self.ip
        )
        self.conversation_id = sent.message.conversation_id
        await self.send_event(sent.ack)
        metrics.MESSAGE_ACK.observe(time.perf_counter() - started)

    async def handle_reply_stop(self, frame: dict) -> None:
        """Stop a bot reply of this visitor's conversation."""
        reply_id = frames.integer(frame, "reply_id", minimum=1)
        await commands.reply_stop(visitor=self.visitor, reply_id=reply_id)

    async def handle_reply_feedback(self, frame: dict) -> None:
        """The customer's 👍 or 👎 on a bot answer of their conversation; answered by a `reply.feedback` event."""
        reply_id = frames.integer(frame, "reply_id", minimum=1)
        await commands.reply_feedback(
            visitor=self.visitor, conversation_id=self.conversation_id, reply_id=reply_id, fields=frame
        )

    async def handle_handoff_request(self, frame: dict) -> None:
        """Ask for a human: the conversation goes to the queue (a new one starts if there is none)."""
        conversation = await commands.handoff_request(visitor=self.visitor, conversation_id=self.conversation_id)
        self.conversation_id = conversation.pk

    async def handle_rating_submit(self, frame: dict) -> None:
        """Rate a resolved conversation 1-5; answered by the `conversation.updated` that carries the rating."""
        conversation_id = frames.integer(frame, "conversation", minimum=1)
        await commands.rating_submit(visitor=self.visitor, conversation_id=conversation_id, fields=frame)

    async def handle_contact_set(self, frame: dict) -> None:
        """Leave an email address (and a name) for the team; answered with `contact.saved`."""
        self.visitor = await commands.contact_set(visitor=self.visitor, fields=frame)
        await self.send_event(events.contact_saved(self.visitor))

    async def handle_transcript_email(self, frame: dict) -> None:
        """Email me this conversation; answered with `transcript.queued`."""
        conversation_id = frames.integer(frame, "conversation", minimum=1)
        email = await commands.transcript_email(visitor=self.visitor, conversation_id=conversation_id, fields=frame)
        await self.send_event(events.transcript_queued(conversation_id=conversation_id, email=email))

    async def handle_typing(self, frame: dict) -> None:
        """Relay typing to agents, at most every PARLEY_TYPING_THROTTLE seconds unless it flips."""
        active = frames.boolean(frame, "active")
        if self.conversation_id is None:
            return
        last_active, last_at = self.typing_sent
        now = time.monotonic()
        if active == last_active and now - last_at < settings.PARLEY_TYPING_THROTTLE:
            return
        self.check_frame_rate("typing", settings.PARLEY_TYPING_RATE, "typing")  # what is relayed: flips, and repeats
        self.typing_sent = (active, now)
        event = events.typing(conversation_id=self.conversation_id, author={"kind": "customer"}, active=active)
        await self.channel_layer.group_send(groups.conversation_group(self.conversation_id), layer_message(event))

    async def handle_read(self, frame: dict) -> None:
        """The customer has seen everything up to `seq`."""
        self.check_frame_rate("read", settings.PARLEY_READ_RATE, "read")
        await commands.mark_read(visitor=self.visitor, conversation_id=self.conversation_id, fields=frame)

    async def deliver(self, event: dict) -> None:
        """Forward an event, minus what the replay already gave; follow the visitor to a new conversation."""
        if event.get("type") == "conversation.updated":
            self.conversation_id = event["conversation"]["id"]
        if self.feed.accept(event):
            await self.send_event(event)
