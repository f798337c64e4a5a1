"""The agent socket, driven through the real ASGI application."""

import pytest
from channels.db import database_sync_to_async

from chat.models import AgentConnection, Conversation, Message
from tests.conftest import (
    close_code,
    make_agent,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def start_conversation(visitor, body="Hi, I need help") -> tuple:
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, body)
    return customer, ack["conversation"]


async def test_welcome_lists_sites_presence_and_queues(agent, site):
    desk, welcome = await open_agent(agent)
    assert welcome["sites"] == [site.pk]
    assert welcome["agent"]["status"] == "online"
    assert {"type": "queue", "site": site.pk, "count": 0} in welcome["queues"]
    assert any(p["agent"]["id"] == agent.pk and p["status"] == "online" for p in welcome["presence"])
    await desk.disconnect()


async def test_new_conversation_appears_in_the_inbox_live(visitor, agent, site):
    desk, _ = await open_agent(agent)
    customer, conversation_id = await start_conversation(visitor)
    updated, _ = await receive_until(
        desk, lambda f: f["type"] == "conversation.updated" and f["conversation"]["id"] == conversation_id
    )
    assert updated["conversation"]["visitor"]["name"] == "Cleo"
    queue, _ = await receive_until(desk, "queue")
    assert queue == {"type": "queue", "site": site.pk, "count": 1}  # bot is off on this site: it waits for a human
    await customer.disconnect()
    await desk.disconnect()


async def test_subscribe_replays_then_streams_live_without_duplicates(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    await send_message(customer, "second")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "1.0"})
    subscribed, _ = await receive_until(desk, "subscribed")
    assert [e["message"]["body"] for e in subscribed["events"]] == ["second"]
    assert subscribed["cursor"] == "2.0"
    await send_message(customer, "third")
    live, _ = await receive_until(desk, "message.new")
    assert live["message"]["body"] == "third" and live["message"]["seq"] == 3
    await customer.disconnect()
    await desk.disconnect()


async def test_agent_reply_reaches_the_customer_and_takes_over(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    ack = await send_message(desk, "Happy to help!", conversation=conversation_id)
    assert ack["type"] == "message.ack" and ack["seq"] == 3  # after the line that says who joined
    joined, _ = await receive_until(customer, lambda f: f["type"] == "message.new" and f["message"]["seq"] == 2)
    assert joined["message"]["author"]["kind"] == "system"
    assert joined["message"]["body"] == "Sam joined the conversation"
    assert joined["message"]["notice"] == {"kind": "agent_joined", "name": "Sam"}
    new, _ = await receive_until(customer, lambda f: f["type"] == "message.new" and f["message"]["seq"] == 3)
    assert new["message"]["author"] == {"kind": "agent", "name": "Sam", "id": agent.pk}
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.owner == "agent" and conversation.assignee_id == agent.pk
    assert conversation.first_human_reply_at is not None
    await customer.disconnect()
    await desk.disconnect()


async def test_internal_note_never_reaches_the_customer(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "1.0"})
    await receive_until(desk, "subscribed")
    await send_message(desk, "customer seems upset", conversation=conversation_id, internal=True)
    note, _ = await receive_until(desk, "message.new")
    assert note["message"]["internal"] is True
    await send_message(desk, "public answer", conversation=conversation_id)
    # The public answer arrives; nothing before it may carry the note.
    # seq 3 tells the customer who joined; the answer is 4, and the note (2) is a gap they never see.
    public, before = await receive_until(customer, lambda f: f["type"] == "message.new" and f["message"]["seq"] == 4)
    joined = [f for f in before if f["type"] == "message.new" and f["message"]["seq"] == 3]
    assert public["prev_seq"] == 3 and joined[0]["prev_seq"] == 1
    assert "customer seems upset" not in str(before)
    reconnect, welcome = await open_customer(token_for(visitor))
    assert "customer seems upset" not in str(welcome)
    await reconnect.disconnect()
    await customer.disconnect()
    await desk.disconnect()


async def test_assign_to_another_agent_of_the_site_and_back_to_queue(visitor, agent, site):
    colleague = await database_sync_to_async(make_agent)("kim", site)
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "conversation.assign", "conversation": conversation_id, "agent": colleague.pk})
    updated, _ = await receive_until(
        desk,
        lambda f: (
            f["type"] == "conversation.updated" and (f["conversation"]["assignee"] or {}).get("id") == colleague.pk
        ),
    )
    assert updated["conversation"]["owner"] == "agent"
    await desk.send_json_to({"type": "conversation.assign", "conversation": conversation_id, "agent": None})
    updated, _ = await receive_until(
        desk, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    assert updated["conversation"]["assignee"] is None
    await customer.disconnect()
    await desk.disconnect()


async def test_resolve_and_reopen(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "conversation.resolve", "conversation": conversation_id})
    resolved, _ = await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["status"] == "resolved"
    )
    assert resolved["conversation"]["id"] == conversation_id
    await desk.send_json_to({"type": "conversation.reopen", "conversation": conversation_id})
    reopened, _ = await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["status"] == "open"
    )
    assert reopened["conversation"]["owner"] == "queue"
    await customer.disconnect()
    await desk.disconnect()


async def test_bot_pause_and_resume_move_ownership(visitor, agent, site):
    await database_sync_to_async(type(site).objects.filter(pk=site.pk).update)(bot_enabled=True)
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "bot.pause", "conversation": conversation_id})
    paused, seen = await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "agent"
    )
    assert paused["conversation"]["assignee"]["id"] == agent.pk
    await desk.send_json_to({"type": "bot.resume", "conversation": conversation_id})
    resumed, before = await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "bot"
    )
    assert resumed["conversation"]["assignee"] is None
    # Each change of hands is a line the customer reads, with a notice to say it in the widget's language.
    lines = [f["message"] for f in [*seen, *before] if f["type"] == "message.new"]
    notices = [(m["author"]["kind"], m["body"], m.get("notice")) for m in lines]
    assert notices[-1] == ("system", "You're back with the assistant", {"kind": "bot_back"})
    assert ("system", "Sam joined the conversation", {"kind": "agent_joined", "name": "Sam"}) in notices
    await desk.send_json_to({"type": "bot.resume", "conversation": conversation_id})  # already the bot's: no line
    await desk.send_json_to({"type": "ping"})
    await receive_until(desk, "pong")
    last = await database_sync_to_async(lambda: Message.objects.filter(conversation_id=conversation_id).last())()
    assert last.body == "You're back with the assistant"
    await customer.disconnect()
    await desk.disconnect()


async def test_bot_resume_on_a_site_without_bot_is_refused(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "bot.resume", "conversation": conversation_id})
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "bot_disabled"
    await customer.disconnect()
    await desk.disconnect()


async def test_agent_typing_reaches_the_customer_but_note_typing_does_not(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "typing", "conversation": conversation_id, "active": True, "internal": True})
    await desk.send_json_to({"type": "typing", "conversation": conversation_id, "active": False})
    typing, before = await receive_until(customer, "typing")
    assert typing["active"] is False and typing["author"]["kind"] == "agent"
    await customer.disconnect()
    await desk.disconnect()


async def test_agent_read_receipt_reaches_the_customer(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "read", "conversation": conversation_id, "seq": 1})
    read, _ = await receive_until(customer, "read")
    assert read == {"type": "read", "conversation": conversation_id, "by": "agent", "seq": 1}
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.unread_by_agent == 0
    await customer.disconnect()
    await desk.disconnect()


async def test_presence_survives_closing_one_of_two_tabs(agent, site):
    watcher = await database_sync_to_async(make_agent)("watcher", site)
    observer, _ = await open_agent(watcher)
    tab1, _ = await open_agent(agent)
    online, _ = await receive_until(observer, lambda f: f["type"] == "presence" and f["agent"]["id"] == agent.pk)
    assert online["status"] == "online"
    tab2, _ = await open_agent(agent)
    await tab1.disconnect()
    assert await database_sync_to_async(AgentConnection.objects.filter(user=agent).count)() == 1
    await tab2.send_json_to({"type": "presence", "status": "away"})
    away, skipped = await receive_until(observer, lambda f: f["type"] == "presence" and f["agent"]["id"] == agent.pk)
    assert away["status"] == "away"  # no "offline" came in between when tab 1 closed
    await tab2.disconnect()
    offline, _ = await receive_until(observer, lambda f: f["type"] == "presence" and f["agent"]["id"] == agent.pk)
    assert offline["status"] == "offline"
    await observer.disconnect()


async def test_stale_connection_of_a_dead_process_does_not_count(agent, settings):
    from datetime import timedelta

    from django.utils import timezone

    from chat.services.presence import presence_of

    await database_sync_to_async(AgentConnection.objects.create)(
        user=agent,
        channel_name="dead-process!x",
        last_seen=timezone.now() - timedelta(seconds=settings.PARLEY_PRESENCE_TTL + 5),
    )
    assert await database_sync_to_async(presence_of)(agent) == "offline"


async def test_pong_and_unknown_frames(agent):
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "ping"})
    await receive_until(desk, "pong")
    await desk.send_json_to({"type": "launch.rockets"})
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "bad_request" and error["ref"] == "launch.rockets"
    await desk.disconnect()


async def test_anonymous_user_is_closed_with_4401(transactional_db):
    communicator, _ = await open_agent(None, expect_welcome=False)
    assert await close_code(communicator) == 4401


async def test_staff_without_profile_serves_every_site(site):
    from tests.conftest import make_site

    other = await database_sync_to_async(make_site)("Other")
    boss = await database_sync_to_async(make_agent)("boss", staff=True)
    desk, welcome = await open_agent(boss)
    assert sorted(welcome["sites"]) == sorted([site.pk, other.pk])
    await desk.disconnect()


async def test_message_counts_stay_consistent(visitor, agent):
    customer, conversation_id = await start_conversation(visitor)
    desk, _ = await open_agent(agent)
    for i in range(3):
        await send_message(desk, f"a{i}", conversation=conversation_id)
    seqs = await database_sync_to_async(
        lambda: list(Message.objects.filter(conversation_id=conversation_id).values_list("seq", flat=True))
    )()
    assert seqs == [1, 2, 3, 4, 5]  # the customer's, "Sam joined", three answers
    await customer.disconnect()
    await desk.disconnect()
