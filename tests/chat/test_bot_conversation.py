"""The bot in a live conversation over the real application: small talk, queue help, away hours and feedback."""

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from chat import metrics
from chat.models import Conversation, Message, Visitor
from tests.chat.test_replies import collect_reply
from tests.conftest import make_agent, make_visitor, open_agent, open_customer, receive_until, send_message, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _instant_typing(settings):
    settings.AI_TYPING_CPS = 0


def conversation(pk: int) -> Conversation:
    return Conversation.objects.select_related("visitor").get(pk=pk)


async def test_small_talk_then_a_question_gets_an_answer_without_a_handoff(bot_visitor):
    small_talk_before = metrics.BOT_OUTCOMES.value("smalltalk")
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "hi")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "smalltalk" and end["body"] and end["meta"]["language"] == "en"
    assert metrics.BOT_OUTCOMES.value("smalltalk") == small_talk_before + 1
    await send_message(customer, "How much does express shipping cost?")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "answered" and "$12.95" in end["body"]
    [source] = end["meta"]["sources"]
    assert source["title"] == "Shipping costs" and source["url"] == f"/help/{bot_visitor.site.key}/{source['id']}/"
    assert f"]({source['url']})" in end["body"] and end["feedback"] is None
    stored = await database_sync_to_async(conversation)(ack["conversation"])
    assert stored.owner == "bot" and stored.handed_off_at is None and stored.bot_misses == 0
    await customer.disconnect()


async def test_misses_are_counted_and_an_answer_resets_them(bot_visitor):
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "Do you sell furniture?")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "unanswered" and end["meta"]["actions"] == ["rephrase", "human"]
    assert (await database_sync_to_async(conversation)(ack["conversation"])).bot_misses == 1
    await send_message(customer, "Do you take PayPal?")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "answered"
    assert (await database_sync_to_async(conversation)(ack["conversation"])).bot_misses == 0
    await customer.disconnect()


async def test_the_site_setting_decides_how_many_misses_hand_off(bot_visitor):
    site = bot_visitor.site
    site.bot_handoff_after = 1
    await database_sync_to_async(site.save)()
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "Do you sell furniture?")
    _, _, end = await collect_reply(customer)
    assert end["meta"].get("handoff") is True
    stored = await database_sync_to_async(conversation)(ack["conversation"])
    assert stored.owner == "queue" and stored.handed_off_at is not None
    await customer.disconnect()


async def test_while_queued_the_bot_still_answers_what_it_can_until_a_person_replies(bot_visitor):
    agent = await database_sync_to_async(make_agent)("sam", bot_visitor.site)
    desk, _ = await open_agent(agent)  # online: the handoff needs no email address
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "talk to a human")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "handoff" and "Leave your email" not in end["body"]
    await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    await send_message(customer, "How much does express shipping cost?")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "answered" and "$12.95" in end["body"] and "Our team has been told" in end["body"]
    answer = await send_message(desk, "Hi, Sam here.", conversation=ack["conversation"])
    await receive_until(customer, lambda f: f["type"] == "message.new" and f["message"]["seq"] == answer["seq"])
    late = await send_message(customer, "And do you take PayPal?")
    count = await database_sync_to_async(Message.objects.filter(author_kind="bot", seq__gt=late["seq"]).count)()
    assert count == 0, "the bot answered after a person did"
    await customer.disconnect()
    await desk.disconnect()


async def test_the_queue_setting_off_keeps_the_bot_quiet(bot_visitor):
    site = bot_visitor.site
    site.bot_answers_in_queue = False
    await database_sync_to_async(site.save)()
    agent = await database_sync_to_async(make_agent)("sam", site)
    desk, _ = await open_agent(agent)
    customer, _ = await open_customer(token_for(bot_visitor))
    await customer.send_json_to({"type": "handoff.request"})
    await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    ack = await send_message(customer, "How much does express shipping cost?")
    bots = await database_sync_to_async(
        Message.objects.filter(conversation_id=ack["conversation"], author_kind="bot").count
    )()
    assert bots == 0
    await customer.disconnect()
    await desk.disconnect()


async def test_away_the_handoff_asks_for_an_email_and_the_bot_stores_it(bot_visitor):
    customer, _ = await open_customer(token_for(bot_visitor))  # no agent online
    await customer.send_json_to({"type": "handoff.request"})
    line, _ = await receive_until(
        customer, lambda f: f["type"] == "message.new" and f["message"]["author"]["kind"] == "system"
    )
    assert "Leave your email address" in line["message"]["body"]
    assert line["message"]["notice"] == {"kind": "handoff_away_ask"}
    ack = await send_message(customer, "cleo@")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "contact" and "complete email address" in end["body"]
    await send_message(customer, "sorry: cleo@example.com")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "contact" and "cleo@example.com" in end["body"]
    stored = await database_sync_to_async(conversation)(ack["conversation"])
    assert stored.visitor.email == "cleo@example.com" and stored.bot_expects == ""
    await customer.disconnect()


async def test_a_visitor_with_an_email_is_told_where_the_reply_goes(bot_visitor):
    bot_visitor.email = "cleo@example.com"
    await database_sync_to_async(bot_visitor.save)()
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "I want to speak to an agent")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "handoff" and "cleo@example.com" in end["body"]
    await customer.disconnect()


async def test_feedback_is_stored_published_and_replayed(bot_visitor):
    agent = await database_sync_to_async(make_agent)("sam", bot_visitor.site)
    customer, _ = await open_customer(token_for(bot_visitor))
    ack = await send_message(customer, "Do you take PayPal?")
    _, _, end = await collect_reply(customer)
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "subscribe", "conversation": ack["conversation"], "cursor": f"{end['seq']}.0"})
    await receive_until(desk, "subscribed")
    await customer.send_json_to({"type": "reply.feedback", "reply_id": end["reply_id"], "helpful": False})
    event, _ = await receive_until(customer, "reply.feedback")
    assert event == {
        "type": "reply.feedback",
        "conversation": ack["conversation"],
        "reply_id": end["reply_id"],
        "helpful": False,
    }
    assert (await receive_until(desk, "reply.feedback"))[0]["helpful"] is False
    stored = await database_sync_to_async(Message.objects.get)(pk=end["reply_id"])
    assert stored.feedback == -1
    await customer.disconnect()
    again, welcome = await open_customer(token_for(bot_visitor))
    [bot] = [
        e["message"]
        for e in welcome["events"]
        if e["type"] == "message.new" and e["message"]["author"]["kind"] == "bot"
    ]
    assert bot["feedback"] is False and bot["outcome"] == "answered" and bot["meta"]["sources"]
    await again.disconnect()
    await desk.disconnect()


async def test_feedback_on_someone_elses_reply_or_malformed_is_refused(bot_visitor):
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "Do you take PayPal?")
    _, _, end = await collect_reply(customer)
    other = await database_sync_to_async(make_visitor)(bot_visitor.site)
    stranger, _ = await open_customer(token_for(other))
    await stranger.send_json_to({"type": "reply.feedback", "reply_id": end["reply_id"], "helpful": True})
    error, _ = await receive_until(stranger, "error")
    assert error["code"] == "not_found"
    for frame in ({"reply_id": end["reply_id"], "helpful": "yes"}, {"reply_id": "x", "helpful": True}):
        await customer.send_json_to({"type": "reply.feedback", **frame})
        error, _ = await receive_until(customer, "error")
        assert error["code"] == "bad_request"
    assert (await database_sync_to_async(Message.objects.get)(pk=end["reply_id"])).feedback is None
    await customer.send_json_to({"type": "ping"})
    await receive_until(customer, "pong")  # the socket stays usable
    await customer.disconnect()
    await stranger.disconnect()


async def test_feedback_over_http_for_the_sse_transport(bot_visitor):
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "Do you take PayPal?")
    _, _, end = await collect_reply(customer)
    await customer.disconnect()
    client = AsyncClient()
    auth = {"headers": {"Authorization": f"Bearer {token_for(bot_visitor)}"}}
    url = f"/api/widget/replies/{end['reply_id']}/feedback"
    response = await client.post(url, {"helpful": True}, content_type="application/json", **auth)
    assert response.status_code == 200 and response.json() == {"reply_id": end["reply_id"], "helpful": True}
    assert (await database_sync_to_async(Message.objects.get)(pk=end["reply_id"])).feedback == 1
    response = await client.post(url, {"helpful": 1}, content_type="application/json", **auth)
    assert response.status_code == 400
    response = await client.post(url, {"helpful": True}, content_type="application/json")
    assert response.status_code == 401
    other = await database_sync_to_async(make_visitor)(bot_visitor.site)
    response = await client.post(
        url, {"helpful": True}, content_type="application/json", headers={"Authorization": f"Bearer {token_for(other)}"}
    )
    assert response.status_code == 404


async def test_a_chinese_question_gets_the_english_article_and_says_so(bot_visitor):
    customer, _ = await open_customer(token_for(bot_visitor))
    await send_message(customer, "可以换货吗")
    _, _, end = await collect_reply(customer)
    assert end["outcome"] == "answered" and end["meta"]["language"] == "zh-hans"
    assert "只有英文" in end["body"] and end["meta"]["sources"][0]["title"] == "Exchanges"
    await customer.disconnect()


async def test_visitor_email_reaches_the_desk(bot_visitor):
    agent = await database_sync_to_async(make_agent)("sam", bot_visitor.site)
    customer, _ = await open_customer(token_for(bot_visitor))
    await customer.send_json_to({"type": "handoff.request"})
    await receive_until(
        customer, lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue"
    )
    # The agent opens the desk after the away line: the bot still waits for the address.
    desk, _ = await open_agent(agent)
    await send_message(customer, "cleo@example.com")
    updated, _ = await receive_until(
        desk,
        lambda f: f["type"] == "conversation.updated" and f["conversation"]["visitor"]["email"] == "cleo@example.com",
    )
    assert updated["conversation"]["visitor"]["email"] == "cleo@example.com"
    assert await database_sync_to_async(Visitor.objects.filter(email="cleo@example.com").exists)()
    await customer.disconnect()
    await desk.disconnect()
