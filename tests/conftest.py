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

from chat.security import tokens
from chat.models import AgentProfile, Site, Visitor

SHOP_ORIGIN = "https://shop.example"
DASHBOARD_ORIGIN = "http://testserver"


def make_site(name: str = "Shop", *, bot: bool = False, **fields) -> Site:
    return Site.objects.create(name=name, allowed_origins=[SHOP_ORIGIN], identity_secret="s3cret",
                               bot_enabled=bot, **fields)


def make_visitor(site: Site, **fields) -> Visitor:
    return Visitor.objects.create(site=site, **fields)


def make_agent(username: str, *sites: Site, staff: bool = False):
    user = get_user_model().objects.create_user(username=username, password="pw", first_name=username.title(),
                                                is_staff=staff)
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


async def open_customer(token: str | None, *, cursor: str = "0.0", origin: str = SHOP_ORIGIN,
                        conversation: int | None = None, expect_welcome: bool = True):
    """Connect to /ws/widget/ and say hello; return (communicator, welcome)."""
    communicator = WebsocketCommunicator(application(), "/ws/widget/",
                                         headers=[(b"origin", origin.encode()), (b"host", b"testserver")])
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
    communicator = WebsocketCommunicator(application(), "/ws/agent/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    if not expect_welcome:
        return communicator, None
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def receive_until(communicator, predicate, *, timeout: float = 5) -> tuple[dict, list[dict]]:
    """Read frames until one matches; return it and the frames before it."""
    if isinstance(predicate, str):
        wanted = predicate
        predicate = lambda frame: frame.get("type") == wanted  # noqa: E731
    skipped = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if predicate(frame):
            return frame, skipped
        skipped.append(frame)


async def drain(communicator) -> list[dict]:
    """Every frame already queued for the client, without waiting for more to come."""
    frames = []
    while not await communicator.receive_nothing(timeout=0.05):
        frames.append(json.loads((await communicator.receive_output())["text"]))
    return frames


async def close_code(communicator, *, timeout: float = 5) -> int:
    """Wait for the server to close the socket, let the consumer finish, and return the close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            await communicator.disconnect()  # the client side of the close: the consumer then exits
            return output.get("code", 1000)


async def send_message(communicator, body: str, *, client_id: str | None = None, **extra) -> dict:
    """Send message.send and wait for its ack."""
    client_id = client_id or new_client_id()
    await communicator.send_json_to({"type": "message.send", "client_id": client_id, "body": body, **extra})
    ack, _ = await receive_until(communicator, lambda f: f.get("type") in ("message.ack", "error")
                                 and f.get("client_id", f.get("ref")) == client_id)
    return ack
