"""The AI reply over WebSocket: streaming, stop, resume, disconnect, handoff, failures and the reaper."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from tests.conftest import (
    make_agent,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db(transaction=True)

TOKENS = ["Orders ", "placed ", "before ", "2 pm ", "ship ", "the ", "same ", "day."]


@pytest.fixture
def openai_server(settings):
    """A real HTTP server speaking the streaming chat-completions format, wired in as the provider."""
    with FakeOpenAI(tokens=TOKENS) as server:
        settings.AI_PROVIDER = "openai"
        settings.AI_BASE_URL = server.base_url
        settings.AI_API_KEY = "sk-test-secret-key"
        settings.AI_TIMEOUT = 5
        yield server


def reply_of(conversation_id):
    return Message.objects.filter(conversation_id=conversation_id, author_kind="bot").order_by("-seq").first()


async def collect_reply(communicator, *, timeout=15):
    """Receive one reply from start to end; return (start, deltas, end)."""
    start, _ = await receive_until(communicator, "reply.start", timeout=timeout)
    deltas, end = await collect_rest_of_reply(communicator, timeout=timeout)
    return start, deltas, end


async def collect_rest_of_reply(communicator, *, timeout=15):
    """Receive a started reply's deltas up to its end; return (deltas, end)."""
    deltas = []
    while True:
        frame, _ = await receive_until(
            communicator, lambda f: f["type"] in ("reply.delta", "reply.end"), timeout=timeout
        )
        if frame["type"] == "reply.end":
            return deltas, frame
        deltas.append(frame)


async def test_kb_reply_streams_in_numbered_deltas_and_ends_complete(bot_visitor, settings):
    settings.AI_TYPING_CPS = 2000
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "How long does delivery take?")
    start, deltas, end = await collect_reply(customer)
    assert start["seq"] == ack["seq"] + 1 and start["author"]["kind"] == "bot"
    assert [d["index"] for d in deltas] == list(range(len(deltas))) and len(deltas) > 1
    assert end["status"] == "complete" and end["body"] == "".join(d["text"] for d in deltas)
    assert "Shipping times" in end["body"]
    assert end["index"] == deltas[-1]["index"]
    stored = await database_sync_to_async(reply_of)(ack["conversation"])
    assert stored.status == "complete" and stored.body == end["body"] and stored.trigger_id == ack["id"]
    await customer.disconnect()


async def test_chinese_question_gets_a_chinese_answer(bot_visitor, settings):
    settings.AI_TYPING_CPS = 0
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "怎么退货？")
    _, _, end = await collect_reply(customer)
    assert end["status"] == "complete" and "退货政策" in end["body"]
    await customer.disconnect()


async def test_unanswered_questions_in_a_row_hand_off_to_the_queue(bot_visitor, settings):
    settings.AI_TYPING_CPS = 0
    customer, _ = await open_customer(token_for(bot_visitor))
    for question in ["What is the airspeed velocity of an unladen swallow?", "Do you sell furniture?"]:
        await send_message(customer, question)
        _, _, end = await collect_reply(customer)
        assert end["outcome"] == "unanswered" and end["meta"]["actions"] == ["rephrase", "human"]
    ack = await send_message(customer, "Who won the match yesterday?")
    _, _, end = await collect_reply(customer)
    assert end["status"] == "complete" and end["meta"].get("handoff") is True
    updated, _ = await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    assert updated["conversation"]["id"] == ack["conversation"]
    assert "passing you to a person" in end["body"]  # the bot said it is fetching a person
    await customer.disconnect()


async def test_retried_message_triggers_one_reply(bot_visitor, settings):
    settings.AI_TYPING_CPS = 0
    customer, _ = await open_customer(token_for(bot_visitor))
    client_id = "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60"
    await send_message(customer, "Do you take PayPal?", client_id=client_id)
    await send_message(customer, "Do you take PayPal?", client_id=client_id)
    _, _, end = await collect_reply(customer)
    assert end["status"] == "complete"
    count = await database_sync_to_async(Message.objects.filter(author_kind="bot").count)()
    assert count == 1
    await customer.disconnect()


async def test_a_duplicated_job_generates_once(bot_visitor, settings):
    """One trigger, one reply: a second delivery of the same job finds the reply claimed."""
    from channels.layers import get_channel_layer

    settings.AI_TYPING_CPS = 400
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "Do you take PayPal?")
    start, _ = await receive_until(customer, "reply.start")
    await get_channel_layer().send("ai-reply", {"type": "reply.generate", "reply_id": start["reply_id"]})
    deltas, end = await collect_rest_of_reply(customer)
    assert end["body"] == "".join(d["text"] for d in deltas)  # no index twice, no text twice
    await customer.disconnect()


async def test_stop_closes_the_provider_stream_and_keeps_the_partial_text(bot_visitor, openai_server):
    openai_server.configure(pause_after=3)  # the provider stalls mid-answer until released
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "When do orders ship?")
    start, _ = await receive_until(customer, "reply.start")
    await receive_until(customer, "reply.delta")
    assert await asyncio.to_thread(openai_server.wait_sent, 3)
    stopped_at = time.monotonic()
    await customer.send_json_to({"type": "reply.stop", "reply_id": start["reply_id"]})
    end, _ = await receive_until(customer, "reply.end")
    closed_after = await asyncio.to_thread(openai_server.wait_closed, 5, stopped_at)
    assert closed_after is not None, "the provider's HTTP stream was not closed"
    print(f"stop -> provider connection closed in {closed_after * 1000:.1f} ms")
    # Trailing spaces wait for the next token (it may be a citation to strip), so they end with the text.
    assert end["status"] == "stopped" and end["body"] == "".join(TOKENS[:3]).rstrip()
    stored = await database_sync_to_async(Message.objects.get)(pk=start["reply_id"])
    assert stored.status == "stopped" and stored.body == end["body"]
    openai_server.release()
    await customer.disconnect()


async def test_stop_of_a_finished_reply_is_refused_and_changes_nothing(bot_visitor, settings):
    settings.AI_TYPING_CPS = 0
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "Do you ship abroad?")
    start, _, end = await collect_reply(customer)
    await customer.send_json_to({"type": "reply.stop", "reply_id": start["reply_id"]})
    error, _ = await receive_until(customer, "error")
    assert error["code"] == "not_streaming"
    stored = await database_sync_to_async(Message.objects.get)(pk=start["reply_id"])
    assert stored.status == "complete" and stored.body == end["body"]
    await customer.disconnect()


async def test_disconnect_is_not_stop(bot_visitor, openai_server):
    openai_server.configure(pause_after=2)
    agent = await database_sync_to_async(make_agent)("watcher", bot_visitor.site)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "When do orders ship?")
    await receive_until(customer, "reply.delta")
    await customer.disconnect()  # every customer viewer is gone
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": ack["conversation"], "cursor": f"{ack['seq']}.0"})
    await receive_until(desk, "subscribed")
    openai_server.release()
    end, _ = await receive_until(desk, "reply.end")
    assert end["status"] == "complete" and end["body"] == "".join(TOKENS)
    stored = await database_sync_to_async(reply_of)(ack["conversation"])
    assert stored.status == "complete" and stored.body == "".join(TOKENS)
    await desk.disconnect()


async def test_resume_mid_stream_over_websocket_is_exact(bot_visitor, openai_server):
    openai_server.configure(pause_after=4)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "When do orders ship?")
    start, _ = await receive_until(customer, "reply.start")
    first, _ = await receive_until(customer, "reply.delta")
    held = first["text"]
    cursor = f"{first['seq']}.{first['index']}"
    await customer.disconnect()
    assert await asyncio.to_thread(openai_server.wait_sent, 4)

    again, welcome = await open_customer(token_for(bot_visitor), cursor=cursor, conversation=ack["conversation"])
    frames = list(welcome["events"])
    openai_server.release()
    while not any(f["type"] == "reply.end" for f in frames):
        frames.append(await again.receive_json_from(timeout=10))
    text, index = held, first["index"]
    for frame in frames:
        if frame.get("reply_id") != start["reply_id"]:
            continue
        if frame["type"] == "reply.snapshot":
            assert frame["index"] >= index
            text, index = frame["text"], frame["index"]
        elif frame["type"] == "reply.delta":
            assert frame["index"] == index + 1, "a delta twice or missing"
            text, index = text + frame["text"], frame["index"]
        elif frame["type"] == "reply.end":
            assert text == frame["body"] == "".join(TOKENS)
    await again.disconnect()


async def test_handoff_request_mid_reply_stops_it_and_queues(bot_visitor, openai_server):
    openai_server.configure(pause_after=2)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "When do orders ship?")
    await receive_until(customer, "reply.delta")
    await customer.send_json_to({"type": "handoff.request"})
    end, _ = await receive_until(customer, "reply.end")
    assert end["status"] == "stopped"
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.owner == "queue"
    assert await asyncio.to_thread(openai_server.wait_closed, 5) is not None
    await customer.disconnect()


async def test_agent_takeover_mid_reply_stops_the_bot_and_it_stays_silent(bot_visitor, openai_server):
    openai_server.configure(pause_after=2)
    agent = await database_sync_to_async(make_agent)("sam", bot_visitor.site)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "When do orders ship?")
    await receive_until(customer, "reply.delta")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "bot.pause", "conversation": ack["conversation"]})
    end, _ = await receive_until(customer, "reply.end")
    assert end["status"] == "stopped"
    openai_server.release()
    await send_message(customer, "Hello? Anyone there?")
    answer = await send_message(desk, "I'm here, let me check.", conversation=ack["conversation"])
    received, between = await receive_until(
        customer, lambda f: f["type"] == "message.new" and f["message"]["seq"] == answer["seq"]
    )
    assert not any(f["type"].startswith("reply.") for f in between), "the bot spoke after the takeover"
    bot_replies = await database_sync_to_async(Message.objects.filter(author_kind="bot").count)()
    assert bot_replies == 1
    await customer.disconnect()
    await desk.disconnect()


async def test_provider_failure_ends_failed_with_a_customer_line_and_an_agent_reason(bot_visitor, openai_server):
    openai_server.configure(status=500)
    agent = await database_sync_to_async(make_agent)("sam", bot_visitor.site)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "When do orders ship?")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": ack["conversation"], "cursor": "0.0"})
    end, _ = await receive_until(customer, "reply.end")
    assert end["status"] == "failed" and "team" in end["body"] and "reason" not in end
    agent_end, _ = await receive_until(
        desk,
        lambda f: (
            f["type"] == "reply.end"
            or (
                f["type"] == "subscribed"
                and any(e["type"] == "message.new" and e["message"]["status"] == "failed" for e in f["events"])
            )
        ),
    )
    stored = await database_sync_to_async(reply_of)(ack["conversation"])
    assert "500" in stored.error_reason and "sk-test-secret-key" not in stored.error_reason
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=ack["conversation"])
    assert conversation.owner == "queue"
    await customer.disconnect()
    await desk.disconnect()


async def test_reply_whose_worker_died_is_interrupted_by_the_reaper(bot_visitor, settings):
    from datetime import timedelta

    from django.utils import timezone

    from chat.services.replies import reply_reap_expired

    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "hi")
    await receive_until(customer, "reply.start")

    def orphan():  # what a SIGKILLed worker leaves behind: a claimed reply whose lease lapses
        reply = reply_of(ack["conversation"])
        Message.objects.filter(pk=reply.pk).update(
            status="streaming",
            worker="dead:1:x",
            body="Partial",
            stream_index=0,
            lease_until=timezone.now() - timedelta(seconds=1),
        )
        return reply

    reply = await database_sync_to_async(orphan)()
    assert await database_sync_to_async(reply_reap_expired)() == 1
    stored = await database_sync_to_async(Message.objects.get)(pk=reply.pk)
    assert stored.status == "interrupted" and stored.body == "Partial"
    await customer.disconnect()


async def test_bot_does_not_answer_on_a_site_without_bot(visitor):
    customer, _ = await open_customer(token_for(visitor))
    await send_message(customer, "hello")
    marker = await send_message(customer, "second")
    assert marker["seq"] == 2  # no reply took seq 2
    await customer.disconnect()
