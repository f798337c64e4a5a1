"""Shared fixtures: sites, visitors, agents, and sockets connected to the real ASGI application."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import AgentProfile, Site, Visitor
from chat.protocol.schemas import AGENT, CUSTOMER, SchemaError, check_event
from chat.security import tokens

SHOP_ORIGIN = "https://shop.example"
DASHBOARD_ORIGIN = "http://testserver"


def make_site(name: str = "Shop", *, bot: bool = False, **fields) -> Site:
    return Site.objects.create(
        name=name, allowed_origins=[SHOP_ORIGIN], identity_secret="s3cret", bot_enabled=bot, **fields
    )


def make_visitor(site: Site, **fields) -> Visitor:
    return Visitor.objects.create(site=site, **fields)


def make_agent(username: str, *sites: Site, staff: bool = False):
    user = get_user_model().objects.create_user(
        username=username, password="pw", first_name=username.title(), is_staff=staff
    )
    if sites or not staff:
        profile = AgentProfile.objects.create(user=user)
        profile.sites.set(sites)
    return user


def token_for(visitor: Visitor) -> str:
    return tokens.visitor_token_issue(visitor_id=visitor.pk, site_id=visitor.site_id)


@pytest.fixture
def site(transactional_db):
    return make_site()


@pytest.fixture
def visitor(site):
    return make_visitor(site, name="Cleo", email="cleo@example.com")


@pytest.fixture
def agent(site):
    return make_agent("sam", site)


def new_client_id() -> str:
    return str(uuid.uuid4())


def login_cookie(user) -> str:
    """A session cookie header value for `user`, as the dashboard's browser would send."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def application():
    from chatsite.asgi import application as app

    return app


#: Who a socket's frames are for, by its path: their shapes differ (docs/protocol.md, sections 3 and 4).
AUDIENCE_OF_PATH = {"/ws/widget/": CUSTOMER, "/ws/agent/": AGENT}


def check_frame(communicator, frame: dict) -> dict:
    """Hold a frame the server sent to the wire contract (chat/protocol/schemas.py); return it."""
    audience = AUDIENCE_OF_PATH.get(communicator.scope.get("path"))
    try:
        check_event(frame, audience=audience)
    except SchemaError as exc:
        raise AssertionError(f"the server sent a frame outside docs/protocol.md: {exc}\n{frame!r}") from None
    return frame


class CheckedCommunicator(WebsocketCommunicator):
    """A WebsocketCommunicator that checks every text frame the server sends against the protocol's schemas."""

    async def receive_output(self, timeout=1):
        """Called by every receive: a JSON frame is checked before the test sees it."""
        output = await super().receive_output(timeout)
        if output.get("type") == "websocket.send" and output.get("text") is not None:
            check_frame(self, json.loads(output["text"]))
        return output


def _check_unless_checked(communicator, frame: dict) -> dict:
    """Check a frame a plain WebsocketCommunicator received (a CheckedCommunicator did already)."""
    return frame if isinstance(communicator, CheckedCommunicator) else check_frame(communicator, frame)


async def open_customer(
    token: str | None,
    *,
    cursor: str = "0.0",
    origin: str = SHOP_ORIGIN,
    conversation: int | None = None,
    expect_welcome: bool = True,
):
    """Connect to /ws/widget/ and say hello; return (communicator, welcome)."""
    communicator = CheckedCommunicator(
        application(), "/ws/widget/", headers=[(b"origin", origin.encode()), (b"host", b"testserver")]
    )
    connected, _ = await communicator.connect()
    assert connected
    hello = {"type": "hello", "token": token, "cursor": cursor}
    if conversation is not None:
        hello["conversation"] = conversation
    await communicator.send_json_to(hello)
    if not expect_welcome:
        return communicator, None
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def open_agent(user, *, origin: str = DASHBOARD_ORIGIN, expect_welcome: bool = True):
    """Connect to /ws/agent/ with the user's session cookie; return (communicator, welcome)."""
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if user is not None:
        cookie = await database_sync_to_async(login_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    communicator = CheckedCommunicator(application(), "/ws/agent/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    if not expect_welcome:
        return communicator, None
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def receive_until(communicator, predicate, *, timeout: float = 5) -> tuple[dict, list[dict]]:
    """Read frames until one matches; return it and the frames before it. Every frame is checked."""
    if isinstance(predicate, str):
        wanted = predicate
        predicate = lambda frame: frame.get("type") == wanted  # noqa: E731
    skipped = []
    while True:
        frame = _check_unless_checked(communicator, await communicator.receive_json_from(timeout=timeout))
        if predicate(frame):
            return frame, skipped
        skipped.append(frame)


async def drain(communicator) -> list[dict]:
    """Every frame already queued for the client, without waiting for more to come; each one checked."""
    frames = []
    while not await communicator.receive_nothing(timeout=0.05):
        frame = json.loads((await communicator.receive_output())["text"])
        frames.append(_check_unless_checked(communicator, frame))
    return frames


async def close_code(communicator, *, timeout: float = 5) -> int:
    """Wait for the server to close the socket, let the consumer finish, and return the close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.send" and output.get("text") is not None:
            _check_unless_checked(communicator, json.loads(output["text"]))  # frames before the close, too
        if output["type"] == "websocket.close":
            await communicator.disconnect()  # the client side of the close: the consumer then exits
            return output.get("code", 1000)


async def send_message(communicator, body: str, *, client_id: str | None = None, **extra) -> dict:
    """Send message.send and wait for its ack."""
    client_id = client_id or new_client_id()
    await communicator.send_json_to({"type": "message.send", "client_id": client_id, "body": body, **extra})
    ack, _ = await receive_until(
        communicator,
        lambda f: f.get("type") in ("message.ack", "error") and f.get("client_id", f.get("ref")) == client_id,
    )
    return ack
