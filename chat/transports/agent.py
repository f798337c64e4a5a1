"""`/ws/agent/`: a dashboard tab's socket."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from chat.protocol import events, frames
from chat.realtime import db_threads, effects, groups
from chat.realtime.broadcast import layer_message
from chat.realtime.feeds import Feed
from chat.security.origins import scope_is_same_origin
from chat.selectors import agents
from chat.selectors import conversations as selectors
from chat.selectors.access import (
    access_assignee_for_site,
    access_conversation_for_agent,
    access_desk,
    access_reply_for_agent,
)
from chat.services import conversations, labels, presence, replies
from chat.services.revocation import agent_group, session_fingerprint
from chat.transports.base import CLOSE_FORBIDDEN, CLOSE_RESTARTING, CLOSE_UNAUTHORIZED, ParleyConsumer

logger = logging.getLogger(__name__)


class AgentConsumer(ParleyConsumer):
    """An agent's inbox and the conversations it opened."""

    handlers = {
        "subscribe": "handle_subscribe",
        "unsubscribe": "handle_unsubscribe",
        "message.send": "handle_message_send",
        "conversation.assign": "handle_assign",
        "conversation.resolve": "handle_resolve",
        "conversation.reopen": "handle_reopen",
        "bot.pause": "handle_bot_pause",
        "bot.resume": "handle_bot_resume",
        "reply.stop": "handle_reply_stop",
        "label.add": "handle_label_add",
        "label.remove": "handle_label_remove",
        "presence": "handle_presence",
        "typing": "handle_typing",
        "read": "handle_read",
        "ping": "handle_ping",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None
        self.session_key: str | None = None  # the login this socket was opened with; it must stay alive
        self.access_group: str | None = None
        self.site_ids: list[int] = []
        self.subscribed: dict[int, int] = {}  # conversation id -> its site
        self.feed: Feed | None = None
        self.typing_sent: dict[int, tuple[bool, float]] = {}

    async def connect(self):
        """Called when the socket opens: same-origin, logged-in agents only; then the inbox."""
        await self.accept()
        user = self.scope.get("user")
        if not scope_is_same_origin(self.scope):
            await self.close_with(CLOSE_FORBIDDEN)
            return
        if user is None or not user.is_authenticated:
            await self.close_with(CLOSE_UNAUTHORIZED)
            return
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        # The user's own group carries no data, only "check your access again"; joined before the check,
        # so a change of access between the check and the join is not missed.
        self.access_group = agent_group(user.pk)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
        site_ids = await db_threads.run(access_desk, user_id=user.pk, session_key=self.session_key)
        if site_ids is None:
            await self.close_with(CLOSE_FORBIDDEN)
            return
        self.user = user
        self.feed = Feed(self.channel_name)
        self.site_ids = site_ids
        for site_id in self.site_ids:
            await self.channel_layer.group_add(groups.site_group(site_id), self.channel_name)
        status = await effects.call(
            presence.presence_connect, user=user, channel_name=self.channel_name, lane=("presence", user.pk)
        )
        welcome = await db_threads.run(self._welcome, status)
        await self.send_event(welcome)

    def _welcome(self, status: str) -> dict:
        return {
            "type": "welcome",
            "agent": {"id": self.user.pk, "name": self.user.first_name or self.user.get_username(), "status": status},
            "sites": self.site_ids,
            "presence": agents.presence_list(self.site_ids),
            "queues": selectors.queue_counts(self.site_ids),
        }

    async def disconnect(self, code):
        """Called when the socket closes: leave groups; presence drops only with the last tab."""
        if self.access_group is not None:
            await self.channel_layer.group_discard(self.access_group, self.channel_name)
        if self.user is None:
            return
        for site_id in self.site_ids:
            await self.channel_layer.group_discard(groups.site_group(site_id), self.channel_name)
        for conversation_id in self.subscribed:
            await self.channel_layer.group_discard(groups.conversation_group(conversation_id), self.channel_name)
        await effects.call(
            presence.presence_disconnect,
            user=self.user,
            channel_name=self.channel_name,
            lane=("presence", self.user.pk),
        )

    def _access(self, conversation_id: int):
        """A conversation of the sites this socket serves (read at connect, refreshed on every ping and access change)."""
        return access_conversation_for_agent(user=self.user, conversation_id=conversation_id, site_ids=self.site_ids)

    async def _conversation(self, frame: dict):
        conversation_id = frames.integer(frame, "conversation", minimum=1)
        return await db_threads.run(self._access, conversation_id)

    async def _act(self, frame: dict, service, **kwargs) -> None:
        """Check access to the frame's conversation and run a service on it, in one database trip."""
        conversation_id = frames.integer(frame, "conversation", minimum=1)
        await effects.call(lambda: service(conversation=self._access(conversation_id), **kwargs), lane=conversation_id)

    async def handle_subscribe(self, frame: dict) -> None:
        """Follow a conversation live, after a replay from the cursor (notes included)."""
        cursor = frames.cursor(frame)
        conversation = await self._conversation(frame)
        await self.channel_layer.group_add(groups.conversation_group(conversation.pk), self.channel_name)
        self.subscribed[conversation.pk] = conversation.site_id

        def read():  # the replay and the conversation's labels, in one trip to the database thread
            replay = selectors.conversation_replay(conversation=conversation, cursor=cursor, audience=selectors.AGENTS)
            return replay, events.conversation_agent_payload(conversation)

        replay, payload = await db_threads.run(read)
        await self.feed.start(conversation.pk, cursor, replay)
        await self.send_event(
            {
                "type": "subscribed",
                "conversation": payload,
                "events": replay.events,
                "cursor": str(replay.head),
                "more": replay.more,
            }
        )

    async def handle_unsubscribe(self, frame: dict) -> None:
        """Stop following a conversation."""
        conversation_id = frames.integer(frame, "conversation", minimum=1)
        await self._unfollow(conversation_id)
        await self.send_event({"type": "unsubscribed", "conversation": conversation_id})

    async def _unfollow(self, conversation_id: int) -> None:
        if self.subscribed.pop(conversation_id, None) is not None:
            self.feed.forget(conversation_id)
            await self.channel_layer.group_discard(groups.conversation_group(conversation_id), self.channel_name)

    async def handle_message_send(self, frame: dict) -> None:
        """Answer the customer, or leave a private note with `internal: true`."""
        client_id = frames.client_id(frame)
        attachment_ids = frames.attachment_ids(frame, client_id)
        body = frames.body(frame, client_id, may_be_empty=bool(attachment_ids))
        internal = frames.boolean(frame, "internal", default=False)
        conversation_id = frames.integer(frame, "conversation", minimum=1)

        def send():  # one trip to the database thread; usually one statement (not with files)
            result = None
            if not attachment_ids:
                result = conversations.agent_message_send_fast(
                    agent=self.user,
                    site_ids=self.site_ids,
                    conversation_id=conversation_id,
                    client_id=client_id,
                    body=body,
                    internal=internal,
                )
            return result or conversations.agent_message_send(
                agent=self.user,
                conversation=self._access(conversation_id),
                client_id=client_id,
                body=body,
                internal=internal,
                attachment_ids=attachment_ids,
            )

        # Returns once the message's events have left for the other tabs and the agents: then the ack.
        result = await effects.call(send, lane=conversation_id)
        await self.send_event(events.message_ack(result.message, client_id))

    async def handle_assign(self, frame: dict) -> None:
        """Assign to an agent of the conversation's site, or back to the queue with null."""
        agent_id = frames.nullable_integer(frame, "agent")

        def assign(conversation):
            assignee = (
                None if agent_id is None else access_assignee_for_site(site_id=conversation.site_id, agent_id=agent_id)
            )
            conversations.conversation_assign(conversation=conversation, assignee=assignee)

        await self._act(frame, assign)

    async def handle_resolve(self, frame: dict) -> None:
        """Resolve a conversation."""
        await self._act(frame, conversations.conversation_resolve)

    async def handle_reopen(self, frame: dict) -> None:
        """Reopen a resolved conversation."""
        await self._act(frame, conversations.conversation_reopen)

    async def handle_label_add(self, frame: dict) -> None:
        """Put a label on a conversation (the site's label is created on first use)."""
        await self._act(frame, labels.conversation_label_add, name=_label(frame))

    async def handle_label_remove(self, frame: dict) -> None:
        """Take a label off a conversation."""
        await self._act(frame, labels.conversation_label_remove, name=_label(frame))

    async def handle_bot_pause(self, frame: dict) -> None:
        """Take over from the bot."""
        await self._act(frame, conversations.conversation_bot_pause, agent=self.user)

    async def handle_bot_resume(self, frame: dict) -> None:
        """Hand the conversation back to the bot."""
        await self._act(frame, conversations.conversation_bot_resume)

    async def handle_reply_stop(self, frame: dict) -> None:
        """Stop the bot's reply in a conversation of this agent's sites."""
        reply_id = frames.integer(frame, "reply_id", minimum=1)

        reply = await db_threads.run(access_reply_for_agent, user=self.user, reply_id=reply_id, site_ids=self.site_ids)
        await replies.reply_stop_now(reply)

    async def handle_presence(self, frame: dict) -> None:
        """The agent chose online or away."""
        status = frames.choice(frame, "status", ("online", "away"))
        await effects.call(presence.presence_set, user=self.user, status=status, lane=("presence", self.user.pk))

    def groups_to_keep(self) -> list[str]:
        """The agent's sites and the conversations it follows."""
        if self.user is None:
            return []
        return [
            self.access_group,
            *(groups.site_group(site_id) for site_id in self.site_ids),
            *(groups.conversation_group(conversation_id) for conversation_id in self.subscribed),
        ]

    async def handle_ping(self, frame: dict) -> None:
        """Keep-alive that proves the tab is there; re-checks the agent's access; the pong names head cursors."""
        following = sorted(self.subscribed)

        def refresh():  # one trip: presence, the sites this agent may still see, and the heads
            presence.presence_touch(channel_name=self.channel_name)
            site_ids = access_desk(user_id=self.user.pk, session_key=self.session_key)
            heads = {
                conversation_id: selectors.conversation_head(conversation_id=conversation_id, audience=selectors.AGENTS)
                for conversation_id in following
            }
            return site_ids, heads

        site_ids, heads = await db_threads.run(refresh)
        if site_ids is None:  # logged out, deactivated, or no longer an agent
            await self.close_with(CLOSE_FORBIDDEN)
            return
        await self._serve_sites(site_ids)
        await self.rejoin_groups()
        pong = {"type": "pong"}
        if self.subscribed:
            pong["heads"] = {str(c): str(head) for c, head in heads.items() if c in self.subscribed}
        await self.send_event(pong)

    async def _serve_sites(self, site_ids: list[int]) -> None:
        """Follow the sites the agent serves now: leave removed ones and their conversations, join new ones."""
        removed = set(self.site_ids) - set(site_ids)
        added = set(site_ids) - set(self.site_ids)
        self.site_ids = site_ids  # from here on `deliver` drops what is still queued for the removed sites
        for site_id in removed:
            await self.channel_layer.group_discard(groups.site_group(site_id), self.channel_name)
        for conversation_id in [c for c, site_id in self.subscribed.items() if site_id in removed]:
            await self._unfollow(conversation_id)
        for site_id in sorted(added):
            await self.channel_layer.group_add(groups.site_group(site_id), self.channel_name)

    async def agent_access(self, message: dict) -> None:
        """Called when this user's access may have changed (chat/services/revocation.py): check it again now."""
        if self.user is None or self.closed:
            return
        if message.get("ended_session") == session_fingerprint(self.session_key or ""):
            await self.close_with(CLOSE_FORBIDDEN)  # this very login was just logged out
            return
        try:
            site_ids = await db_threads.run(access_desk, user_id=self.user.pk, session_key=self.session_key)
        except Exception:
            # Unsure whether the access still holds: the desk reconnects, and connecting checks it.
            logger.warning("could not re-check the access of agent %s", self.user.pk, exc_info=True)
            await self.close_with(CLOSE_RESTARTING)
            return
        if site_ids is None:
            await self.close_with(CLOSE_FORBIDDEN)
            return
        await self._serve_sites(site_ids)

    async def handle_typing(self, frame: dict) -> None:
        """Relay typing to the customer (not for notes) and to other agents, throttled."""
        active = frames.boolean(frame, "active")
        internal = frames.boolean(frame, "internal", default=False)
        conversation = await self._conversation(frame)
        last_active, last_at = self.typing_sent.get(conversation.pk, (False, 0.0))
        now = time.monotonic()
        if active == last_active and now - last_at < settings.PARLEY_TYPING_THROTTLE:
            return
        self.typing_sent[conversation.pk] = (active, now)
        author = {"kind": "agent", "name": self.user.first_name or self.user.get_username(), "id": self.user.pk}
        event = events.typing(conversation_id=conversation.pk, author=author, active=active)
        targets = [groups.conversation_group(conversation.pk)]
        if not internal:
            targets.append(groups.visitor_group(conversation.visitor_id))
        for group in targets:
            await self.channel_layer.group_send(group, layer_message(event))

    async def handle_read(self, frame: dict) -> None:
        """The agent has seen everything up to `seq`."""
        seq = frames.integer(frame, "seq")
        await self._act(frame, conversations.conversation_mark_read, by="agent", seq=seq)

    async def deliver(self, event: dict) -> None:
        """Forward an event, minus what a subscribe replay already gave, our own typing, and what we no longer serve."""
        if self.user is None or not self._still_served(event):
            return
        if (
            event.get("type") == "typing"
            and event["author"].get("id") == self.user.pk
            and event["author"]["kind"] == "agent"
        ):
            return
        if self.feed.accept(event):
            await self.send_event(event)

    def _still_served(self, event: dict) -> bool:
        """False for an event of a site or conversation this socket has left but that was already on its way."""
        conversation = event.get("conversation")
        if isinstance(conversation, dict):  # the inbox: the whole conversation, with its site
            return conversation.get("site") in self.site_ids
        if isinstance(conversation, int):  # a followed conversation's events
            return conversation in self.subscribed
        if event.get("type") == "queue":
            return event.get("site") in self.site_ids
        return True


def _label(frame: dict) -> str:
    """The frame's `label`, as the label's canonical name."""
    try:
        return labels.label_name_clean(frame.get("label"))
    except ValueError as exc:
        raise frames.ProtocolError("bad_request", f"`label`: {exc}", str(frame.get("type"))) from None
