"""Abuse limits through the real ASGI application: sessions, messages, the bot's budget, sockets and streams,
per-socket frames, SSE tickets and sign-ins (docs/protocol.md, section 7; docs/deployment.md, "Limits").

Each limit is made small through settings; a refusal is `error rate_limited` with `retry_after` on a socket,
429 with Retry-After over HTTP, close 4429 for a socket over a connection cap, and a count in /metrics.
"""

import json
import re
import time
import uuid
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import ApplicationCommunicator
from django.utils import timezone

from chat import metrics
from chat.models import Conversation, Message, Visitor
from chat.realtime import groups
from chat.realtime.broadcast import event_in
from tests.conftest import (
    SHOP_ORIGIN,
    CheckedCommunicator,
    application,
    close_code,
    make_agent,
    make_visitor,
    new_client_id,
    open_customer,
    receive_until,
    send_message,
    token_for,
)
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db(transaction=True)

HOUR = 3600  # a window longer than any test: what it counts, it counts for the whole test
ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"


# --- helpers ----------------------------------------------------------------------------------------


def _scope_http(method: str, path: str, ip: str, headers: list) -> dict:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), *headers],
        "client": (ip, 50123),
        "server": ("testserver", 80),
    }


async def http(method: str, path: str, *, ip: str = ADDRESS, headers=(), body: bytes = b"") -> tuple[int, dict, str]:
    """One request through the ASGI application from `ip`; (status, headers by lower-case name, body text)."""
    communicator = ApplicationCommunicator(application(), _scope_http(method, path, ip, list(headers)))
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=5)
    content = b""
    while True:
        chunk = await communicator.receive_output(timeout=5)
        content += chunk.get("body", b"")
        if not chunk.get("more_body"):
            break
    await communicator.wait(timeout=5)
    answer_headers: dict = {}
    for name, value in start["headers"]:
        answer_headers.setdefault(name.decode().lower(), []).append(value.decode())
    return start["status"], {k: v if k == "set-cookie" else v[-1] for k, v in answer_headers.items()}, content.decode()


async def open_stream(path: str, *, ip: str = ADDRESS, headers=()) -> tuple[ApplicationCommunicator, int, dict]:
    """Start a GET whose answer may stream (an event stream); return it with its status and headers."""
    communicator = ApplicationCommunicator(application(), _scope_http("GET", path, ip, list(headers)))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    return communicator, start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}


async def stream_text_until(communicator, needle: str) -> str:
    """Body chunks of a streaming answer until one contains `needle`."""
    text = ""
    while needle not in text:
        text += (await communicator.receive_output(timeout=5))["body"].decode()
    return text


async def close_stream(communicator) -> None:
    """The client goes away; wait until the application has finished with the request."""
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=5)


def bearer(token: str) -> list:
    return [(b"authorization", f"Bearer {token}".encode())]


def json_headers() -> list:
    return [(b"content-type", b"application/json"), (b"origin", SHOP_ORIGIN.encode())]


async def socket_from(ip: str, token: str | None = None):
    """/ws/widget/ from `ip`; with a token, say hello. Returns the communicator and its first frame."""
    communicator = CheckedCommunicator(
        application(), "/ws/widget/", headers=[(b"origin", SHOP_ORIGIN.encode()), (b"host", b"testserver")]
    )
    communicator.scope["client"] = (ip, 40000)
    connected, _ = await communicator.connect()
    assert connected
    if token is None:
        return communicator, None
    await communicator.send_json_to({"type": "hello", "token": token, "cursor": "0.0"})
    return communicator, await communicator.receive_json_from(timeout=5)


def assert_refusal(frame: dict, ref: str | None) -> None:
    """An `error rate_limited` that says when to try again."""
    assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
    assert frame.get("ref") == ref
    assert isinstance(frame["retry_after"], int) and frame["retry_after"] >= 1, frame


def assert_http_refusal(status: int, headers: dict, body: str) -> int:
    """429, Retry-After, and the JSON error with `retry_after`; returns the seconds."""
    assert status == 429, (status, body)
    error = json.loads(body)["error"]
    assert error["code"] == "rate_limited"
    assert int(headers["retry-after"]) == error["retry_after"] >= 1
    return error["retry_after"]


async def session(site, *, ip: str = ADDRESS) -> tuple[int, dict, str]:
    return await http("POST", f"/api/widget/{site.key}/session", ip=ip, headers=json_headers(), body=b"{}")


async def frames_until_pong(communicator) -> list[dict]:
    """Send a ping and return every frame before its pong: the frames sent before it were all handled."""
    await communicator.send_json_to({"type": "ping"})
    _, before = await receive_until(communicator, "pong")
    return before


def count(model, **lookup) -> int:
    return model.objects.filter(**lookup).count()


def refused_so_far(limit: str) -> float:
    """This process's parley_rate_limited_total for one limit."""
    return metrics.REGISTRY.get_sample_value("parley_rate_limited_total", {"limit": limit}) or 0


# --- 1. minting visitors does not mint budgets ------------------------------------------------------


async def test_sessions_are_limited_per_address_and_another_address_still_gets_one(site, settings):
    settings.PARLEY_SESSION_IP_RATE = (3, HOUR)
    for _ in range(3):
        status, _, _ = await session(site)
        assert status == 200
    assert_http_refusal(*await session(site))
    assert await database_sync_to_async(count)(Visitor) == 3  # the refused call stored nothing
    status, _, _ = await session(site, ip=OTHER_ADDRESS)
    assert status == 200


async def test_sessions_are_limited_per_site_whatever_the_address(site, settings):
    settings.PARLEY_SESSION_SITE_RATE = (2, HOUR)
    assert [(await session(site, ip=f"192.0.2.{n}"))[0] for n in (1, 2)] == [200, 200]
    assert_http_refusal(*await session(site, ip="192.0.2.3"))


async def test_fresh_visitors_from_one_address_share_its_message_budget(site, settings):
    settings.PARLEY_SEND_IP_RATE = (4, HOUR)
    visitors = [await database_sync_to_async(make_visitor)(site) for _ in range(3)]
    sockets = [(await socket_from(ADDRESS, token_for(v)))[0] for v in visitors]
    answers = [await send_message(socket, f"{n}-{m}") for n, socket in enumerate(sockets) for m in range(2)]
    assert [a["type"] for a in answers] == ["message.ack"] * 4 + ["error"] * 2
    for refused in answers[4:]:
        assert_refusal(refused, refused["ref"])
    # Over HTTP the same budget: a fourth visitor from the address is refused too.
    fourth = await database_sync_to_async(make_visitor)(site)
    status, headers, body = await http(
        "POST",
        "/api/widget/messages",
        headers=[*bearer(token_for(fourth)), *json_headers()],
        body=json.dumps({"client_id": new_client_id(), "body": "hi"}).encode(),
    )
    assert_http_refusal(status, headers, body)
    assert await database_sync_to_async(count)(Message) == 4
    elsewhere, _ = await socket_from(OTHER_ADDRESS, token_for(await database_sync_to_async(make_visitor)(site)))
    assert (await send_message(elsewhere, "from another address"))["type"] == "message.ack"
    for socket in [*sockets, elsewhere]:
        await socket.disconnect()


async def test_a_site_message_budget_holds_across_addresses(site, settings):
    settings.PARLEY_SEND_SITE_RATE = (2, HOUR)
    answers = []
    for n in range(3):
        visitor = await database_sync_to_async(make_visitor)(site)
        socket, _ = await socket_from(f"192.0.2.{n + 10}", token_for(visitor))
        answers.append(await send_message(socket, "hello"))
        await socket.disconnect()
    assert [a["type"] for a in answers] == ["message.ack", "message.ack", "error"]
    assert_refusal(answers[2], answers[2]["ref"])


@pytest.fixture
def paid_model(settings):
    """The openai provider, against a fake server that counts the model calls."""
    with FakeOpenAI(tokens=["Orders ", "ship ", "today."]) as server:
        settings.AI_PROVIDER = "openai"
        settings.AI_BASE_URL = server.base_url
        settings.AI_API_KEY = "sk-test-secret-key"
        settings.AI_TIMEOUT = 5
        yield server


async def test_over_the_site_bot_budget_a_message_is_stored_and_acked_but_no_model_is_called(
    bot_visitor, paid_model, settings
):
    settings.PARLEY_BOT_SITE_RATE = (1, HOUR)
    refused_before = refused_so_far("bot_site")
    first, _ = await open_customer(token_for(bot_visitor))
    await send_message(first, "When does my order ship?")
    end, _ = await receive_until(first, "reply.end", timeout=10)
    assert end["status"] == "complete" and len(paid_model.requests) == 1

    second_visitor = await database_sync_to_async(make_visitor)(bot_visitor.site)
    second, _ = await open_customer(token_for(second_visitor))
    ack = await send_message(second, "And mine?")
    assert ack["type"] == "message.ack"  # stored and acknowledged, never dropped
    end, _ = await receive_until(second, "reply.end", timeout=10)
    # Ended before any worker was told: the failure line, and the team takes over.
    assert end["status"] == "failed" and end["body"]
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.owner == Conversation.Owner.QUEUE
    assert await database_sync_to_async(count)(Message, pk=ack["id"], body="And mine?") == 1
    assert len(paid_model.requests) == 1
    assert refused_so_far("bot_site") == refused_before + 1
    await first.disconnect()
    await second.disconnect()


async def test_a_message_the_bot_does_not_answer_spends_none_of_its_budget(bot_visitor, settings):
    settings.PARLEY_BOT_SITE_RATE = (1, HOUR)
    await database_sync_to_async(Conversation.objects.create)(  # people have answered: the bot stays quiet
        site=bot_visitor.site, visitor=bot_visitor, owner=Conversation.Owner.QUEUE, first_human_reply_at=timezone.now()
    )
    socket, _ = await open_customer(token_for(bot_visitor))
    for body in ("one", "two", "three"):
        assert (await send_message(socket, body))["type"] == "message.ack"
    assert not await database_sync_to_async(count)(Message, author_kind="bot", conversation__visitor=bot_visitor)
    from chat.security.ratelimit import Limit, rate_hit

    budget = Limit.of("bot_site", f"site:{bot_visitor.site_id}", settings.PARLEY_BOT_SITE_RATE)
    assert await rate_hit([budget]) is None  # each slot held for a reply was given back: the one slot is free
    await socket.disconnect()


# --- 5. frames, sockets and streams ----------------------------------------------------------------


async def test_alternating_typing_frames_are_relayed_at_most_the_typing_rate(visitor, settings):
    settings.PARLEY_TYPING_RATE = (5, HOUR)
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "hello")
    layer = get_channel_layer()
    agents = await layer.new_channel()  # what a subscribed agent's socket would hear
    group = groups.conversation_group(ack["conversation"])
    await layer.group_add(group, agents)
    for n in range(40):
        await socket.send_json_to({"type": "typing", "active": n % 2 == 0})  # every frame flips
    refused = [f for f in await frames_until_pong(socket) if f["type"] == "error"]
    # After five relays every flip is refused; a repeat of the state last relayed is dropped by the 2 s
    # throttle, silently, as it always was.
    assert len(refused) == 18
    for frame in refused:
        assert_refusal(frame, "typing")
    await layer.group_send(group, {"type": "test.end"})
    relayed = []
    while (message := await layer.receive(agents))["type"] != "test.end":
        if (event_in(message) or {}).get("type") == "typing":
            relayed.append(message)
    assert len(relayed) == 5
    await socket.disconnect()


async def test_pings_beyond_the_ping_rate_are_refused(visitor, settings):
    settings.PARLEY_PING_RATE = (5, HOUR)
    socket, _ = await open_customer(token_for(visitor))
    await send_message(socket, "hello")  # a conversation: each pong reads its head from the database
    for _ in range(20):
        await socket.send_json_to({"type": "ping"})
    answers = []
    while len(answers) < 20:  # a refusal goes out before a pong, which waits for its query
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] in ("pong", "error"):
            answers.append(frame)
    assert [f["type"] for f in answers].count("pong") == 5
    for frame in (f for f in answers if f["type"] != "pong"):
        assert_refusal(frame, "ping")
    await socket.disconnect()


async def test_read_receipts_beyond_the_read_rate_are_refused(visitor, settings):
    settings.PARLEY_READ_RATE = (3, HOUR)
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "hello")
    for _ in range(10):
        await socket.send_json_to({"type": "read", "seq": ack["seq"]})
    refused = [f for f in await frames_until_pong(socket) if f["type"] == "error"]
    assert len(refused) == 7
    for frame in refused:
        assert_refusal(frame, "read")
    await socket.disconnect()


async def test_one_visitor_cannot_hold_more_sockets_than_its_cap_and_a_closed_one_frees_its_place(visitor, settings):
    settings.PARLEY_CONNECTIONS_PER_VISITOR = 2
    token = token_for(visitor)
    first, _ = await open_customer(token)
    second, _ = await open_customer(token)
    third, refused = await socket_from(ADDRESS, token)  # another address: the visitor's own cap refuses it
    assert_refusal(refused, "hello")
    assert await close_code(third) == 4429
    await first.disconnect()
    again, welcome = await open_customer(token)
    assert welcome["type"] == "welcome"
    for socket in (second, again):
        await socket.disconnect()


async def test_one_address_cannot_hold_more_sockets_than_its_cap(visitor, settings):
    settings.PARLEY_CONNECTIONS_PER_IP = 2
    held = [(await socket_from(ADDRESS))[0] for _ in range(2)]
    refused, _ = await socket_from(ADDRESS)
    assert_refusal(await refused.receive_json_from(timeout=5), None)
    assert await close_code(refused) == 4429  # before hello: nothing else is spent on it
    elsewhere, welcome = await socket_from(OTHER_ADDRESS, token_for(visitor))
    assert welcome["type"] == "welcome"
    for socket in [*held, elsewhere]:
        await socket.disconnect()


async def test_event_streams_count_with_sockets_and_a_closed_stream_frees_its_place(visitor, settings):
    settings.PARLEY_CONNECTIONS_PER_VISITOR = 2
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    stream, status, headers = await open_stream("/api/widget/events", headers=bearer(token))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    await stream_text_until(stream, "event: welcome")
    refused, status, headers = await open_stream("/api/widget/events", headers=bearer(token))
    body = (await refused.receive_output(timeout=5))["body"].decode()
    assert_http_refusal(status, headers, body)
    await close_stream(stream)
    again, status, _ = await open_stream("/api/widget/events", headers=bearer(token))
    assert status == 200
    await close_stream(again)
    await socket.disconnect()


def test_a_connection_whose_process_died_stops_counting_after_the_ttl():
    from chat.security.ratelimit import Limit, Windows

    cap = [Limit("connections_ip", "ip:192.0.2.1", 2, 60)]
    windows = Windows()
    assert windows.hit(cap, "socket-a", now=0) is None
    assert windows.hit(cap, "socket-b", now=1) is None
    refusal = windows.hit(cap, "socket-c", now=30)
    assert refusal is not None and refusal.limit == "connections_ip" and refusal.retry_after == 30
    assert windows.hit(cap, "socket-b", check=False, now=50) is None  # b pings; a's process died
    assert windows.hit(cap, "socket-c", now=59) is not None
    assert windows.hit(cap, "socket-c", now=60.5) is None  # a lapsed: its place is c's
    assert windows.hit(cap, "socket-a", now=61) is not None


# --- 6. a sliding window, not a fixed one ------------------------------------------------------------


async def test_the_send_limit_is_a_sliding_window_not_a_fixed_one(visitor, settings, monkeypatch):
    settings.PARLEY_SEND_RATE_COUNT = 5
    settings.PARLEY_SEND_RATE_WINDOW = 2
    socket, _ = await open_customer(token_for(visitor))
    # The wall clock stands a hair before a multiple of the window, then a hair after it: a fixed window
    # starts afresh between the two bursts, a sliding one sees ten messages in a tenth of a second.
    edge = (int(time.time()) // 2 + 1) * 2
    clock = [edge - 0.05]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    before = [await send_message(socket, f"before {n}") for n in range(5)]
    clock[0] = edge + 0.05
    after = [await send_message(socket, f"after {n}") for n in range(5)]
    monkeypatch.undo()
    assert [a["type"] for a in before] == ["message.ack"] * 5
    assert [a["type"] for a in after] == ["error"] * 5
    for refused in after:
        assert_refusal(refused, refused["ref"])
    await socket.disconnect()


# --- 7. SSE tickets only open the event stream ---------------------------------------------------------


async def ticket_for(token: str) -> str:
    status, _, body = await http("POST", "/api/widget/ticket", headers=bearer(token))
    assert status == 200
    return json.loads(body)["ticket"]


async def test_a_ticket_cannot_get_another_ticket(visitor):
    ticket = await ticket_for(token_for(visitor))
    status, _, body = await http("POST", f"/api/widget/ticket?ticket={ticket}")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"


async def test_a_ticket_cannot_send_stop_or_hand_off(visitor):
    ticket = await ticket_for(token_for(visitor))
    message = json.dumps({"client_id": new_client_id(), "body": "sent with a ticket"}).encode()
    for path, body in [
        ("/api/widget/messages", message),
        ("/api/widget/handoff", b""),
        ("/api/widget/replies/1/stop", b""),
        ("/api/widget/replies/1/feedback", b'{"helpful": true}'),
    ]:
        status, _, _ = await http("POST", f"{path}?ticket={ticket}", headers=json_headers(), body=body)
        assert status == 401, path
    assert await database_sync_to_async(count)(Message) == 0
    assert await database_sync_to_async(count)(Conversation) == 0


async def test_a_ticket_still_opens_the_event_stream(visitor):
    ticket = await ticket_for(token_for(visitor))
    stream, status, headers = await open_stream(f"/api/widget/events?ticket={ticket}")
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert "event: welcome" in await stream_text_until(stream, "event: welcome")
    await close_stream(stream)


# --- 10. sign-ins ---------------------------------------------------------------------------------------


async def sign_in(path: str, username: str, password: str, *, ip: str) -> tuple[int, dict, str]:
    """Fill the sign-in form at `path` as a browser would (its CSRF cookie and token) and post it."""
    _, headers, page = await http("GET", path, ip=ip)
    cookie = next(c for c in headers["set-cookie"] if c.startswith("csrftoken=")).split(";")[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/agent/"})
    return await http(
        "POST",
        path,
        ip=ip,
        headers=[(b"cookie", cookie.encode()), (b"content-type", b"application/x-www-form-urlencoded")],
        body=form.encode(),
    )


async def test_failed_sign_ins_lock_out_that_address_and_username_even_with_the_right_password(site, settings):
    await database_sync_to_async(make_agent)("sam", site, staff=True)  # password "pw"
    await database_sync_to_async(make_agent)("ana", site)
    locked_before = refused_so_far("login")
    statuses = [(await sign_in("/accounts/login/", "sam", "wrong", ip=ADDRESS))[0] for _ in range(4)]
    assert statuses == [200] * 4  # the form again, with its error
    assert_http_refusal(*await sign_in("/accounts/login/", "sam", "wrong", ip=ADDRESS))  # the fifth locks
    seconds = assert_http_refusal(*await sign_in("/accounts/login/", "sam", "pw", ip=ADDRESS))
    assert seconds == settings.PARLEY_LOGIN_RATE[1]
    assert_http_refusal(*await sign_in("/admin/login/", "sam", "pw", ip=ADDRESS))  # the admin's form too
    assert refused_so_far("login") >= locked_before + 3
    # The lock is for that address and that username: each alone still signs in.
    assert (await sign_in("/accounts/login/", "sam", "pw", ip=OTHER_ADDRESS))[0] == 302
    assert (await sign_in("/accounts/login/", "ana", "pw", ip=ADDRESS))[0] == 302


# --- every refusal is counted in /metrics ------------------------------------------------------------


async def test_refusals_are_counted_in_metrics_by_limit(site, settings):
    settings.PARLEY_SESSION_IP_RATE = (1, HOUR)
    settings.PARLEY_METRICS_TOKEN = "scrape-" + uuid.uuid4().hex
    await session(site)
    before = refused_so_far("session_ip")
    assert_http_refusal(*await session(site))
    assert_http_refusal(*await session(site))
    status, _, text = await http("GET", "/metrics", headers=bearer(settings.PARLEY_METRICS_TOKEN))
    assert status == 200
    series = re.search(r'^parley_rate_limited_total\{(?=[^}]*limit="session_ip")[^}]*\} (\S+)$', text, re.M)
    assert series is not None and float(series.group(1)) == before + 2


async def test_behind_a_proxy_the_address_it_added_is_the_client_and_nothing_else(site, settings):
    settings.PARLEY_SESSION_IP_RATE = (1, HOUR)
    settings.BEHIND_PROXY = True
    spoofed = [(b"x-forwarded-for", b"10.0.0.1, 192.0.2.50")]  # the client wrote 10.0.0.1; our proxy added .50
    assert (await http("POST", "/api/widget/x/session", ip="127.0.0.1", headers=spoofed))[0] == 404
    spoofed = [(b"x-forwarded-for", b"10.0.0.2, 192.0.2.50")]  # a new first entry changes nothing
    assert_http_refusal(*await http("POST", "/api/widget/x/session", ip="127.0.0.1", headers=spoofed))
    settings.BEHIND_PROXY = False  # not behind a proxy: the header is the client's own words, ignored
    status, _, _ = await http(
        "POST", "/api/widget/x/session", ip="192.0.2.60", headers=[(b"x-forwarded-for", b"1.2.3.4")]
    )
    assert status == 404
    assert_http_refusal(*await http("POST", "/api/widget/x/session", ip="192.0.2.60", headers=[]))
