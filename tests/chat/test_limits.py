"""Section 7: limits and bad input get a clear answer, store nothing, and leave the socket usable."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Message
from tests.conftest import (
    SHOP_ORIGIN,
    application,
    close_code,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def message_count():
    return await database_sync_to_async(Message.objects.count)()


async def assert_still_usable(communicator):
    await communicator.send_json_to({"type": "ping"})
    await receive_until(communicator, "pong")


async def test_frame_over_the_limit_closes_with_4009(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_to(text_data='{"type":"message.send","body":"' + "x" * (64 * 1024) + '"}')
    assert await close_code(communicator) == 4009
    assert await message_count() == 0


async def test_binary_frame_over_the_limit_closes_with_4009(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_to(bytes_data=b"x" * (64 * 1024 + 1))
    assert await close_code(communicator) == 4009


async def test_body_over_4000_characters_is_too_long_and_not_stored(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    client_id = new_client_id()
    error = await send_message(communicator, "x" * 4001, client_id=client_id)
    assert error == {"type": "error", "code": "too_long", "detail": error["detail"], "ref": client_id}
    assert await message_count() == 0
    assert (await send_message(communicator, "x" * 4000))["type"] == "message.ack"


async def test_blank_body_is_refused(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    error = await send_message(communicator, "   ")
    assert error["code"] == "empty"
    assert await message_count() == 0


async def test_send_rate_is_limited_per_visitor(visitor, settings):
    settings.PARLEY_SEND_RATE_COUNT = 3
    settings.PARLEY_SEND_RATE_WINDOW = 3600  # one window for the whole test, whatever the clock says
    tab1, _ = await open_customer(token_for(visitor))
    tab2, _ = await open_customer(token_for(visitor))
    for body in ("a", "b"):
        assert (await send_message(tab1, body))["type"] == "message.ack"
    assert (await send_message(tab2, "c"))["type"] == "message.ack"
    error = await send_message(tab2, "d")
    assert error["code"] == "rate_limited"
    assert await message_count() == 3
    await assert_still_usable(tab2)


async def test_no_hello_closes_with_4408(transactional_db, settings):
    settings.PARLEY_HELLO_TIMEOUT = 0.2
    communicator = WebsocketCommunicator(
        application(), "/ws/widget/", headers=[(b"origin", SHOP_ORIGIN.encode()), (b"host", b"testserver")]
    )
    await communicator.connect()
    assert await close_code(communicator) == 4408


async def test_a_hello_said_in_time_is_not_closed_while_the_database_is_busy(visitor, settings):
    settings.PARLEY_HELLO_TIMEOUT = 0.2
    headers = [(b"origin", SHOP_ORIGIN.encode()), (b"host", b"testserver")]
    started, release = threading.Event(), threading.Event()

    def busy():  # holds the consumers' database thread, as a reconnect storm does
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(database_sync_to_async(busy)())
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    silent = WebsocketCommunicator(application(), "/ws/widget/", headers=headers)
    await silent.connect()
    talker = WebsocketCommunicator(application(), "/ws/widget/", headers=headers)
    await talker.connect()
    await talker.send_json_to({"type": "hello", "token": token_for(visitor), "cursor": "0.0"})
    # The silent socket's close proves the deadline has passed for the talker too.
    assert await close_code(silent) == 4408
    release.set()
    await blocker
    welcome, _ = await receive_until(talker, "welcome")
    assert welcome["visitor"]["id"] == visitor.pk
    await talker.disconnect()


async def test_a_refused_hello_keeps_the_first_deadline(visitor, settings):
    settings.PARLEY_HELLO_TIMEOUT = 0.2
    communicator = WebsocketCommunicator(
        application(), "/ws/widget/", headers=[(b"origin", SHOP_ORIGIN.encode()), (b"host", b"testserver")]
    )
    await communicator.connect()
    await communicator.send_json_to({"type": "hello", "token": token_for(visitor), "cursor": "not a cursor"})
    error, _ = await receive_until(communicator, "error")
    assert error["ref"] == "hello"
    assert await close_code(communicator) == 4408


async def test_frames_before_hello_are_refused_without_closing(visitor):
    communicator = WebsocketCommunicator(
        application(), "/ws/widget/", headers=[(b"origin", SHOP_ORIGIN.encode()), (b"host", b"testserver")]
    )
    await communicator.connect()
    await communicator.send_json_to({"type": "message.send", "client_id": new_client_id(), "body": "hi"})
    error = await communicator.receive_json_from()
    assert error["code"] == "hello_required"
    await communicator.send_json_to({"type": "hello", "token": token_for(visitor)})
    assert (await communicator.receive_json_from())["type"] == "welcome"
    assert await message_count() == 0


BAD_FRAMES = [
    ("not json at all", "bad_request"),
    ("[1, 2, 3]", "bad_request"),
    ('"a string"', "bad_request"),
    ('{"no_type": true}', "bad_request"),
    ('{"type": 7}', "bad_request"),
    ('{"type": "shout"}', "bad_request"),
    ('{"type": "message.send", "client_id": "not-a-uuid", "body": "x"}', "bad_request"),
    ('{"type": "message.send", "client_id": 12, "body": "x"}', "bad_request"),
    ('{"type": "message.send", "client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": ["x"]}', "bad_request"),
    ('{"type": "message.send", "client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60"}', "bad_request"),
    ('{"type": "typing", "active": "yes"}', "bad_request"),
    ('{"type": "read", "seq": -1}', "bad_request"),
    ('{"type": "read", "seq": true}', "bad_request"),
    ('{"type": "reply.stop", "reply_id": "7"}', "bad_request"),
    ('{"type": "resume", "cursor": "1.2.3"}', "bad_request"),
    ('{"type": "hello", "token": "again"}', "bad_request"),
    ("[" * 5000 + "]" * 5000, "bad_request"),
]


@pytest.mark.parametrize("raw, code", BAD_FRAMES)
async def test_bad_customer_frames_get_an_error_and_the_socket_stays_usable(visitor, raw, code):
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_to(text_data=raw)
    error, _ = await receive_until(communicator, "error")
    assert error["code"] == code
    await assert_still_usable(communicator)
    assert await message_count() == 0


async def test_binary_frame_gets_bad_request(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_to(bytes_data=b"\x00\x01")
    error, _ = await receive_until(communicator, "error")
    assert error["code"] == "bad_request"
    await assert_still_usable(communicator)


AGENT_BAD_FRAMES = [
    '{"type": "subscribe"}',
    '{"type": "subscribe", "conversation": "1"}',
    '{"type": "subscribe", "conversation": 1, "cursor": "x"}',
    '{"type": "message.send", "conversation": 1, "client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": "x", "internal": "no"}',
    '{"type": "conversation.assign", "conversation": 1}',
    '{"type": "presence", "status": "busy"}',
    '{"type": "typing", "conversation": 1}',
]


@pytest.mark.parametrize("raw", AGENT_BAD_FRAMES)
async def test_bad_agent_frames_get_an_error_and_the_socket_stays_usable(agent, raw):
    desk, _ = await open_agent(agent)
    await desk.send_to(text_data=raw)
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "bad_request"
    await assert_still_usable(desk)
