"""What both consumers share: frame decoding, dispatch, error frames and close codes."""

from __future__ import annotations

import itertools
import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError

from chat import metrics
from chat.protocol import events, frames
from chat.realtime import registry
from chat.realtime.dispatch import DirectDispatch
from chat.realtime.layer_errors import LAYER_ERRORS, ResilientLayerReceive
from chat.security.ratelimit import Limit, RateLimited, Refusal, Windows
from chat.selectors.access import NotFound
from chat.services.errors import ConversationError

logger = logging.getLogger(__name__)

# Close codes (docs/protocol.md, "Close codes"). Daphne's WebSocket library (autobahn) lets an
# application close only with 1000 or 3000-4999, so the standard 1009 (too big) and 1012
# (service restart) go out as 4009 and 4012.
CLOSE_TOO_LARGE = 4009
CLOSE_RESTARTING = 4012
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
# Over a connection cap (PARLEY_CONNECTIONS_PER_VISITOR / _PER_IP), after an `error rate_limited` with retry_after.
CLOSE_RATE_LIMITED = 4429


class ParleyConsumer(DirectDispatch, ResilientLayerReceive, AsyncWebsocketConsumer):
    """Decodes JSON frames, dispatches them by `type`, and turns refusals into `error` frames."""

    #: frame type -> handler method name; each subclass lists what it accepts.
    handlers: dict[str, str] = {}

    @property
    def kind(self) -> str:
        """A label for metrics: "customer" for CustomerConsumer, "agent" for AgentConsumer."""
        return type(self).__name__.removesuffix("Consumer").lower()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.closed = False
        # This socket's own frame limits (typing, read, ping): no other process needs to know them.
        self.frame_windows = Windows()
        self.frame_numbers = itertools.count()

    async def on_layer_lost(self) -> None:
        """The layer is gone (and with it our groups): the client reconnects, re-joins and resumes."""
        if not self.closed:
            logger.warning("channel layer lost; asking the client to reconnect")
            await self.close_with(CLOSE_RESTARTING)

    def groups_to_keep(self) -> list[str]:
        """The groups this socket belongs to (re-joined on every ping)."""
        return []

    async def rejoin_groups(self) -> None:
        """Join our groups again: idempotent, renews their expiry, and restores them after a layer restart."""
        for group in self.groups_to_keep():
            await self.channel_layer.group_add(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Called with each frame; never lets an exception reach the server."""
        frame = None
        try:
            frame = frames.decode(text_data, bytes_data)
            handler_name = self.handlers.get(frame["type"])
            if handler_name is None:
                raise frames.ProtocolError(
                    "bad_request", f"Unknown frame type {frame['type'][:64]!r}.", frame["type"][:64]
                )
            self.check_ready(frame["type"])
            await getattr(self, handler_name)(frame)
        except frames.FrameTooLarge:
            await self.close_with(CLOSE_TOO_LARGE)
        except frames.ProtocolError as exc:
            await self.send_event(error_frame(exc))
        except NotFound:
            await self.send_event(events.error("not_found", "No such conversation or message.", _ref(frame)))
        except ConversationError as exc:
            await self.send_event(events.error(exc.code, exc.detail, _ref(frame)))
        except LAYER_ERRORS:
            logger.warning("channel layer lost while handling a %s frame", _ref(frame), exc_info=True)
            await self.close_with(CLOSE_RESTARTING)
        except DatabaseError:
            logger.warning("database error while handling a %s frame", _ref(frame), exc_info=True)
            await self.send_event(
                events.error("unavailable", "Could not save right now; retry with the same client_id.", _ref(frame))
            )
        except Exception:
            logger.exception("unexpected error while handling a %s frame", _ref(frame))
            await self.send_event(events.error("internal", "Something went wrong on our side.", _ref(frame)))

    async def websocket_connect(self, message):
        """Called when the socket opens; counted until it closes."""
        registry.register(self)
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message):
        """Called when the socket closes; the registry lets go once our disconnect work is done."""
        try:
            await super().websocket_disconnect(message)
        finally:
            registry.unregister(self)

    async def close_for_restart(self) -> None:
        """This process is shutting down: tell the client to reconnect elsewhere and resume."""
        await self.close_with(CLOSE_RESTARTING)

    def check_ready(self, frame_type: str) -> None:
        """Raise ProtocolError when the socket may not take this frame yet."""

    def check_frame_rate(self, name: str, rate: tuple[int, float], frame_type: str) -> None:
        """Count a frame against this socket's limit `name` (count, seconds); raise RateLimited once it is spent."""
        refusal = self.frame_windows.hit([Limit.of(name, "socket", rate)], str(next(self.frame_numbers)))
        if refusal is not None:
            metrics.RATE_LIMITED.inc(name)
            raise RateLimited(refusal, f"Too many {frame_type} frames; wait a moment.", frame_type)

    async def close_rate_limited(self, refusal: Refusal, ref: str | None = None) -> None:
        """Over a connection cap: say when there will be room, then close with 4429."""
        refused = RateLimited(refusal, "Too many open connections for this visitor or address.", ref)
        await self.send_event(error_frame(refused))
        await self.close_with(CLOSE_RATE_LIMITED)

    async def send_event(self, event: dict) -> None:
        """Send one frame as compact JSON, unless the socket is closing."""
        if not self.closed:
            await self.send(text_data=json.dumps(event, separators=(",", ":"), ensure_ascii=False))

    async def close_with(self, code: int) -> None:
        """Close once with a protocol close code."""
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def parley_event(self, message: dict) -> None:
        """Called with each event from the channel layer."""
        try:
            await self.deliver(message["event"])
        except Exception:
            # One bad event must not take the socket down; the client repairs gaps by resuming.
            logger.exception("could not deliver a %s event", message.get("event", {}).get("type"))

    async def deliver(self, event: dict) -> None:
        """Forward a layer event to the client (subclasses filter)."""
        await self.send_event(event)

    async def handle_ping(self, frame: dict) -> None:
        """Answer a keep-alive, and re-join our groups (a restarted layer forgot them)."""
        await self.rejoin_groups()
        await self.send_event({"type": "pong"})


def error_frame(exc: frames.ProtocolError) -> dict:
    """The `error` frame of a refusal; a rate limit's says in how many seconds to try again."""
    frame = events.error(exc.code, exc.detail, exc.ref)
    if isinstance(exc, RateLimited):
        frame["retry_after"] = exc.retry_after
    return frame


def _ref(frame: dict | None) -> str | None:
    """The refused frame's client_id, or its type."""
    if not isinstance(frame, dict):
        return None
    ref = frame.get("client_id") or frame.get("type")
    return str(ref)[:64] if ref is not None else None
