"""The desk on a phone (390 × 844) and at a medium width (1024 × 768), the reports on a phone, and the sign-in page,
in real Chromium against a live Daphne. Every wait is on DOM state; nothing sleeps.
"""

from __future__ import annotations

import pytest

from tests.browser.desk_drivers import (
    Desk,
    phone_item_seq,
    resize,
    save_screenshot,
    token,
    visible_box,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
MEDIUM = {"width": 1024, "height": 768}
NARROW = {"width": 360, "height": 740}  # the smallest phone the desk is built for


def test_on_a_phone_list_then_conversation_then_details_and_back(parley_server, desk, customer, artifacts):
    # A list long enough to scroll.
    parley_server.manage("seed_reports_demo", "--days", "0", "--open", "12", "--seed", "5")
    question = token("Phone") + " My parcel is late, can someone help?"
    customer.say(question)
    customer.ask_for_human()
    conversation = customer.conversation_id()

    resize(desk, PHONE)
    page = desk.page
    desk.view("queue")
    page.wait_for_selector("#conversation-list", state="visible")  # the list is the one view shown
    page.wait_for_selector("#conversation-pane", state="hidden")
    page.wait_for_selector("#details-pane", state="hidden")
    rail = visible_box(page, ".rail")
    assert rail["height"] <= 60 and rail["width"] == PHONE["width"]  # the icon rail is a compact top bar

    desk.row(conversation).click()
    page.wait_for_selector("#conversation-pane", state="visible")
    page.wait_for_selector("#conversation-list", state="hidden")
    page.wait_for_selector("#desk-transcript [data-seq][data-author=customer]")
    assert page.is_visible("#conv-back")
    head = page.text_content("#conv-sub")
    assert f"Conversation {conversation}" in head  # the conversation number, told apart from the visitor's
    composer = visible_box(page, "#composer-form")
    assert composer["y"] + composer["height"] <= PHONE["height"]  # the composer sits at the bottom, on screen
    assert composer["x"] >= 0 and composer["x"] + composer["width"] <= PHONE["width"]

    page.click("#take-over")
    page.wait_for_selector("#take-over", state="hidden")
    answer = token("Answer") + " Sorry for the wait, it is on its way."
    page.fill("textarea#desk-composer", answer)
    page.click("#send")
    seq = phone_item_seq(desk, "agent", answer)
    assert customer.wait_for("agent", answer[:20]) == seq
    save_screenshot(page, artifacts, "desk-phone.png")

    assert page.get_attribute("#details-toggle", "aria-expanded") == "false"
    page.click("#details-toggle")
    page.wait_for_selector("#details-pane", state="visible")
    page.wait_for_selector("#conversation-pane", state="hidden")
    page.wait_for_selector("#details-name")
    assert page.get_attribute("#details-toggle", "aria-expanded") == "true"
    page.click("#details-back")
    page.wait_for_selector("#conversation-pane", state="visible")
    page.wait_for_selector("#details-pane", state="hidden")

    page.click("#conv-back")
    page.wait_for_selector("#conversation-list", state="visible")
    page.wait_for_selector("#conversation-pane", state="hidden")
    assert page.is_visible(".rail")

    # The list keeps its scroll position across a trip into a conversation and back.
    desk.view("open")
    page.wait_for_function(
        "() => { const l = document.querySelector('#conversation-list'); return l.scrollHeight > l.clientHeight + 200; }"
    )
    page.eval_on_selector("#conversation-list", "l => { l.scrollTop = 180; }")
    scrolled = page.eval_on_selector("#conversation-list", "l => l.scrollTop")
    assert scrolled > 0
    row_id = page.eval_on_selector(
        "#conversation-list",
        "l => { const r = l.getBoundingClientRect();"
        " return document.elementFromPoint(r.left + r.width / 2, r.top + 40).closest('[data-conversation-id]')"
        ".dataset.conversationId; }",
    )
    page.click(f"#conversation-list [data-conversation-id='{row_id}']")
    page.wait_for_selector("#conversation-pane", state="visible")
    page.click("#conv-back")
    page.wait_for_selector("#conversation-list", state="visible")
    assert page.eval_on_selector("#conversation-list", "l => l.scrollTop") == scrolled
    resize(desk, None)


def test_at_a_medium_width_the_details_toggle_and_every_tab_show(desk, customer):
    customer.ask_for_human()
    customer.say("Do you ship to Norway?")
    conversation = customer.conversation_id()

    resize(desk, MEDIUM)
    page = desk.page
    resolved = visible_box(page, "[data-view=resolved]")  # not clipped: inside the window and inside the list
    pane = visible_box(page, ".list-pane")
    assert 0 <= resolved["x"] and resolved["x"] + resolved["width"] <= MEDIUM["width"]
    assert 0 <= resolved["y"] and resolved["y"] + resolved["height"] <= MEDIUM["height"]
    assert pane["x"] <= resolved["x"] and resolved["x"] + resolved["width"] <= pane["x"] + pane["width"]

    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    assert page.is_visible("#conversation-list")  # list and conversation side by side
    page.wait_for_selector("#details-pane", state="hidden")
    toggle = page.locator("#details-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.get_attribute("aria-label") == "Customer details"

    toggle.click()
    page.wait_for_selector("#details-pane", state="visible")
    page.wait_for_selector("#details-name")
    assert toggle.get_attribute("aria-expanded") == "true"
    details = visible_box(page, "#details-pane")
    assert details["x"] + details["width"] <= MEDIUM["width"]
    toggle.click()
    page.wait_for_selector("#details-pane", state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"

    toggle.click()
    page.wait_for_selector("#details-pane", state="visible")
    page.click("#details-close")
    page.wait_for_selector("#details-pane", state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"
    resize(desk, None)


def test_at_360_px_every_tab_and_the_composer_fit_without_scrolling_sideways(desk, customer):
    customer.ask_for_human()
    customer.say("Is the smallest phone served too?")
    conversation = customer.conversation_id()

    resize(desk, NARROW)
    page = desk.page
    try:
        if page.is_visible("#conv-back"):  # a conversation left open by an earlier test: back to the list
            page.click("#conv-back")
        desk.view("queue")
        for view in ("open", "queue", "mine", "resolved"):
            tab = visible_box(page, f"[data-view={view}]")
            assert 0 <= tab["x"] and tab["x"] + tab["width"] <= NARROW["width"], view
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        desk.row(conversation).click()
        page.wait_for_selector("#conversation-pane", state="visible")
        composer = visible_box(page, "#composer-form")
        assert composer["x"] >= 0 and composer["x"] + composer["width"] <= NARROW["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.click("#conv-back")
    finally:
        resize(desk, None)


def test_the_header_typing_line_and_note_mode(desk, customer):
    customer.ask_for_human()
    customer.say("Hello there")
    conversation = customer.conversation_id()
    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    assert desk.page.text_content("#conv-number") == f"Conversation {conversation}"
    assert desk.page.text_content("#conv-name") != desk.page.text_content("#conv-number")

    desk.send("Checked the order history", note=True)
    assert desk.page.get_attribute("#note-toggle", "aria-pressed") == "false"  # the next message goes to the customer
    assert desk.page.text_content("#send") == "Send"

    customer.frame.fill("textarea#composer", "One more thing")
    desk.page.wait_for_selector("#typing-line.is-on")
    customer.frame.press("textarea#composer", "Enter")
    desk.item("customer", "One more thing").wait_for()
    # Their message arrived: the hint went with it (not after its 8 s fade).
    assert "is-on" not in (desk.page.get_attribute("#typing-line", "class") or "")


def test_the_reports_fit_a_phone(parley_server, browser, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "14", "--per-day", "6")
    desk = Desk(browser, parley_server.url)
    try:
        resize(desk, PHONE)
        page = desk.page
        page.goto(parley_server.url + "/agent/reports/")
        page.wait_for_selector("#kpi-conversations .kpi-value")
        overflow = page.evaluate(
            "() => ({doc: document.scrollingElement.scrollWidth, win: innerWidth,"
            " reports: document.querySelector('#reports').scrollWidth,"
            " box: document.querySelector('#reports').clientWidth})"
        )
        assert overflow["doc"] <= overflow["win"]
        assert overflow["reports"] <= overflow["box"]  # nothing wider than the page scrolls sideways either
        cards = [visible_box(page, f"#{card}") for card in ("kpi-conversations", "kpi-bot-share", "kpi-resolution")]
        assert all(card["width"] >= 150 for card in cards)  # rows of readable cards, not squeezed columns
        assert cards[0]["y"] < cards[2]["y"]  # they wrap onto rows
        chart = visible_box(page, "#chart-volume")
        assert chart["x"] >= 0 and chart["x"] + chart["width"] <= PHONE["width"]
        save_screenshot(page, artifacts, "reports-phone.png", full_page=False)
    finally:
        desk.close()


def test_the_sign_in_page_is_styled(parley_server, browser):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(parley_server.url + "/accounts/login/?next=/agent/")
        page.wait_for_selector(".login-card")
        radius = page.eval_on_selector(".login-card", "c => getComputedStyle(c).borderTopLeftRadius")
        assert radius == "16px"  # login.css applies
        background = page.eval_on_selector("button[type=submit]", "b => getComputedStyle(b).backgroundColor")
        assert background == "rgb(37, 99, 235)"  # the desk's accent, from desk.css
        card = visible_box(page, ".login-card")
        assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]

        page.fill("#id_username", "agent")
        page.fill("#id_password", "wrong-password")
        page.click("button[type=submit]")
        page.wait_for_selector(".login-error[role=alert]")
        assert page.input_value("#id_username") == "agent"
        page.fill("#id_password", "parley-agent")
        page.click("button[type=submit]")
        page.wait_for_url("**/agent/")
        page.wait_for_selector("#conversation-list", state="visible")
    finally:
        context.close()
