"""A verified visitor's token opens the account's history only for a while after the identity hash,
and `Parley.reset()` (POST .../session/revoke) revokes every token of the visitor at once: on `hello`,
on the SSE endpoints, and on sockets and streams already open. Everything through the real ASGI application.
"""

import json
import time
import uuid
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator, HttpCommunicator

from chat.models import Visitor
from chat.security import tokens
from chat.services.visitors import identity_hash
from tests.conftest import (
    SHOP_ORIGIN,
    application,
    close_code,
    make_site,
    open_customer,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 60 * 60


async def http(method: str, path: str, *, token: str | None = None, body: dict | None = None, origin=SHOP_ORIGIN):
    """One request through the application, as the widget sends it; return (status, JSON answer)."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    payload = json.dumps(body).encode() if body is not None else b""
    communicator = HttpCommunicator(application(), method, path, payload, headers)
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)
    return response["status"], json.loads(response["body"]) if response["body"] else {}


async def session(site, **body) -> dict:
    """POST /api/widget/<site>/session; the answer."""
    status, answer = await http("POST", f"/api/widget/{site.key}/session", body=body)
    assert status == 200, answer
    return answer


async def verified_session(site, user_id: str = "u-42", **body) -> dict:
    """A session with the identity hash, as `Parley.identify` makes the widget ask for."""
    return await session(site, user_id=user_id, user_hash=identity_hash(secret="s3cret", user_id=user_id), **body)


async def revoke(site, token: str | None, origin=SHOP_ORIGIN) -> tuple[int, dict]:
    """`Parley.reset()`: the frame revokes its token."""
    return await http("POST", f"/api/widget/{site.key}/session/revoke", token=token, origin=origin)


async def refused_on_hello(token: str) -> int:
    """The close code a hello with this token gets."""
    socket, _ = await open_customer(token, expect_welcome=False)
    return await close_code(socket)


async def sse_statuses(token: str) -> dict[str, int]:
    """What each SSE endpoint answers this token (GET /api/widget/events is refused before it streams)."""
    return {
        "events": (await http("GET", "/api/widget/events", token=token))[0],
        "ticket": (await http("POST", "/api/widget/ticket", token=token))[0],
        "messages": (
            await http("POST", "/api/widget/messages", token=token, body={"client_id": str(uuid.uuid4()), "body": "hi"})
        )[0],
        "handoff": (await http("POST", "/api/widget/handoff", token=token))[0],
    }


REFUSED = {"events": 401, "ticket": 401, "messages": 401, "handoff": 401}


@pytest.fixture
def a_day_later(monkeypatch):
    """Move the clock tokens are judged by past PARLEY_VERIFIED_SESSION_MAX_AGE (the layer's clock stays)."""

    def advance(seconds: float = DAY + 60) -> None:
        real = time.time
        monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: real() + seconds), raising=False)

    return advance


# --- the verified session's lifetime -----------------------------------------------------------------


async def test_a_verified_token_opens_the_accounts_history_within_its_lifetime(site):
    token = (await verified_session(site))["visitor_token"]
    socket, _ = await open_customer(token)
    await send_message(socket, "my order 1234 never came")
    await socket.disconnect()

    other_tab, welcome = await open_customer(token)
    assert welcome["visitor"]["verified"] is True
    assert [event["message"]["body"] for event in welcome["events"]] == ["my order 1234 never came"]
    await other_tab.disconnect()


async def test_a_verified_visitors_bare_token_gets_no_history_after_the_lifetime(site, a_day_later):
    verified = await verified_session(site)
    token = verified["visitor_token"]
    socket, _ = await open_customer(token)
    await send_message(socket, "my order 1234 never came")
    await socket.disconnect()

    a_day_later()
    assert await refused_on_hello(token) == 4401
    assert await sse_statuses(token) == REFUSED
    # The session call with the token alone starts someone new, as it always did.
    fresh = await session(site, token=token)
    assert fresh["visitor"]["verified"] is False
    assert fresh["visitor"]["id"] != verified["visitor"]["id"]


async def test_the_identity_hash_again_renews_a_verified_session_and_its_history(site, a_day_later):
    first = await verified_session(site)
    socket, _ = await open_customer(first["visitor_token"])
    await send_message(socket, "my order 1234 never came")
    await socket.disconnect()

    a_day_later(DAY - 60)  # the widget re-sends the hash on every session call, as on every page load
    again = await verified_session(site, token=first["visitor_token"])
    a_day_later(DAY + 60)  # a day after the first check, less than a day after the second
    assert again["visitor"]["id"] == first["visitor"]["id"]
    assert await refused_on_hello(first["visitor_token"]) == 4401
    socket, welcome = await open_customer(again["visitor_token"])
    assert [event["message"]["body"] for event in welcome["events"]] == ["my order 1234 never came"]
    await socket.disconnect()


async def test_an_anonymous_visitors_token_keeps_its_90_days(site, a_day_later):
    token = (await session(site))["visitor_token"]
    a_day_later(30 * DAY)
    socket, welcome = await open_customer(token)
    assert welcome["visitor"]["verified"] is False
    await socket.disconnect()


# --- Parley.reset(): revoking every token of the visitor ---------------------------------------------


async def test_reset_refuses_every_tab_of_the_visitor_on_hello(site):
    laptop = (await verified_session(site))["visitor_token"]
    phone = (await verified_session(site))["visitor_token"]  # the same account from another device
    socket, _ = await open_customer(laptop)
    await send_message(socket, "my order 1234 never came")
    await socket.disconnect()

    status, answer = await revoke(site, laptop)
    assert (status, answer) == (200, {"revoked": True})
    assert await refused_on_hello(laptop) == 4401
    assert await refused_on_hello(phone) == 4401


async def test_reset_refuses_old_tokens_on_the_sse_endpoints(site):
    token = (await verified_session(site))["visitor_token"]
    assert (await http("POST", "/api/widget/ticket", token=token))[0] == 200
    ticket = (await http("POST", "/api/widget/ticket", token=token))[1]["ticket"]

    assert (await revoke(site, token))[0] == 200
    assert await sse_statuses(token) == REFUSED
    status, _ = await http("GET", f"/api/widget/events?ticket={ticket}")  # a ticket taken before the reset
    assert status == 401


async def test_reset_closes_the_visitors_open_sockets(site):
    token = (await verified_session(site))["visitor_token"]
    socket, _ = await open_customer(token)
    other_tab, _ = await open_customer(token)

    assert (await revoke(site, token))[0] == 200
    assert await close_code(socket) == 4401
    assert await close_code(other_tab) == 4401


async def test_reset_ends_the_visitors_open_event_stream(site):
    token = (await verified_session(site))["visitor_token"]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/api/widget/events",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
    }
    stream = ApplicationCommunicator(application(), scope)
    await stream.send_input({"type": "http.request", "body": b""})
    assert (await stream.receive_output(timeout=5))["status"] == 200
    body = b""
    while b"event: welcome" not in body:
        body += (await stream.receive_output(timeout=5))["body"]

    assert (await revoke(site, token))[0] == 200
    while True:
        output = await stream.receive_output(timeout=5)
        if not output.get("more_body", False):
            break
    await stream.wait(timeout=5)


async def test_after_reset_the_account_needs_the_hash_and_the_bare_token_resumes_nobody(site):
    token = (await verified_session(site))["visitor_token"]
    socket, _ = await open_customer(token)
    await send_message(socket, "my order 1234 never came")
    await socket.disconnect()
    assert (await revoke(site, token))[0] == 200

    stranger = await session(site, token=token)
    assert stranger["visitor"]["verified"] is False
    assert stranger["visitor"]["id"] != tokens.visitor_token_read(token).visitor_id
    again = await verified_session(site)
    socket, welcome = await open_customer(again["visitor_token"])
    assert welcome["visitor"]["verified"] is True
    assert [event["message"]["body"] for event in welcome["events"]] == ["my order 1234 never came"]
    await socket.disconnect()


async def test_reset_of_an_anonymous_visitor_starts_someone_new(site):
    token = (await session(site, name="Cleo"))["visitor_token"]
    assert (await revoke(site, token))[0] == 200
    assert await refused_on_hello(token) == 4401
    fresh = await session(site, token=token)
    assert fresh["visitor"]["id"] != tokens.visitor_token_read(token).visitor_id
    assert fresh["visitor"]["name"] == ""


async def test_revoke_is_refused_without_a_live_token_of_the_site_or_from_a_foreign_origin(site, visitor):
    other = await database_sync_to_async(make_site)("Other")
    token = token_for(visitor)
    assert (await revoke(site, None))[0] == 401
    assert (await revoke(site, "forged"))[0] == 401
    assert (await revoke(other, token))[0] == 401
    status, answer = await revoke(site, token, origin="https://evil.example")
    assert (status, answer["error"]["code"]) == (403, "origin_not_allowed")
    assert (await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)).token_version == 0

    assert (await revoke(site, token))[0] == 200
    assert (await revoke(site, token))[0] == 401  # a retried reset: that token is already dead
    assert (await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)).token_version == 1
