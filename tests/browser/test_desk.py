"""The agent desk and the customer widget side by side in real Chromium, against a live Daphne.

The bot is a fake OpenAI-compatible server, so a reply can be held mid-stream (`pause_after`) exactly
while the agent takes over. Every wait is on DOM state; nothing sleeps.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.desk_drivers import BACKGROUND_TAB_JS, Desk, save_screenshot, token
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

BOT_WORDS = "Yes, we accept PayPal, Visa, Mastercard and Apple Pay, and your card is only charged when we ship."
BOT_TOKENS = [BOT_WORDS.split(" ")[0]] + [" " + word for word in BOT_WORDS.split(" ")[1:]]


@pytest.fixture(scope="module")
def fake_openai():
    with FakeOpenAI(tokens=BOT_TOKENS, delay=0.01) as server:
        yield server


@pytest.fixture(scope="module")
def parley_server_env(fake_openai):
    return {"AI_PROVIDER": "openai", "AI_BASE_URL": fake_openai.base_url, "AI_API_KEY": "sk-desk-tests"}


def queue_count(desk) -> int:
    return int(desk.page.text_content("#queue-count") or 0)


def test_a_customer_asking_for_a_human_shows_up_in_the_queue_live(desk, customer):
    desk.view("queue")
    desk.page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    before = queue_count(desk)

    customer.say(token("Hello") + " I have a question about my order")
    customer.ask_for_human()
    conversation = customer.conversation_id()

    row = desk.row(conversation)
    row.wait_for()
    assert "Waiting" in row.locator(".chip").text_content()
    desk.page.wait_for_function("n => Number(document.querySelector('#queue-count').textContent) > n", arg=before)
    desk.page.wait_for_function("() => /^\\(\\d+\\) Parley desk$/.test(document.title)")
    assert desk.page.evaluate("window.__sameDocument") is True


def test_taking_over_mid_reply_stops_the_bot_and_it_stays_silent(desk, customer, fake_openai):
    fake_openai.configure(pause_after=4)  # the next reply streams four words, then hangs until stopped
    question = customer.say(token("Pay") + " Do you take PayPal?")
    customer.frame.locator("#transcript [data-seq][data-author=bot][data-status=streaming]").wait_for()
    conversation = customer.conversation_id()
    fake_openai.configure(pause_after=None)

    desk.view("open")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    streaming = desk.item("bot").first
    desk.page.wait_for_function(
        "() => { const b = document.querySelector('#desk-transcript [data-author=bot][data-status=streaming] .body');"
        " return b && b.textContent.length > 0; }"
    )
    assert desk.page.is_visible("#stop-bot")

    desk.page.click("#take-over")
    desk.page.wait_for_selector("#desk-transcript [data-author=bot][data-status=stopped]")
    customer.frame.locator("#transcript [data-seq][data-author=bot][data-status=stopped]").wait_for()
    assert streaming.locator(".body").text_content() != BOT_WORDS  # stopped part-way
    desk.page.wait_for_selector("#take-over", state="hidden")
    desk.page.wait_for_selector("#stop-bot", state="hidden")
    assert desk.page.text_content("#conv-chip") == "Assigned to you"
    # The customer is told a person joined, and that the cut-off answer was cut by them, not by the customer.
    joined = customer.wait_for("system", "Sam joined the conversation")
    cut = customer.frame.locator("#transcript [data-seq][data-author=bot][data-status=stopped] .note")
    assert cut.text_content() == "Stopped: a person took over"

    answer = desk.send("Hi, Sam here. Yes, PayPal works for every order.")
    assert answer == joined + 1
    assert customer.wait_for("agent", "Sam here") == answer

    follow_up = customer.say("Great, and gift cards too?")
    desk.item("customer", "gift cards").wait_for()
    second = desk.send("Gift cards too, yes!")
    assert customer.wait_for("agent", "Gift cards too") == second == follow_up + 1  # no bot reply in between
    bot_items = [item for item in customer.items() if item["author"] == "bot"]
    assert [item["seq"] for item in bot_items] == [question + 1]
    assert bot_items[0]["status"] == "stopped"


def test_a_private_note_never_reaches_the_customer(desk, customer):
    customer.ask_for_human()
    customer.say("Can someone check my refund?")
    conversation = customer.conversation_id()

    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    secret = token("NOTE") + " customer was refunded twice already"
    note = desk.send(secret, note=True)
    note_item = desk.page.locator(f"#desk-transcript [data-seq='{note}']")
    assert note_item.get_attribute("data-internal") == "true"
    assert "Private note" in note_item.text_content()
    assert "msg-note" in note_item.get_attribute("class")

    public = desk.send("I'm checking your refund now.")
    assert customer.wait_for("agent", "checking your refund") == public
    assert secret not in customer.frame.content()
    assert note not in [item["seq"] for item in customer.items()]

    customer.reload()  # a fresh replay from the server carries no note either
    customer.wait_for("agent", "checking your refund")
    assert secret not in customer.frame.content()


def test_resolve_then_the_customer_writes_again_and_it_comes_back_to_the_agent(desk, customer):
    customer.ask_for_human()
    customer.say("My parcel never arrived")
    conversation = customer.conversation_id()
    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.send("Sorry about that! A new parcel is on its way.")

    desk.view("mine")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.page.click("#resolve")
    desk.page.wait_for_selector("#reopen", state="visible")
    assert desk.page.text_content("#conv-chip") == "Resolved"
    desk.row(conversation).wait_for(state="detached")  # resolved: no longer in Mine

    again = token("Again") + " It says delivered but it is not here"
    customer.say(again)
    desk.row(conversation).wait_for()  # reopened, assigned to the same agent: back in Mine, live
    desk.item("customer", again).wait_for()
    desk.page.wait_for_selector("#resolve", state="visible")
    assert desk.page.text_content("#conv-chip") == "Assigned to you"
    assert customer.conversation_id() == conversation


def test_a_desk_in_the_background_beeps_and_notifies(parley_server, browser, desk, customer):
    background = Desk(browser, parley_server.url, init_script=BACKGROUND_TAB_JS)  # a second tab of the same agent
    try:
        background.page.keyboard.press("Shift")  # the user gesture that lets a page make sound
        customer.ask_for_human()
        notes = background.page.wait_for_function("() => window.__notes.length > 0 && window.__notes").json_value()
        assert notes[0]["title"].endswith("is waiting")
        assert background.page.evaluate("window.__beeps") > 0

        conversation = customer.conversation_id()
        desk.view("queue")
        desk.row(conversation).wait_for()
        desk.open(conversation)
        desk.page.click("#assign-me")  # assigned to this agent: the background tab now watches it for them
        desk.page.wait_for_selector("#assign-me", state="hidden")
        customer.say("Hello? Anyone?")
        background.page.wait_for_function("() => window.__notes.some(n => n.title.startsWith('New message from'))")
        background.page.wait_for_function("() => /^\\(\\d+\\) Parley desk$/.test(document.title)")
    finally:
        background.close()
    desk.page.wait_for_selector("#presence[data-status=online]")  # closing one of two tabs keeps the agent online


def test_search_by_message_text(desk, customer):
    phrase = token("Umbrella")
    customer.ask_for_human()
    customer.say(f"Is the {phrase} waterproof?")
    conversation = customer.conversation_id()
    desk.view("open")
    desk.row(conversation).wait_for()
    desk.page.locator("body").click(position={"x": 700, "y": 400})
    desk.page.keyboard.press("/")
    desk.page.wait_for_function("() => document.activeElement.id === 'search'")
    desk.page.keyboard.type(phrase)
    desk.page.wait_for_function(
        "id => { const rows = document.querySelectorAll('#conversation-list [data-conversation-id]');"
        " return rows.length === 1 && rows[0].dataset.conversationId === String(id); }",
        arg=conversation,
    )
    # The row shows where the text matched, the match marked (as text: nothing of it is parsed as HTML).
    snippet = desk.row(conversation).locator(".conv-snippet")
    assert phrase in snippet.text_content() and "waterproof" in snippet.text_content()
    assert phrase.lower() in snippet.locator("mark").first.text_content().lower()
    desk.page.fill("#search", "no-such-words-anywhere")
    desk.page.wait_for_selector("#list-empty", state="visible")
    desk.page.fill("#search", "")
    desk.page.wait_for_function(
        "() => document.querySelectorAll('#conversation-list [data-conversation-id]').length > 1"
    )


def test_keyboard_shortcuts_and_presence(desk, customer):
    customer.ask_for_human()
    customer.say("Is anyone there?")
    conversation = customer.conversation_id()
    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.page.locator("body").click(position={"x": 700, "y": 400})  # out of any field, shortcuts are live

    desk.page.keyboard.press("a")  # assign to me
    desk.page.wait_for_function("() => document.querySelector('#conv-chip').textContent === 'Assigned to you'")
    assert desk.page.is_hidden("#assign-me")
    desk.row(conversation).wait_for(state="detached")  # no longer waiting in the queue

    desk.page.keyboard.press("2")  # the Mine view
    desk.page.wait_for_selector("[data-view=mine][aria-selected=true]")
    desk.row(conversation).wait_for()
    rows = desk.page.locator("#conversation-list [data-conversation-id]")
    if rows.count() > 1:
        active = desk.page.get_attribute("#conversation-list .is-active", "data-conversation-id")
        desk.page.keyboard.press("j" if rows.first.get_attribute("data-conversation-id") == active else "k")
        desk.page.wait_for_function(
            "id => document.querySelector('#conversation-list .is-active')"
            " && document.querySelector('#conversation-list .is-active').dataset.conversationId !== id",
            arg=active,
        )

    desk.page.keyboard.press("?")
    desk.page.wait_for_selector("#help-dialog[open]")
    assert "Take over from the bot" in desk.page.text_content("#help-dialog")
    desk.page.keyboard.press("Escape")
    desk.page.wait_for_selector("#help-dialog:not([open])", state="attached")

    desk.page.keyboard.press("r")
    desk.page.wait_for_function("() => document.activeElement.id === 'desk-composer'")
    desk.page.keyboard.press("Escape")

    desk.page.click("#presence")
    desk.page.wait_for_selector("#presence[data-status=away]")
    desk.page.click("#presence")
    desk.page.wait_for_selector("#presence[data-status=online]")


def test_reports_draw_charts_from_seeded_history(parley_server, desk, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "14", "--per-day", "9")
    page = desk.context.new_page()
    page.goto(parley_server.url + "/agent/reports/")
    assert page.locator("#chart-volume rect.bar-human").count() > 0
    assert page.locator("#chart-volume rect.bar-bot").count() > 0
    assert page.locator("#chart-response circle.point").count() > 0
    assert page.locator("#chart-bot-share circle.fill").count() == 1
    assert re.fullmatch(r"\d+%", page.text_content("#kpi-bot-share .kpi-value").strip())
    assert re.search(r"\d", page.text_content("#kpi-first-response .kpi-value"))
    assert int(page.text_content("#kpi-conversations .kpi-value")) > 50

    page.fill("#period-start", page.input_value("#period-end"))  # one day only
    page.click("#period-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#chart-volume g.day').length === 1")
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('#chart-volume g.day').length === 14")
    save_screenshot(page, artifacts, "reports.png", full_page=True)
    page.close()


def test_desk_screenshot(parley_server, desk, customer, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "0", "--open", "5", "--seed", "11")
    customer.ask_for_human()
    customer.say("Hi! My order #5120 still shows as processing. Could you check it?")
    conversation = customer.conversation_id()
    desk.page.reload()
    desk.page.wait_for_selector("#presence[data-status=online]")
    desk.view("open")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.send("Warehouse confirms it leaves today, tracking to follow.", note=True)
    desk.send("Hi! I just checked: your order ships today and you'll get the tracking link by email.")
    customer.wait_for("agent", "ships today")
    desk.page.wait_for_selector("#desk-transcript .seen-label")  # the customer's widget reported it read
    customer.frame.fill("textarea#composer", "Perfect, thank")
    desk.page.wait_for_selector("#typing-line.is-on")
    desk.page.wait_for_selector("#details-verified")
    desk.page.click("#desk-composer")
    desk.page.keyboard.type("/")
    desk.page.wait_for_selector("#canned-picker .canned-item")
    desk.page.screenshot(path=str(artifacts / "desk-canned.png"))
    desk.page.keyboard.type("thanks")
    desk.page.keyboard.press("Enter")  # picks the canned response into the draft, does not send
    assert desk.page.input_value("#desk-composer").startswith("Thanks for your patience")
    desk.page.wait_for_selector("#canned-picker", state="hidden")
    save_screenshot(desk.page, artifacts, "desk.png")
