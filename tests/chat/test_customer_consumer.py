"""The customer socket, driven through the real ASGI application."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from tests.conftest import (
    make_visitor,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_hello_without_history_gets_an_empty_welcome(visitor):
    communicator, welcome = await open_customer(token_for(visitor))
    assert welcome["conversation"] is None
    assert welcome["events"] == []
    assert welcome["visitor"]["name"] == "Cleo"
    await communicator.disconnect()


async def test_message_is_acked_broadcast_and_stored(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    client_id = new_client_id()
    ack = await send_message(communicator, "Where is my parcel?", client_id=client_id)
    assert ack["type"] == "message.ack" and ack["seq"] == 1 and ack["client_id"] == client_id
    new, _ = await receive_until(communicator, "message.new")
    assert new["message"]["body"] == "Where is my parcel?"
    assert new["message"]["author"]["kind"] == "customer"
    assert new["prev_seq"] == 0
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.seq == 1 and stored.client_id == client_id
    await communicator.disconnect()


async def test_retried_client_id_is_stored_once_and_acked_identically(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    client_id = new_client_id()
    first = await send_message(communicator, "hello", client_id=client_id)
    second = await send_message(communicator, "hello", client_id=client_id)
    assert first == second
    assert await database_sync_to_async(Message.objects.filter(client_id=client_id).count)() == 1
    await communicator.disconnect()


async def test_seq_is_gap_free_across_sends(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    seqs = [(await send_message(communicator, f"m{i}"))["seq"] for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    await communicator.disconnect()


async def test_resume_replays_exactly_what_was_missed(visitor, agent):
    first, _ = await open_customer(token_for(visitor))
    await send_message(first, "one")
    await send_message(first, "two")
    await first.disconnect()

    conversation = await database_sync_to_async(Conversation.objects.get)(visitor=visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": conversation.pk, "cursor": "0.0"})
    await receive_until(desk, "subscribed")
    await send_message(desk, "agent answer", conversation=conversation.pk)
    await send_message(desk, "private note", conversation=conversation.pk, internal=True)
    await send_message(desk, "agent again", conversation=conversation.pk)

    again, welcome = await open_customer(token_for(visitor), cursor="2.0", conversation=conversation.pk)
    bodies = [event["message"]["body"] for event in welcome["events"]]
    assert bodies == ["Sam joined the conversation", "agent answer", "agent again"]
    assert [event["prev_seq"] for event in welcome["events"]] == [2, 3, 4]
    assert welcome["cursor"] == "6.0"
    await again.disconnect()
    await desk.disconnect()


async def test_second_tab_receives_the_first_tabs_message(visitor):
    tab1, _ = await open_customer(token_for(visitor))
    tab2, _ = await open_customer(token_for(visitor))
    await send_message(tab1, "from tab one")
    new, _ = await receive_until(tab2, "message.new")
    assert new["message"]["body"] == "from tab one"
    await tab1.disconnect()
    await tab2.disconnect()


async def test_ping_is_answered_with_pong(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from()) == {"type": "pong"}  # no conversation yet: no head
    await communicator.disconnect()


async def test_handoff_request_queues_the_conversation_with_a_system_line(visitor, agent):
    await database_sync_to_async(type(visitor.site).objects.filter(pk=visitor.site_id).update)(bot_enabled=True)
    desk, _ = await open_agent(agent)
    communicator, _ = await open_customer(token_for(visitor))
    await communicator.send_json_to({"type": "handoff.request"})
    system, _ = await receive_until(
        communicator, lambda f: f["type"] == "message.new" and f["message"]["author"]["kind"] == "system"
    )
    assert system["message"]["body"] == "Connecting you with a member of our team. They'll reply here."
    assert system["message"]["notice"] == {"kind": "handoff"}  # for the widget to say in its own language
    queue, _ = await receive_until(desk, lambda f: f["type"] == "queue" and f["count"] == 1)
    conversation = await database_sync_to_async(Conversation.objects.get)(visitor=visitor)
    assert conversation.owner == "queue" and conversation.queued_at is not None
    await communicator.disconnect()
    await desk.disconnect()


async def test_typing_reaches_subscribed_agents(visitor, agent):
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "hi")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": ack["conversation"], "cursor": "1.0"})
    await receive_until(desk, "subscribed")
    await communicator.send_json_to({"type": "typing", "active": True})
    typing, _ = await receive_until(desk, "typing")
    assert typing["author"]["kind"] == "customer" and typing["active"] is True
    await communicator.disconnect()
    await desk.disconnect()


async def test_read_receipt_reaches_agents(visitor, agent):
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "hi")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": ack["conversation"], "cursor": "1.0"})
    await receive_until(desk, "subscribed")
    await send_message(desk, "hello there", conversation=ack["conversation"])
    await communicator.send_json_to({"type": "read", "seq": 2})
    read, _ = await receive_until(desk, "read")
    assert read == {"type": "read", "conversation": ack["conversation"], "by": "customer", "seq": 2}
    await communicator.disconnect()
    await desk.disconnect()


async def test_resolved_conversation_reopens_when_the_customer_writes_within_the_window(visitor, agent):
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "hi")
    desk, _ = await open_agent(agent)
    await send_message(desk, "hello", conversation=ack["conversation"])
    await desk.send_json_to({"type": "conversation.resolve", "conversation": ack["conversation"]})
    await receive_until(
        communicator, lambda f: f["type"] == "conversation.updated" and f["conversation"]["status"] == "resolved"
    )
    again = await send_message(communicator, "one more thing")
    assert again["conversation"] == ack["conversation"]
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.status == "open" and conversation.owner == "agent" and conversation.assignee_id == agent.pk
    await communicator.disconnect()
    await desk.disconnect()


async def test_resolved_conversation_past_the_window_starts_a_new_one(visitor, settings):
    settings.PARLEY_REOPEN_WINDOW = 0
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "hi")
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    from chat.services.conversations import conversation_resolve

    await database_sync_to_async(conversation_resolve)(conversation=conversation)
    again = await send_message(communicator, "new question")
    assert again["conversation"] != ack["conversation"] and again["seq"] == 1
    await communicator.disconnect()


async def test_visitor_cannot_resume_another_visitors_conversation(visitor, site):
    mine, _ = await open_customer(token_for(visitor))
    ack = await send_message(mine, "private")
    await mine.disconnect()
    stranger = await database_sync_to_async(make_visitor)(site)
    communicator, _ = await open_customer(token_for(stranger), conversation=ack["conversation"], expect_welcome=False)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "not_found"
    await communicator.disconnect()


async def test_pong_carries_the_conversation_head_so_silent_losses_are_noticed(visitor):
    communicator, _ = await open_customer(token_for(visitor))
    ack = await send_message(communicator, "hi")
    await send_message(communicator, "again")
    await communicator.send_json_to({"type": "ping"})
    pong, _ = await receive_until(communicator, "pong")
    assert pong == {"type": "pong", "conversation": ack["conversation"], "cursor": "2.0"}
    await communicator.disconnect()
