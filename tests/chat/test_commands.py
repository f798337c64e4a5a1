"""The customer's commands over both transports: the same command sent over the widget socket and over the
HTTP endpoints of the SSE transport stores the same thing and is refused with the same code (docs/protocol.md,
sections 3, 5 and 7). Both go through the real ASGI application."""

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator, HttpCommunicator

from chat.models import Conversation, Message
from tests.conftest import (
    application,
    make_visitor,
    new_client_id,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def http_post(path: str, token: str | None, body: dict | None = None) -> tuple[int, dict]:
    """POST as a widget on the SSE transport does (Bearer token, JSON body); return (status, JSON answer)."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    payload = json.dumps(body).encode() if body is not None else b""
    communicator = HttpCommunicator(application(), "POST", path, payload, headers)
    response = await communicator.get_response(timeout=5)
    await communicator.wait(timeout=5)  # the handler's own cleanup after the response, before the test moves on
    return response["status"], json.loads(response["body"])


async def socket_refusal(communicator, frame: dict) -> str:
    """Send a frame the server refuses; return the code of its `error` frame."""
    await communicator.send_json_to(frame)
    error, _ = await receive_until(communicator, "error")
    return error["code"]


def streaming_reply(conversation_id: int) -> Message:
    """A bot reply that is streaming but that no worker has claimed (a stop ends it at once)."""
    from django.db import transaction

    from chat.services.messages import BOT, conversation_lock, message_insert

    with transaction.atomic():
        return message_insert(
            conversation=conversation_lock(conversation_id), author=BOT, body="Let me see", status="streaming"
        )


def stored(**lookup) -> list[Message]:
    return list(Message.objects.filter(**lookup).order_by("seq"))


# --- message.send and POST /api/widget/messages ---------------------------------------------------------


async def test_a_message_sent_over_the_socket_and_retried_over_http_is_stored_once_and_acked_identically(visitor):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    client_id = new_client_id()
    ack = await send_message(socket, "Where is my parcel?", client_id=client_id)
    status, answer = await http_post(
        "/api/widget/messages", token, {"client_id": client_id, "body": "Where is my parcel?"}
    )
    assert status == 200 and answer == ack
    assert [m.body for m in await database_sync_to_async(stored)(client_id=client_id)] == ["Where is my parcel?"]
    await socket.disconnect()


async def test_a_message_sent_over_http_reaches_the_socket_and_shares_its_sequence(visitor):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    status, ack = await http_post("/api/widget/messages", token, {"client_id": new_client_id(), "body": "over http"})
    assert status == 200 and ack["type"] == "message.ack" and ack["seq"] == 1
    new, _ = await receive_until(socket, "message.new")
    assert new["message"]["body"] == "over http" and new["message"]["id"] == ack["id"]
    second = await send_message(socket, "over the socket")
    assert (second["conversation"], second["seq"]) == (ack["conversation"], 2)
    messages = await database_sync_to_async(stored)(conversation_id=ack["conversation"])
    assert [(m.seq, m.body) for m in messages] == [(1, "over http"), (2, "over the socket")]
    await socket.disconnect()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"client_id": "not-a-uuid", "body": "hi"}, "bad_request"),
        ({"body": "hi"}, "bad_request"),
        ({"client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": 5}, "bad_request"),
        ({"client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": "   "}, "empty"),
        ({"client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": "x" * 4001}, "too_long"),
        ({"client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", "body": "a\x00b"}, "bad_request"),
    ],
    ids=["client_id", "no-client_id", "body-type", "empty", "too_long", "nul"],
)
async def test_a_refused_message_gets_the_same_code_over_both_transports_and_stores_nothing(visitor, fields, code):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    assert await socket_refusal(socket, {"type": "message.send", **fields}) == code
    status, answer = await http_post("/api/widget/messages", token, fields)
    assert (status, answer["error"]["code"]) == (400, code)
    assert await database_sync_to_async(Message.objects.count)() == 0
    await socket.disconnect()


async def test_the_send_rate_is_one_budget_across_both_transports(visitor, settings):
    settings.PARLEY_SEND_RATE_COUNT = 3
    settings.PARLEY_SEND_RATE_WINDOW = 3600  # one window for the whole test, whatever the clock says
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    await send_message(socket, "one")
    await send_message(socket, "two")
    status, _ = await http_post("/api/widget/messages", token, {"client_id": new_client_id(), "body": "three"})
    assert status == 200
    refused = await send_message(socket, "four")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    status, answer = await http_post("/api/widget/messages", token, {"client_id": new_client_id(), "body": "five"})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    assert [m.body for m in await database_sync_to_async(stored)()] == ["one", "two", "three"]
    await socket.disconnect()


# --- reply.stop and POST /api/widget/replies/<id>/stop --------------------------------------------------


async def test_a_stop_over_either_transport_ends_the_reply_stopped_with_its_text(visitor):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    ack = await send_message(socket, "hello?")
    by_socket = await database_sync_to_async(streaming_reply)(ack["conversation"])
    await socket.send_json_to({"type": "reply.stop", "reply_id": by_socket.pk})
    end, _ = await receive_until(socket, lambda f: f["type"] == "reply.end" and f["reply_id"] == by_socket.pk)
    assert (end["status"], end["body"]) == ("stopped", "Let me see")

    by_http = await database_sync_to_async(streaming_reply)(ack["conversation"])
    status, answer = await http_post(f"/api/widget/replies/{by_http.pk}/stop", token)
    assert (status, answer) == (200, {"reply_id": by_http.pk, "stopping": True})
    end, _ = await receive_until(socket, lambda f: f["type"] == "reply.end" and f["reply_id"] == by_http.pk)
    assert (end["status"], end["body"]) == ("stopped", "Let me see")
    replies = await database_sync_to_async(stored)(author_kind="bot")
    assert [(m.pk, m.status, m.body) for m in replies] == [
        (by_socket.pk, "stopped", "Let me see"),
        (by_http.pk, "stopped", "Let me see"),
    ]
    await socket.disconnect()


async def test_a_refused_stop_gets_the_same_code_over_both_transports(visitor, site):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    ack = await send_message(socket, "hello?")
    ended = await database_sync_to_async(streaming_reply)(ack["conversation"])
    await http_post(f"/api/widget/replies/{ended.pk}/stop", token)
    stranger = await database_sync_to_async(make_visitor)(site)
    theirs, _ = await open_customer(token_for(stranger))
    their_ack = await send_message(theirs, "mine")
    foreign = await database_sync_to_async(streaming_reply)(their_ack["conversation"])

    for reply_id, code, status in [
        (ended.pk, "not_streaming", 409),
        (foreign.pk, "not_found", 404),
        (999999, "not_found", 404),
    ]:
        assert await socket_refusal(socket, {"type": "reply.stop", "reply_id": reply_id}) == code
        answer = await http_post(f"/api/widget/replies/{reply_id}/stop", token)
        assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert (await database_sync_to_async(Message.objects.get)(pk=foreign.pk)).status == "streaming"
    await socket.disconnect()
    await theirs.disconnect()


# --- reply.feedback and POST /api/widget/replies/<id>/feedback ------------------------------------------


async def test_feedback_over_either_transport_is_stored_and_the_last_one_counts(visitor):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    ack = await send_message(socket, "hello?")
    reply = await database_sync_to_async(streaming_reply)(ack["conversation"])
    await http_post(f"/api/widget/replies/{reply.pk}/stop", token)  # ended: it can be rated

    await socket.send_json_to({"type": "reply.feedback", "reply_id": reply.pk, "helpful": True})
    event, _ = await receive_until(socket, "reply.feedback")
    assert (event["reply_id"], event["helpful"]) == (reply.pk, True)
    assert (await database_sync_to_async(Message.objects.get)(pk=reply.pk)).feedback == 1

    status, answer = await http_post(f"/api/widget/replies/{reply.pk}/feedback", token, {"helpful": False})
    assert (status, answer) == (200, {"reply_id": reply.pk, "helpful": False})
    event, _ = await receive_until(socket, "reply.feedback")
    assert (event["reply_id"], event["helpful"]) == (reply.pk, False)
    assert (await database_sync_to_async(Message.objects.get)(pk=reply.pk)).feedback == -1
    await socket.disconnect()


async def test_a_refused_feedback_gets_the_same_code_over_both_transports(visitor, site):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    ack = await send_message(socket, "hello?")
    streaming = await database_sync_to_async(streaming_reply)(ack["conversation"])
    stranger = await database_sync_to_async(make_visitor)(site)
    theirs, _ = await open_customer(token_for(stranger))
    their_ack = await send_message(theirs, "mine")
    foreign = await database_sync_to_async(streaming_reply)(their_ack["conversation"])
    await http_post(f"/api/widget/replies/{foreign.pk}/stop", token_for(stranger))

    for reply_id, helpful, code, status in [
        (streaming.pk, "yes", "bad_request", 400),
        (streaming.pk, True, "not_found", 404),  # still streaming
        (foreign.pk, True, "not_found", 404),
    ]:
        frame = {"type": "reply.feedback", "reply_id": reply_id, "helpful": helpful}
        assert await socket_refusal(socket, frame) == code
        answer = await http_post(f"/api/widget/replies/{reply_id}/feedback", token, {"helpful": helpful})
        assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    ratings = await database_sync_to_async(list)(Message.objects.filter(author_kind="bot").values_list("feedback"))
    assert ratings == [(None,), (None,)]
    await socket.disconnect()
    await theirs.disconnect()


# --- handoff.request and POST /api/widget/handoff ------------------------------------------------------


async def test_a_handoff_over_either_transport_queues_the_one_conversation(visitor):
    await database_sync_to_async(type(visitor.site).objects.filter(pk=visitor.site_id).update)(bot_enabled=True)
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    status, answer = await http_post("/api/widget/handoff", token)
    assert status == 200 and answer["conversation"]["owner"] == "queue"
    updated, _ = await receive_until(socket, "conversation.updated")
    assert updated["conversation"]["id"] == answer["conversation"]["id"]

    await socket.send_json_to({"type": "handoff.request"})  # asking twice changes nothing
    await socket.send_json_to({"type": "ping"})
    pong, _ = await receive_until(socket, "pong")
    assert pong["conversation"] == answer["conversation"]["id"]
    conversations = await database_sync_to_async(list)(Conversation.objects.filter(visitor=visitor))
    assert [(c.pk, c.owner) for c in conversations] == [(answer["conversation"]["id"], "queue")]
    system_lines = await database_sync_to_async(stored)(author_kind="system")
    assert len(system_lines) == 1
    await socket.disconnect()


async def test_http_commands_need_the_visitors_token(visitor):
    for path, body in [
        ("/api/widget/messages", {"client_id": str(uuid.uuid4()), "body": "hi"}),
        ("/api/widget/replies/1/stop", None),
        ("/api/widget/replies/1/feedback", {"helpful": True}),
        ("/api/widget/handoff", None),
    ]:
        status, answer = await http_post(path, None, body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
    assert await database_sync_to_async(Message.objects.count)() == 0


# --- resume and GET /api/widget/events ----------------------------------------------------------------


class EventStream:
    """GET /api/widget/events through the application, read record by record."""

    def __init__(self, token: str, query: str):
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "path": "/api/widget/events",
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        }
        self.communicator = ApplicationCommunicator(application(), scope)
        self.buffer = ""

    async def __aenter__(self) -> "EventStream":
        await self.communicator.send_input({"type": "http.request", "body": b""})
        start = await self.communicator.receive_output(timeout=5)
        assert start["status"] == 200
        return self

    async def __aexit__(self, *exc) -> None:
        await self.communicator.send_input({"type": "http.disconnect"})  # the client goes; the stream ends
        await self.communicator.wait(timeout=5)

    async def record(self) -> tuple[str | None, str | None, dict | str]:
        """The next record as (event, id, data), a JSON object decoded."""
        while "\n\n" not in self.buffer:
            self.buffer += (await self.communicator.receive_output(timeout=5))["body"].decode()
        text, self.buffer = self.buffer.split("\n\n", 1)
        fields = dict(line.split(": ", 1) for line in text.split("\n"))
        data = fields.get("data", fields.get("retry", ""))
        return fields.get("event"), fields.get("id"), json.loads(data) if data.startswith("{") else data


async def test_resume_over_the_socket_and_the_event_stream_replays_the_same_events(visitor):
    token = token_for(visitor)
    socket, _ = await open_customer(token)
    acks = [await send_message(socket, body) for body in ("one", "two", "three")]
    conversation = acks[0]["conversation"]
    await socket.send_json_to({"type": "resume", "cursor": "1.0", "conversation": conversation})
    replay, _ = await receive_until(socket, "replay")
    assert [event["message"]["body"] for event in replay["events"]] == ["two", "three"]

    async with EventStream(token, f"cursor=1.0&conversation={conversation}") as stream:
        assert await stream.record() == (None, None, "2000")  # retry: 2000
        welcome = await stream.record()
        fields = {key: value for key, value in replay.items() if key not in ("type", "events")}
        assert welcome == ("welcome", None, {"type": "welcome", **fields})
        assert [await stream.record() for _ in replay["events"]] == [
            ("message.new", f"{event['message']['seq']}.0", event) for event in replay["events"]
        ]
        live = await send_message(socket, "four")
        event, record_id, new = await stream.record()
        assert (event, record_id, new["message"]["id"]) == ("message.new", "4.0", live["id"])
    await socket.disconnect()


async def test_resuming_someone_elses_conversation_is_not_found_over_both_transports(visitor, site):
    stranger = await database_sync_to_async(make_visitor)(site)
    theirs, _ = await open_customer(token_for(stranger))
    their_ack = await send_message(theirs, "private")
    socket, _ = await open_customer(token_for(visitor))
    frame = {"type": "resume", "cursor": "0.0", "conversation": their_ack["conversation"]}
    assert await socket_refusal(socket, frame) == "not_found"
    async with EventStream(token_for(visitor), f"conversation={their_ack['conversation']}") as stream:
        await stream.record()  # retry: 2000
        event, _, error = await stream.record()
        assert (event, error["type"], error["code"]) == ("error", "error", "not_found")
    await socket.disconnect()
    await theirs.disconnect()


# --- read (the socket only) -----------------------------------------------------------------------------


async def test_read_before_there_is_a_conversation_is_not_found(visitor):
    socket, _ = await open_customer(token_for(visitor))
    assert await socket_refusal(socket, {"type": "read", "seq": 1}) == "not_found"
    await send_message(socket, "now there is one")
    await socket.send_json_to({"type": "read", "seq": 1})
    await socket.send_json_to({"type": "ping"})
    await receive_until(socket, "pong")  # no error came before the pong
    await socket.disconnect()
