"""The bot as a conversation partner, in the customer's widget (real Chromium, live Daphne, the demo knowledge
base and the offline bot): small talk, answers that cite the help center, quick replies when the bot cannot
help, and 👍 / 👎 that are stored. Every wait is on DOM state or a socket frame, never on time."""

from __future__ import annotations

import json

import pytest

from tests.browser.widget_driver import TIMEOUT_MS, ask, conversation_id, open_widget, wait_for_bot, widget_frame

pytestmark = pytest.mark.browser

SHIPPING_COST = "How much does express shipping cost?"
UNANSWERABLE = ["What are your opening hours?", "Do you sell furniture?"]
HANDED_OFF = ("Waiting for a team member…", "We're away — leave a message")
STATE_KEY = "parley:demo-shop:conn:state"  # the transcript the frame keeps across reloads


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def bot_message(frame, count: int):
    """The `count`-th bot message (1-based)."""
    return frame.locator("#transcript [data-author=bot]").nth(count - 1)


def person_button(frame):
    """The "Talk to a person" quick reply (the footer's own button is named "Talk to a human")."""
    return frame.locator("#transcript .quick").get_by_role("button", name="Talk to a person", exact=True)


def stored_feedback(server, conversation: int) -> list:
    """The feedback column of the conversation's bot replies, in order."""
    out = server.manage(
        "shell",
        "-c",
        "import json; from chat.models import Message; print(json.dumps(list("
        f"Message.objects.filter(conversation_id={conversation}, author_kind='bot')"
        ".order_by('seq').values_list('feedback', flat=True))))",
    )
    return json.loads(out.strip().splitlines()[-1])


def test_small_talk_gets_a_greeting_then_a_question_gets_an_answer_that_cites_the_help_center(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, "hi")
    wait_for_bot(frame, count=1)
    greeting = bot_message(frame, 1)
    assert 0 < len(greeting.locator(".body").text_content()) < 200
    assert greeting.locator(".feedback, .quick").count() == 0  # nothing to rate, nothing to offer
    assert frame.is_visible("#handoff")  # the bot still owns the conversation: nobody was asked to come
    assert frame.locator("#transcript [data-author=system]").count() == 0
    assert frame.text_content("#presence-text") not in HANDED_OFF

    ask(frame, SHIPPING_COST)
    wait_for_bot(frame, count=2)
    answer = bot_message(frame, 2)
    assert "12.95" in answer.locator(".body").text_content()
    assert answer.get_attribute("data-outcome") == "answered"
    link = answer.locator(".body a[href*='/help/demo-shop/']").first
    assert link.get_attribute("href").startswith(parley_server.url + "/help/demo-shop/")
    assert link.get_attribute("target") == "_blank"
    assert {"noopener", "noreferrer"} <= set(link.get_attribute("rel").split())
    assert answer.locator(".feedback").text_content().startswith("Did that answer your question?")
    assert answer.get_by_role("button", name="Yes, it helped").get_attribute("aria-pressed") == "false"
    assert frame.locator("#transcript [data-author=system]").count() == 0


def test_each_unanswered_question_offers_a_person_and_the_quick_reply_hands_off(parley_server, browser, artifacts):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    for count, question in enumerate(UNANSWERABLE, start=1):
        ask(frame, question)
        frame.wait_for_selector("#transcript .quick", state="detached")  # gone once the customer writes
        wait_for_bot(frame, count=count)
        assert bot_message(frame, count).get_attribute("data-outcome") == "unanswered"
        person_button(frame).wait_for(timeout=TIMEOUT_MS)
        assert frame.locator("#transcript .quick").count() == 1  # under the latest bot message only
        assert bot_message(frame, count).locator(".quick").count() == 1
    assert frame.locator("#transcript [data-author=system]").count() == 0  # two misses: no handoff yet
    assert frame.evaluate("document.documentElement.scrollWidth") <= 360  # nothing overflows sideways
    page.screenshot(path=str(artifacts / "widget-bot-quick-replies-phone.png"))

    person_button(frame).click()
    frame.wait_for_selector("#transcript [data-author=system]")
    frame.wait_for_function(
        "texts => texts.includes(document.getElementById('presence-text').textContent)",
        arg=list(HANDED_OFF),
        timeout=TIMEOUT_MS,
    )
    frame.wait_for_selector("#transcript .quick-human", state="detached")
    assert frame.is_hidden("#handoff")
    frame.wait_for_function("() => document.activeElement.id === 'composer'")
    context.close()


def test_thumbs_down_offers_a_person_and_is_stored_across_a_reload(parley_server, context):
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, SHIPPING_COST)
    wait_for_bot(frame, count=1)
    answer = bot_message(frame, 1)
    thumbs_down = answer.get_by_role("button", name="No", exact=True)
    assert person_button(frame).count() == 0

    # By keyboard: back from the composer to 👎, then Enter; the focus stays on it and shows.
    frame.focus("#composer")
    for _ in range(12):
        if frame.evaluate("() => document.activeElement.dataset.helpful === 'false'"):
            break
        page.keyboard.press("Shift+Tab")
    assert frame.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    widget_socket = next(ws for ws in sockets if "/ws/widget/" in ws.url)
    with widget_socket.expect_event(
        "framereceived", predicate=lambda payload: '"reply.feedback"' in payload, timeout=TIMEOUT_MS
    ) as echo:
        page.keyboard.press("Enter")
    assert json.loads(echo.value)["helpful"] is False
    assert thumbs_down.get_attribute("aria-pressed") == "true"
    assert frame.evaluate("() => document.activeElement.dataset.helpful") == "false"
    assert answer.locator(".feedback-text").text_content() == "Thanks for your feedback"
    person_button(frame).wait_for(timeout=TIMEOUT_MS)

    # Choosing 👎 again sends nothing more.
    sent = []
    widget_socket.on("framesent", lambda payload: sent.append(payload))
    thumbs_down.click()
    frame.evaluate("() => new Promise(requestAnimationFrame)")
    assert not [payload for payload in sent if "reply.feedback" in payload]
    assert stored_feedback(parley_server, conversation_id(frame)) == [-1]

    # Reloaded without the frame's own copy of the transcript: the server's replay says 👎 was chosen.
    frame.evaluate("key => localStorage.removeItem(key)", STATE_KEY)
    page.reload()
    frame = widget_frame(page)
    wait_for_bot(frame, count=1)
    answer = bot_message(frame, 1)
    answer.locator(".feedback[data-chosen=false]").wait_for(timeout=TIMEOUT_MS)
    assert answer.get_by_role("button", name="No", exact=True).get_attribute("aria-pressed") == "true"
    assert answer.get_by_role("button", name="Yes, it helped").get_attribute("aria-pressed") == "false"
    person_button(frame).wait_for(timeout=TIMEOUT_MS)


def test_thumbs_up_over_server_sent_events_is_stored(parley_server, context):
    context.route_web_socket("**/ws/widget/", lambda ws: ws.close(code=1011))
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    ask(frame, SHIPPING_COST)
    wait_for_bot(frame, count=1)
    with page.expect_response(lambda r: "/feedback" in r.url and r.request.method == "POST") as posted:
        bot_message(frame, 1).get_by_role("button", name="Yes, it helped").click()
    assert posted.value.status == 200 and posted.value.json()["helpful"] is True
    assert bot_message(frame, 1).locator(".feedback").get_attribute("data-chosen") == "true"
    assert person_button(frame).count() == 0
    assert stored_feedback(parley_server, conversation_id(frame)) == [1]


def test_the_cited_article_opens_in_a_new_tab(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, SHIPPING_COST)
    wait_for_bot(frame, count=1)
    link = bot_message(frame, 1).locator(".body a[href*='/help/demo-shop/']").first
    title = link.text_content().strip()
    href = link.get_attribute("href")
    with context.expect_page(timeout=TIMEOUT_MS) as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.url == href
    assert article.locator("h1").text_content().strip() == title
    assert title in article.title()
    assert page.url == parley_server.url + "/"  # the shop page (and the chat) stayed where they were
