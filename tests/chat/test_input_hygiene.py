"""Text that is not text: lone surrogates and control characters in any field are the client's mistake (section 7).

They are refused with `bad_request` on the sockets and a 400 over HTTP, nothing is stored, the socket stays
usable, and nothing is logged as a server error. Everything goes through the real ASGI application.
"""

import io
import json
import logging
import sys
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator

from chat.models import Message, Visitor
from chat.security.logs import ClientErrorsInOneLine
from tests.conftest import (
    SHOP_ORIGIN,
    application,
    login_cookie,
    make_agent,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

LONE_SURROGATES = ["\ud800", "before \udfff after", "ends high \udbff"]
# NUL, bell, an ANSI escape sequence, vertical tab, form feed, DEL and a C1 control (NEL).
CONTROL_CHARACTERS = ["a\x00b", "ring\x07", "\x1b[31mred", "a\x0bb", "a\x0cb", "del\x7f", "next\x85line"]
NOT_TEXT = LONE_SURROGATES + CONTROL_CHARACTERS


async def message_count() -> int:
    return await database_sync_to_async(Message.objects.count)()


async def visitor_count() -> int:
    return await database_sync_to_async(Visitor.objects.count)()


async def refusal(communicator, frame: dict) -> dict:
    """Send a frame (as JSON text, surrogates escaped the way a browser's JSON.stringify writes them); return the error."""
    await communicator.send_to(text_data=json.dumps(frame))
    error, skipped = await receive_until(communicator, "error")
    assert not [frame for frame in skipped if frame["type"] == "message.ack"], skipped
    # The answer itself must be sendable: a lone surrogate echoed back cannot be encoded as UTF-8.
    json.dumps(error, ensure_ascii=False).encode("utf-8")
    return error


async def assert_still_usable(communicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    await receive_until(communicator, "pong")


async def http(path: str, body: bytes, *, token: str | None = None, origin: str | None = None) -> tuple[int, dict]:
    """POST raw bytes through the application; return (status, JSON answer) - a non-JSON answer fails the test."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = HttpCommunicator(application(), "POST", path, body, headers)
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)
    assert response["body"].startswith(b"{"), (response["status"], response["body"][:200])
    return response["status"], json.loads(response["body"])


# --- the customer's socket ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", NOT_TEXT)
async def test_a_body_that_is_not_text_is_bad_request_and_not_stored(visitor, body):
    communicator, _ = await open_customer(token_for(visitor))
    client_id = new_client_id()
    error = await refusal(communicator, {"type": "message.send", "client_id": client_id, "body": body})
    assert error["code"] == "bad_request"
    assert await message_count() == 0
    await assert_still_usable(communicator)
    assert (await send_message(communicator, "and now a real one"))["type"] == "message.ack"
    await communicator.disconnect()


async def test_tab_and_line_breaks_in_a_body_are_kept(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "first line\r\nsecond\tline\n\nthird 😀")
    assert ack["type"] == "message.ack"
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.body == "first line\r\nsecond\tline\n\nthird 😀"
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "\ud800"},
        {"type": "ping", "extra": "\udc00"},
        {"type": "message.send", "client_id": "\ud800", "body": "hi"},
        {"type": "message.send", "client_id": str(uuid.uuid4()), "body": "hi", "\ud800": 1},
        {"type": "typing", "active": True, "nested": [{"deep": "\udfff"}]},
        {"type": "resume", "cursor": "0.0\ud800"},
    ],
    ids=["type", "unknown-field", "client_id", "key", "nested", "cursor"],
)
async def test_a_lone_surrogate_anywhere_in_a_frame_is_bad_request_without_an_echo(visitor, frame):
    communicator, _ = await open_customer(token_for(visitor))
    error = await refusal(communicator, frame)
    assert error["code"] == "bad_request" and "ref" not in error
    assert await message_count() == 0
    await assert_still_usable(communicator)
    await communicator.disconnect()


async def test_a_lone_surrogate_sent_raw_in_the_text_frame_is_bad_request(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    frame = {"type": "message.send", "client_id": new_client_id(), "body": "raw \ud800"}
    await communicator.send_to(text_data=json.dumps(frame, ensure_ascii=False))  # the surrogate itself, not an escape
    error, _ = await receive_until(communicator, "error")
    assert error["code"] == "bad_request"
    assert await message_count() == 0
    await communicator.disconnect()


@pytest.mark.parametrize(
    "client_id",
    ["\n" + uuid.uuid4().hex[1:], "+" + uuid.uuid4().hex[1:], " " + uuid.uuid4().hex[1:], "１" * 32],
    ids=["newline", "sign", "space", "full-width-digits"],
)
async def test_a_client_id_is_written_in_plain_uuid_characters(visitor, client_id):
    communicator, _ = await open_customer(token_for(visitor))
    error = await refusal(communicator, {"type": "message.send", "client_id": client_id, "body": "hi"})
    assert error["code"] == "bad_request"
    assert await message_count() == 0
    await communicator.disconnect()


async def test_a_cursor_with_a_trailing_newline_is_bad_request(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    error = await refusal(communicator, {"type": "resume", "cursor": "0.0\n"})
    assert error["code"] == "bad_request"
    await communicator.disconnect()


async def test_a_refused_surrogate_is_not_logged_as_a_server_error(visitor, caplog):
    communicator, _ = await open_customer(token_for(visitor))
    caplog.set_level(logging.INFO)
    await refusal(communicator, {"type": "message.send", "client_id": new_client_id(), "body": "\ud800"})
    await assert_still_usable(communicator)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    await communicator.disconnect()


# --- the agent's socket ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["\ud800", "a\x00b", "\x1b[2J"])
async def test_an_agent_body_that_is_not_text_is_bad_request_and_not_stored(visitor, agent, body):
    customer, _ = await open_customer(token_for(visitor))
    first = await send_message(customer, "hello")
    desk, _ = await open_agent(agent)
    for internal in (False, True):
        error = await refusal(
            desk,
            {
                "type": "message.send",
                "conversation": first["conversation"],
                "client_id": new_client_id(),
                "body": body,
                "internal": internal,
            },
        )
        assert error["code"] == "bad_request"
    assert await message_count() == 1
    await assert_still_usable(desk)
    await desk.disconnect()
    await customer.disconnect()


# --- HTTP: POST /api/widget/messages ---------------------------------------------------------------------


@pytest.mark.parametrize("body", NOT_TEXT)
async def test_an_http_message_that_is_not_text_is_400_and_not_stored(visitor, body):
    payload = json.dumps({"client_id": new_client_id(), "body": body}).encode()
    status, answer = await http("/api/widget/messages", payload, token=token_for(visitor))
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert await message_count() == 0


async def test_a_surrogate_encoded_as_utf8_bytes_is_400(visitor):
    # ED A0 80 is U+D800 written as UTF-8 (invalid UTF-8, which json.loads reads with surrogatepass).
    payload = b'{"client_id": "%s", "body": "x \xed\xa0\x80"}' % new_client_id().encode()
    status, answer = await http("/api/widget/messages", payload, token=token_for(visitor))
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert await message_count() == 0


async def test_an_http_body_over_djangos_upload_limit_is_413_json(visitor, settings):
    settings.PARLEY_MAX_FRAME_BYTES = 10 * 1024 * 1024  # above DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    payload = json.dumps({"client_id": new_client_id(), "body": "x" * (3 * 1024 * 1024)}).encode()
    status, answer = await http("/api/widget/messages", payload, token=token_for(visitor))
    assert (status, answer["error"]["code"]) == (413, "too_large")


# --- HTTP: POST /api/widget/<site>/session -----------------------------------------------------------------


# Each field with a value the endpoint takes; the bad character goes in just before its last two characters.
SESSION_FIELDS = {
    "name": "Cleo Smith",
    "email": "cleo@example.com",
    "page_url": "https://shop.example/cart?step=2",
    "user_id": "u-42",
    "user_hash": "0123456789abcdef",
    "token": "not-a-real-token",
}


@pytest.mark.parametrize(
    "bad", ["\ud800", "\x00", "\n", "\x1b[0m", "\u0085"], ids=["surrogate", "nul", "lf", "esc", "nel"]
)
@pytest.mark.parametrize("field", SESSION_FIELDS)
async def test_a_session_field_that_is_not_one_line_of_text_is_400_and_nothing_is_stored(site, field, bad):
    good = SESSION_FIELDS[field]
    payload = json.dumps({field: good[:-2] + bad + good[-2:]}).encode()
    status, answer = await http(f"/api/widget/{site.key}/session", payload, origin=SHOP_ORIGIN)
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert await visitor_count() == 0


async def test_a_lone_surrogate_in_an_unknown_session_field_is_400(site):
    payload = json.dumps({"name": "Cleo", "favourite": ["\udead"]}).encode()
    status, answer = await http(f"/api/widget/{site.key}/session", payload, origin=SHOP_ORIGIN)
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert await visitor_count() == 0


async def test_a_session_with_clean_text_still_starts(site):
    payload = json.dumps({"name": "  Zoë 李  ", "email": "zoe@example.com", "page_url": "https://shop.example/ü"})
    status, answer = await http(f"/api/widget/{site.key}/session", payload.encode(), origin=SHOP_ORIGIN)
    assert status == 200, answer
    visitor = await database_sync_to_async(Visitor.objects.get)(pk=answer["visitor"]["id"])
    assert visitor.name == "Zoë 李"


# --- client errors in the log: one line each, no traceback --------------------------------------------------


@pytest.fixture
def console():
    """What the console handler of settings.LOGGING writes during the test."""
    handlers = [handler for handler in logging.getLogger().handlers if type(handler) is logging.StreamHandler]
    assert handlers, "settings.LOGGING has no console handler on the root logger"
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous):
        handler.setStream(stream)


async def asgi_get(path: str, headers: list) -> int:
    communicator = HttpCommunicator(application(), "GET", path, headers=headers)
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)
    return response["status"]


async def test_a_host_not_allowed_is_one_log_line_without_a_traceback(transactional_db, console):
    assert await asgi_get("/healthz", [(b"host", b"scanner.example")]) == 400
    lines = console.getvalue().splitlines()
    assert len(lines) == 1 and "DisallowedHost" in lines[0] and "scanner.example" in lines[0], lines


async def test_a_forbidden_admin_page_is_one_log_line_without_a_traceback(transactional_db, console):
    clerk = await database_sync_to_async(make_agent)("clerk", staff=True)  # staff, but no permission on sites
    cookie = await database_sync_to_async(login_cookie)(clerk)
    console.seek(0)
    console.truncate()  # what signing in logged is not the point
    headers = [(b"host", b"testserver"), (b"cookie", cookie.encode())]
    assert await asgi_get("/admin/chat/site/", headers) == 403
    lines = console.getvalue().splitlines()
    assert len(lines) == 1 and "/admin/chat/site/" in lines[0] and "PermissionDenied" in lines[0], lines


async def test_a_refused_http_body_is_one_log_line(visitor, console):
    payload = json.dumps({"client_id": new_client_id(), "body": "\ud800"}).encode()
    status, _ = await http("/api/widget/messages", payload, token=token_for(visitor))
    assert status == 400
    lines = console.getvalue().splitlines()
    assert len(lines) == 1 and "Bad Request: /api/widget/messages" in lines[0], lines


def record(status: int | None, message: str = "Forbidden: %s", args: tuple = ("/x",)) -> logging.LogRecord:
    try:
        raise PermissionError("no")
    except PermissionError:
        exc_info = sys.exc_info()
    extra = {} if status is None else {"status_code": status}
    return logging.makeLogRecord({"msg": message, "args": args, "exc_info": exc_info, "levelno": 30, **extra})


def test_the_client_error_filter_drops_only_4xx_tracebacks():
    keep = ClientErrorsInOneLine()
    client = record(403, "Forbidden: %s", ("/a\nb",))
    assert keep.filter(client) and client.exc_info is None
    assert client.getMessage() == "Forbidden: /a\\nb (PermissionError)"
    for status in (500, None):
        server = record(status)
        assert keep.filter(server) and server.exc_info is not None and server.getMessage() == "Forbidden: /x"
