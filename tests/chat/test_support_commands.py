"""Ratings, contact capture, transcripts and labels on the wire (docs/protocol.md, sections 3-5): each command over
the widget socket and its HTTP twin, the desk socket's labels, and every refusal storing nothing. Through the real
ASGI application."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Label, Visitor
from chat.services import conversations, labels
from tests.chat.test_commands import http_post, socket_refusal
from tests.conftest import (
    drain,
    make_agent,
    make_site,
    make_visitor,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def resolve(conversation_id: int) -> None:
    conversations.conversation_resolve(conversation=Conversation(pk=conversation_id))


def row(conversation_id: int) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


async def a_resolved_conversation(visitor) -> tuple[object, int]:
    """The visitor's socket, after a message and the agent's resolve have reached it."""
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "My parcel is late")
    await database_sync_to_async(resolve)(ack["conversation"])
    await receive_until(
        socket, lambda f: f["type"] == "conversation.updated" and f["conversation"]["status"] == "resolved"
    )
    return socket, ack["conversation"]


# --- rating.submit and POST /api/widget/conversations/<id>/rating ---------------------------------------------


async def test_a_rating_of_a_resolved_conversation_is_stored_and_reaches_the_customer_and_the_desk(visitor, agent):
    desk, _ = await open_agent(agent)
    socket, conversation_id = await a_resolved_conversation(visitor)
    await socket.send_json_to(
        {"type": "rating.submit", "conversation": conversation_id, "score": 4, "comment": " Quick "}
    )
    updated, _ = await receive_until(
        socket, lambda f: f["type"] == "conversation.updated" and f["conversation"]["rating"]
    )
    assert updated["conversation"]["rating"]["score"] == 4 and updated["conversation"]["rating"]["comment"] == "Quick"
    inbox, _ = await receive_until(desk, lambda f: f["type"] == "conversation.updated" and f["conversation"]["rating"])
    assert inbox["conversation"]["rating"]["score"] == 4
    stored = await database_sync_to_async(row)(conversation_id)
    assert (stored.rating, stored.rating_comment, stored.rated_at is not None) == (4, "Quick", True)
    # Over HTTP, the last one counts.
    status, answer = await http_post(
        f"/api/widget/conversations/{conversation_id}/rating", token_for(visitor), {"score": 5}
    )
    assert status == 200 and answer["conversation"]["rating"]["score"] == 5
    assert (await database_sync_to_async(row)(conversation_id)).rating == 5
    await socket.disconnect()
    await desk.disconnect()


async def test_an_open_conversation_cannot_be_rated(visitor):
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "Hello")
    frame = {"type": "rating.submit", "conversation": ack["conversation"], "score": 5}
    assert await socket_refusal(socket, frame) == "not_resolved"
    status, answer = await http_post(
        f"/api/widget/conversations/{ack['conversation']}/rating", token_for(visitor), {"score": 5}
    )
    assert (status, answer["error"]["code"]) == (409, "not_resolved")
    assert (await database_sync_to_async(row)(ack["conversation"])).rating is None
    await socket.disconnect()


@pytest.mark.parametrize(
    "fields",
    [
        {"score": 0},
        {"score": 6},
        {"score": "5"},
        {"score": True},
        {},
        {"score": 3, "comment": "a\x00b"},
        {"score": 3, "comment": "x" * 1001},
    ],
    ids=["zero", "six", "string", "bool", "missing", "nul-comment", "long-comment"],
)
async def test_a_bad_rating_is_refused_over_both_transports_and_stores_nothing(visitor, fields):
    socket, conversation_id = await a_resolved_conversation(visitor)
    assert (
        await socket_refusal(socket, {"type": "rating.submit", "conversation": conversation_id, **fields})
        == "bad_request"
    )
    status, answer = await http_post(f"/api/widget/conversations/{conversation_id}/rating", token_for(visitor), fields)
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert (await database_sync_to_async(row)(conversation_id)).rating is None
    await socket.send_json_to({"type": "ping"})  # the socket stays usable
    await receive_until(socket, "pong")
    await socket.disconnect()


async def test_another_visitors_conversation_cannot_be_rated(site, visitor):
    _, conversation_id = await a_resolved_conversation(visitor)
    stranger = await database_sync_to_async(make_visitor)(site)
    socket, _ = await open_customer(token_for(stranger))
    frame = {"type": "rating.submit", "conversation": conversation_id, "score": 1}
    assert await socket_refusal(socket, frame) == "not_found"
    status, _ = await http_post(
        f"/api/widget/conversations/{conversation_id}/rating", token_for(stranger), {"score": 1}
    )
    assert status == 404
    assert (await database_sync_to_async(row)(conversation_id)).rating is None
    await socket.disconnect()


# --- contact.set and POST /api/widget/contact -------------------------------------------------------------


async def test_an_address_left_in_the_chat_is_kept_unconfirmed_and_the_desk_sees_it(visitor, agent):
    desk, _ = await open_agent(agent)
    socket, _ = await open_customer(token_for(visitor))
    await send_message(socket, "Anyone there?")
    await socket.send_json_to({"type": "contact.set", "email": "ana@example.com", "name": "Ana"})
    saved, _ = await receive_until(socket, "contact.saved")
    assert saved["visitor"]["email"] == "ana@example.com" and saved["visitor"]["email_confirmed"] is False
    inbox, _ = await receive_until(
        desk,
        lambda f: f["type"] == "conversation.updated" and f["conversation"]["visitor"]["email"] == "ana@example.com",
    )
    assert inbox["conversation"]["visitor"]["name"] == "Ana"
    stored = await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)
    assert (stored.email, stored.name, stored.email_confirmed_at) == ("ana@example.com", "Ana", None)
    await socket.disconnect()
    await desk.disconnect()


async def test_a_new_address_must_be_confirmed_again(visitor):
    from django.utils import timezone

    await database_sync_to_async(Visitor.objects.filter(pk=visitor.pk).update)(
        email="old@example.com", email_confirmed_at=timezone.now()
    )
    status, answer = await http_post("/api/widget/contact", token_for(visitor), {"email": "new@example.com"})
    assert status == 200 and answer["visitor"] == {
        **answer["visitor"],
        "email": "new@example.com",
        "email_confirmed": False,
    }
    assert (await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)).email_confirmed_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-address"},
        {},
        {"email": 5},
        {"email": "a@b.example\n"},
        {"email": "ana@example.com", "name": "A\x07"},
    ],
    ids=["invalid", "missing", "type", "newline", "control-in-name"],
)
async def test_a_bad_address_is_refused_and_nothing_is_stored(visitor, fields):
    socket, _ = await open_customer(token_for(visitor))
    before = (visitor.email, visitor.name)
    assert await socket_refusal(socket, {"type": "contact.set", **fields}) == "bad_request"
    status, _ = await http_post("/api/widget/contact", token_for(visitor), fields)
    assert status == 400
    stored = await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)
    assert (stored.email, stored.name) == before
    await socket.disconnect()


# --- transcript.email and POST /api/widget/conversations/<id>/transcript -------------------------------------


async def test_a_transcript_needs_an_address_and_keeps_one_given(site):
    visitor = await database_sync_to_async(make_visitor)(site, email="")
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "Please send me this")
    conversation_id = ack["conversation"]
    assert await socket_refusal(socket, {"type": "transcript.email", "conversation": conversation_id}) == "bad_request"
    await socket.send_json_to({"type": "transcript.email", "conversation": conversation_id, "email": "ana@example.com"})
    queued, _ = await receive_until(socket, "transcript.queued")
    assert queued == {"type": "transcript.queued", "conversation": conversation_id, "email": "ana@example.com"}
    assert (await database_sync_to_async(Visitor.objects.get)(pk=visitor.pk)).email == "ana@example.com"
    status, answer = await http_post(f"/api/widget/conversations/{conversation_id}/transcript", token_for(visitor), {})
    assert status == 200 and answer == {"conversation": conversation_id, "email": "ana@example.com"}
    await socket.disconnect()


async def test_another_visitors_transcript_cannot_be_asked_for(site, visitor):
    socket, _ = await open_customer(token_for(visitor))
    ack = await send_message(socket, "Mine")
    stranger = await database_sync_to_async(make_visitor)(site)
    path = f"/api/widget/conversations/{ack['conversation']}/transcript"
    status, _ = await http_post(path, token_for(stranger), {"email": "thief@example.com"})
    assert status == 404
    assert (await database_sync_to_async(Visitor.objects.get)(pk=stranger.pk)).email == ""
    await socket.disconnect()


# --- label.add / label.remove on the desk socket ----------------------------------------------------------


def label_names(conversation_id: int) -> list[str]:
    return sorted(Conversation.objects.get(pk=conversation_id).labels.values_list("name", flat=True))


async def test_labels_are_added_and_removed_live_on_every_desk_and_the_customer_hears_nothing(visitor, agent, site):
    other = await database_sync_to_async(make_agent)("other", site)
    desk, _ = await open_agent(agent)
    second, _ = await open_agent(other)
    socket, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(socket, "Refund please"))["conversation"]
    await drain(socket)
    await desk.send_json_to({"type": "label.add", "conversation": conversation_id, "label": "  Refund  Request "})
    updated, _ = await receive_until(
        second, lambda f: f["type"] == "conversation.updated" and f["conversation"].get("labels")
    )
    assert updated["conversation"]["labels"] == ["refund-request"]
    await desk.send_json_to({"type": "label.add", "conversation": conversation_id, "label": "vip"})
    await receive_until(
        second, lambda f: f["type"] == "conversation.updated" and len(f["conversation"].get("labels") or []) == 2
    )
    assert await database_sync_to_async(label_names)(conversation_id) == ["refund-request", "vip"]
    await desk.send_json_to({"type": "label.remove", "conversation": conversation_id, "label": "VIP"})
    updated, _ = await receive_until(
        second, lambda f: f["type"] == "conversation.updated" and f["conversation"].get("labels") == ["refund-request"]
    )
    assert await database_sync_to_async(label_names)(conversation_id) == ["refund-request"]
    assert await database_sync_to_async(Label.objects.filter(site=site).count)() == 2  # the site keeps its labels
    assert [f for f in await drain(socket) if f["type"] == "conversation.updated"] == []
    for communicator in (socket, desk, second):
        await communicator.disconnect()


@pytest.mark.parametrize(
    "label", ["", "   ", "x" * 41, "a\nb", 7, None], ids=["empty", "blank", "long", "newline", "int", "null"]
)
async def test_a_bad_label_is_refused_and_stores_nothing(visitor, agent, label):
    desk, _ = await open_agent(agent)
    socket, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(socket, "Hi"))["conversation"]
    assert (
        await socket_refusal(desk, {"type": "label.add", "conversation": conversation_id, "label": label})
        == "bad_request"
    )
    assert await database_sync_to_async(Label.objects.count)() == 0
    await socket.disconnect()
    await desk.disconnect()


async def test_an_agent_of_another_site_cannot_label_the_conversation(visitor):
    outsider = await database_sync_to_async(lambda: make_agent("outsider", make_site("Elsewhere")))()
    desk, _ = await open_agent(outsider)
    socket, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(socket, "Hi"))["conversation"]
    assert (
        await socket_refusal(desk, {"type": "label.add", "conversation": conversation_id, "label": "spam"})
        == "not_found"
    )
    assert await database_sync_to_async(Label.objects.count)() == 0
    await socket.disconnect()
    await desk.disconnect()


def test_label_names_are_canonical():
    assert labels.label_name_clean("  Needs  Reply ") == "needs-reply"
    assert labels.label_name_clean("退款") == "退款"
    for bad in ("", " ", "x" * 41, "a\tb", "\ud800"):
        with pytest.raises(ValueError):
            labels.label_name_clean(bad)
