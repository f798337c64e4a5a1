"""The write path: services return their effects, one statement per hot write, lanes per conversation."""

from __future__ import annotations

import asyncio
import inspect
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat.models import Conversation, Message, Site
from chat.realtime import effects, groups, outbox
from chat.realtime.dispatch import DirectDispatch
from chat.services import conversations
from tests.conftest import (
    make_agent,
    make_site,
    make_visitor,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)
from tests.services import need

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


def first_message(visitor):
    """Start the visitor's conversation; return it."""
    result = conversations.customer_message_send(visitor=visitor, client_id=new_client_id(), body="hello")
    return Conversation.objects.get(pk=result.message.conversation_id)


def sent_events(collected: effects.Effects) -> list[tuple[object, str, str]]:
    """(lane, group, event type) of every delivery, in order."""
    return [(lane, group, event["type"]) for lane, deliveries in collected.deliveries for group, event in deliveries]


# --- each kind of effect is returned, and nothing survives a rollback ---------------------------


def test_a_message_returns_its_deliveries_on_its_conversations_lane():
    site = make_site()
    visitor = make_visitor(site)
    conversation = first_message(visitor)
    with effects.collect() as collected:
        conversations.customer_message_send(
            visitor=visitor, client_id=new_client_id(), body="where is my parcel", conversation_id=conversation.pk
        )
    assert (conversation.pk, groups.visitor_group(visitor.pk), "message.new") in sent_events(collected)
    assert (conversation.pk, groups.conversation_group(conversation.pk), "message.new") in sent_events(collected)
    assert (conversation.pk, groups.site_group(site.pk), "conversation.updated") in sent_events(collected)
    assert not collected.jobs and not collected.stops


def test_a_message_to_the_bot_returns_a_job_behind_its_reply_start():
    visitor = make_visitor(make_site(bot=True))
    conversation = first_message(visitor)
    with effects.collect() as collected:
        result = conversations.customer_message_send(
            visitor=visitor, client_id=new_client_id(), body="hi again", conversation_id=conversation.pk
        )
    reply = Message.objects.get(trigger=result.message)
    assert collected.jobs == [(conversation.pk, reply.pk)]
    assert [kind for _, _, kind in sent_events(collected)].count("reply.start") == 2  # customer and agents


def test_taking_over_a_reply_a_worker_generates_returns_a_stop():
    site = make_site(bot=True)
    visitor = make_visitor(site)
    agent = make_agent("sam", site)
    conversation = first_message(visitor)
    reply = Message.objects.get(conversation=conversation, author_kind="bot")
    Message.objects.filter(pk=reply.pk).update(worker="elsewhere:1")
    with effects.collect() as collected:
        conversations.conversation_bot_pause(conversation=conversation, agent=agent)
    assert collected.stops == [reply.pk]


def test_a_handoff_on_an_auto_assigning_site_returns_a_queue_fill():
    site = make_site(bot=True, assignment=Site.Assignment.AUTO)
    conversation = first_message(make_visitor(site))
    with effects.collect() as collected:
        conversations.conversation_handoff(conversation=conversation)
    assert collected.fills == [site.pk]


@pytest.mark.parametrize("kind", ["delivery", "job", "stop", "fill"])
def test_a_rolled_back_transaction_returns_nothing(kind):
    site = make_site(bot=True, assignment=Site.Assignment.AUTO)
    visitor = make_visitor(site)
    agent = make_agent("sam", site)
    conversation = first_message(visitor)
    reply = Message.objects.get(conversation=conversation, author_kind="bot")
    Message.objects.filter(pk=reply.pk).update(worker="elsewhere:1")
    actions = {
        "delivery": lambda: conversations.agent_message_send(
            agent=agent, conversation=conversation, client_id=new_client_id(), body="note", internal=True
        ),
        "job": lambda: conversations.customer_message_send(
            visitor=visitor, client_id=new_client_id(), body="again", conversation_id=conversation.pk
        ),
        "stop": lambda: conversations.conversation_bot_pause(conversation=conversation, agent=agent),
        "fill": lambda: conversations.conversation_handoff(conversation=conversation),
    }
    with effects.collect() as collected:
        with pytest.raises(Boom), transaction.atomic():
            actions[kind]()
            raise Boom
    assert not collected
    assert Message.objects.filter(conversation=conversation).count() == 2


# --- the one-statement writes (PostgreSQL) -------------------------------------------------------


def needs_postgres():
    need(connection.vendor == "postgresql", "the one-statement writes are PostgreSQL's (set DATABASE_URL)")


def statements_of(action) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [query["sql"] for query in captured.captured_queries]


def test_hot_writes_take_one_statement_each():
    needs_postgres()
    site = make_site(bot=True)
    visitor = make_visitor(site)
    agent = make_agent("sam", site)
    conversation = first_message(visitor)

    def customer():
        conversations.customer_message_send(
            visitor=visitor, client_id=new_client_id(), body="and another thing", conversation_id=conversation.pk
        )

    def agent_send(internal):
        return lambda: conversations.agent_message_send_fast(
            agent=agent,
            site_ids=[site.pk],
            conversation_id=conversation.pk,
            client_id=new_client_id(),
            body="on it",
            internal=internal,
        )

    counts = {"customer to the bot": len(statements_of(customer)), "agent note": len(statements_of(agent_send(True)))}
    conversations.conversation_bot_pause(conversation=conversation, agent=agent)
    counts["customer to an agent"] = len(statements_of(customer))
    counts["agent answer"] = len(statements_of(agent_send(False)))
    assert counts == dict.fromkeys(counts, 1), counts


def test_the_one_statement_answer_shows_the_desk_a_confirmed_address():
    """The hot path builds the visitor from its own row: the inbox update says what the ORM path would."""
    needs_postgres()
    from django.utils import timezone

    site = make_site()
    visitor = make_visitor(site, email="cleo@example.com", email_confirmed_at=timezone.now())
    agent = make_agent("sam", site)
    conversation = first_message(visitor)
    conversations.conversation_bot_pause(conversation=conversation, agent=agent)
    with effects.collect() as collected:
        result = conversations.agent_message_send_fast(
            agent=agent,
            site_ids=[site.pk],
            conversation_id=conversation.pk,
            client_id=new_client_id(),
            body="on it",
            internal=False,
        )
    assert result is not None
    [inbox] = [
        event
        for _, deliveries in collected.deliveries
        for group, event in deliveries
        if group == groups.site_group(site.pk) and event["type"] == "conversation.updated"
    ]
    assert inbox["conversation"]["visitor"]["email_confirmed"] is True


def test_one_statement_send_stores_what_the_orm_path_would():
    """Seq, prev_seq, counters, the reply begun and the earlier reply stopped, on either path."""
    site = make_site(bot=True)
    visitor = make_visitor(site)
    conversation = first_message(visitor)
    earlier = Message.objects.get(conversation=conversation, author_kind="bot")
    with effects.collect() as collected:
        result = conversations.customer_message_send(
            visitor=visitor, client_id=new_client_id(), body="second", conversation_id=conversation.pk
        )
    conversation.refresh_from_db()
    earlier.refresh_from_db()
    reply = Message.objects.get(trigger=result.message)
    assert (result.message.seq, reply.seq, conversation.last_seq, conversation.last_public_seq) == (3, 4, 4, 4)
    assert earlier.status == "stopped" and reply.status == "streaming" and reply.lease_until is not None
    assert (conversation.unread_by_agent, conversation.unread_by_customer) == (2, 2)
    customer_events = [
        event
        for _, deliveries in collected.deliveries
        for group, event in deliveries
        if group == groups.visitor_group(visitor.pk)
    ]
    kinds = [
        (event["type"], event.get("prev_seq")) for event in customer_events if event["type"] != "conversation.updated"
    ]
    assert kinds == [("message.new", 2), ("reply.end", None), ("reply.start", 3)]


def test_a_retried_client_id_is_stored_once_on_the_fast_path():
    visitor = make_visitor(make_site())
    conversation = first_message(visitor)
    client_id = new_client_id()
    first = conversations.customer_message_send(
        visitor=visitor, client_id=client_id, body="once", conversation_id=conversation.pk
    )
    again = conversations.customer_message_send(
        visitor=visitor, client_id=client_id, body="once", conversation_id=conversation.pk
    )
    assert (again.created, again.message.pk) == (False, first.message.pk)
    assert Message.objects.filter(client_id=client_id).count() == 1


def test_the_agent_fast_path_refuses_other_sites_and_takeovers():
    site, other = make_site(bot=True), make_site("Other")
    agent = make_agent("sam", site)
    conversation = first_message(make_visitor(site))

    def send(site_ids, internal):
        return conversations.agent_message_send_fast(
            agent=agent,
            site_ids=site_ids,
            conversation_id=conversation.pk,
            client_id=new_client_id(),
            body="hi",
            internal=internal,
        )

    assert send([other.pk], True) is None  # not a site of this socket's
    assert send([site.pk], False) is None  # the bot owns it: a takeover goes the ORM way
    assert Message.objects.filter(conversation=conversation, author_kind="agent").count() == 0


def test_one_statement_sends_from_many_threads_keep_seq_and_idempotency():
    """Eight threads of one process (as PARLEY_DB_THREADS runs them), customer and agent, with retries."""
    needs_postgres()
    site = make_site()
    visitor = make_visitor(site)
    agent = make_agent("sam", site)
    conversation = first_message(visitor)
    conversations.conversation_assign(conversation=conversation, assignee=agent)  # a human owns it

    def writer(index: int) -> list[str]:
        sent = []
        try:
            for n in range(12):
                client_id = new_client_id()
                sent.append(client_id)
                for _attempt in range(2 if n % 3 == 0 else 1):  # a flaky network retries
                    with effects.collect():
                        if index % 2:
                            conversations.customer_message_send(
                                visitor=visitor, client_id=client_id, body=f"c{n}", conversation_id=conversation.pk
                            )
                        else:
                            conversations.agent_message_send_fast(
                                agent=agent,
                                site_ids=[site.pk],
                                conversation_id=conversation.pk,
                                client_id=client_id,
                                body=f"a{n}",
                                internal=bool(n % 2),
                            )
        finally:
            connection.close()
        return sent

    with ThreadPoolExecutor(max_workers=8) as pool:
        client_ids = [cid for sent in pool.map(writer, range(8)) for cid in sent]
    seqs = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    stored = Message.objects.filter(client_id__in=client_ids).values_list("client_id", flat=True)
    assert sorted(stored) == sorted(client_ids)  # every message once, retries included
    conversation.refresh_from_db()
    assert conversation.last_seq == len(seqs)


# --- lanes: per-conversation order, and no conversation waits on another ------------------------


async def test_a_stalled_conversation_does_not_hold_up_another(site):
    stuck_visitor, free_visitor = await database_sync_to_async(lambda: (make_visitor(site), make_visitor(site)))()
    stuck, _ = await open_customer(token_for(stuck_visitor))
    free, _ = await open_customer(token_for(free_visitor))
    stuck_ack = await send_message(stuck, "first")
    await send_message(free, "first")

    release = asyncio.Event()
    blocked = outbox.put(stuck_ack["conversation"], release.wait)  # its layer calls hang, say on a full channel
    waiting = asyncio.create_task(send_message(stuck, "behind the stall"))
    ack = await asyncio.wait_for(send_message(free, "not behind it"), timeout=5)
    assert ack["type"] == "message.ack"
    assert not waiting.done()  # the stalled conversation's own ack waits for its events
    release.set()
    await blocked
    assert (await asyncio.wait_for(waiting, timeout=5))["type"] == "message.ack"
    await stuck.disconnect()
    await free.disconnect()


async def test_events_of_one_conversation_leave_in_seq_order_under_concurrent_writers(site, visitor):
    sam, kim = await database_sync_to_async(lambda: (make_agent("sam", site), make_agent("kim", site)))()
    customer, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(customer, "hello"))["conversation"]
    watcher, _ = await open_agent(sam)
    await watcher.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "0.0"})
    await receive_until(watcher, "subscribed")
    writer_one, _ = await open_agent(sam)
    writer_two, _ = await open_agent(kim)

    async def write(communicator, count, **extra):
        for n in range(count):
            assert (await send_message(communicator, f"m{n}", **extra))["type"] == "message.ack"

    await asyncio.gather(
        write(customer, 10),
        write(writer_one, 10, conversation=conversation_id, internal=True),
        write(writer_two, 10, conversation=conversation_id, internal=True),
    )
    seqs = []
    while len(seqs) < 30:
        frame, _ = await receive_until(watcher, "message.new")
        seqs.append(frame["message"]["seq"])
    assert seqs == list(range(2, 32))
    for communicator in (customer, watcher, writer_one, writer_two):
        await communicator.disconnect()


# --- DirectDispatch mirrors channels' dispatch ---------------------------------------------------


def test_direct_dispatch_mirrors_channels_dispatch_but_the_connection_cleanup():
    """If channels changes `AsyncConsumer.dispatch`, DirectDispatch must be looked at again."""
    source = inspect.getsource(AsyncConsumer.dispatch)
    body = re.sub(r'"""[\s\S]*?"""', "", source)
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    assert lines == [
        "async def dispatch(self, message):",
        "handler = getattr(self, get_handler_name(message), None)",
        "if handler:",
        "await aclose_old_connections()",
        "await handler(message)",
        "else:",
        'raise ValueError("No handler for message type %s" % message["type"])',
    ], "channels' AsyncConsumer.dispatch changed: update chat/realtime/dispatch.py to mirror it"
    assert DirectDispatch.dispatch is not AsyncConsumer.dispatch
