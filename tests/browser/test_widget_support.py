"""The widget's support tools in real Chromium against a live Daphne: the end of a conversation and its 1-5 rating,
the "Get notified by email" bubble when nobody can answer, and "Email me this conversation" from the widget's menu,
over the WebSocket and over the SSE fallback. The database is the judge; every wait is on DOM state or a frame."""

from __future__ import annotations

import pytest

from tests.browser.widget_driver import (
    TIMEOUT_MS,
    agent_socket,
    ask,
    conversation_id,
    django_value,
    open_widget,
    record_socket_frames,
    save_element_screenshot,
    wait_for_bot,
    widget_frame,
)

pytestmark = pytest.mark.browser

DELIVERY = "How long does delivery take?"
ENDED = "This conversation has ended"
CONTACT_CARD = "#support .contact-card"
RATING_CARD = "#support .rating-card"
TRANSCRIPT_CARD = "#support .transcript-card"


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def visitor_of(server, conversation: int) -> dict:
    return django_value(
        server,
        f"Conversation.objects.filter(pk={conversation}).values('visitor__email', 'visitor__email_confirmed_at').get()",
    )


def test_nobody_online_the_first_message_brings_the_email_bubble_and_save_keeps_the_address(
    parley_server, context, artifacts
):
    page = context.new_page()
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    assert frame.is_hidden(CONTACT_CARD)
    ask(frame, DELIVERY)
    wait_for_bot(frame)
    bubble = frame.locator(CONTACT_CARD)
    bubble.wait_for(timeout=TIMEOUT_MS)
    assert bubble.locator(".card-title").text_content() == "Get notified by email"
    email = bubble.get_by_role("textbox", name="Email address")

    # A bad address: an inline error on the field, and nothing goes out.
    email.fill("cleo@example")
    bubble.get_by_role("button", name="Save").click()
    frame.wait_for_selector("#contact-error:not([hidden])")
    assert frame.text_content("#contact-error") == "Please enter a valid email address."
    assert email.get_attribute("aria-invalid") == "true"
    assert frame.evaluate("document.activeElement.id") == "contact-email"
    assert not [f for f in frames["sent"] if f["type"] == "contact.set"]

    email.fill("cleo@example.com")
    page.locator("#parley-frame").screenshot(path=str(artifacts / "widget-contact-bubble.png"))
    email.press("Enter")
    frame.wait_for_selector(f"{CONTACT_CARD}[data-state=done]")
    page.locator("#parley-frame").screenshot(path=str(artifacts / "widget-contact-saved.png"))
    assert bubble.text_content().startswith("We'll email you at cleo@example.com (check your inbox to confirm)")
    assert [f["email"] for f in frames["sent"] if f["type"] == "contact.set"] == ["cleo@example.com"]
    saved = [f for f in frames["received"] if f["type"] == "contact.saved"]
    assert saved[0]["visitor"]["email"] == "cleo@example.com" and saved[0]["visitor"]["email_confirmed"] is False
    stored = visitor_of(parley_server, conversation_id(frame))
    assert stored == {"visitor__email": "cleo@example.com", "visitor__email_confirmed_at": None}

    # Known now: a reload asks nothing again.
    page.reload()
    frame = widget_frame(page)
    wait_for_bot(frame)
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    assert frame.locator(CONTACT_CARD).count() == 0


def test_skip_hides_the_bubble_for_that_conversation_also_after_a_reload(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    bubble = frame.locator(CONTACT_CARD)
    bubble.wait_for(timeout=TIMEOUT_MS)
    bubble.get_by_role("button", name="Skip").click()
    frame.wait_for_selector(CONTACT_CARD, state="detached")
    frame.wait_for_function("() => document.activeElement.id === 'composer'")
    wait_for_bot(frame)
    ask(frame, "And to Canada?")
    wait_for_bot(frame, count=2)
    assert frame.locator(CONTACT_CARD).count() == 0  # not asked again in this conversation

    page.reload()
    frame = widget_frame(page)
    wait_for_bot(frame, count=2)
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    assert frame.locator(CONTACT_CARD).count() == 0
    assert visitor_of(parley_server, conversation_id(frame))["visitor__email"] == ""


def test_no_bubble_when_the_handoff_already_asks_for_an_address_in_text(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    frame.click("#handoff")  # nobody is online: the handoff's line asks for an address, and the bot waits for one
    system = frame.locator("#transcript [data-author=system][data-seq]")
    system.wait_for()
    assert "email" in system.text_content().lower()
    # The first message, with nobody online, would earn the bubble; here it would ask twice.
    ask(frame, "Sure, it is ada@example.com")
    wait_for_bot(frame)
    assert frame.locator("#transcript [data-author=bot]").get_attribute("data-outcome") == "contact"
    assert frame.locator(CONTACT_CARD).count() == 0
    assert visitor_of(parley_server, conversation_id(frame))["visitor__email"] == "ada@example.com"
    ask(frame, "Thanks!")
    wait_for_bot(frame, count=2)
    assert frame.locator(CONTACT_CARD).count() == 0


def test_email_me_this_conversation_from_the_menu_asks_for_an_address_then_queues_it(parley_server, context, artifacts):
    page = context.new_page()
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame)
    frame.locator(CONTACT_CARD).wait_for(timeout=TIMEOUT_MS)

    # The menu by keyboard: Enter opens it on its item, Escape closes it (not the widget) and gives the focus back.
    frame.focus("#menu-button")
    frame.press("#menu-button", "Enter")
    frame.wait_for_selector("#menu:not([hidden])")
    assert frame.get_attribute("#menu-button", "aria-expanded") == "true"
    assert frame.evaluate("document.activeElement.getAttribute('role')") == "menuitem"
    page.keyboard.press("Escape")
    frame.wait_for_selector("#menu", state="hidden")
    assert frame.evaluate("document.activeElement.id") == "menu-button"
    assert page.is_visible("#parley-frame")

    frame.click("#menu-button")
    page.locator("#parley-frame").screenshot(path=str(artifacts / "widget-menu.png"))
    frame.get_by_role("menuitem", name="Email me this conversation").click()
    card = frame.locator(TRANSCRIPT_CARD)
    card.wait_for()
    field = card.get_by_role("textbox", name="Your email address")
    frame.wait_for_function("() => document.activeElement.id === 'transcript-email'")
    field.fill("not an address")
    card.get_by_role("button", name="Send").click()
    frame.wait_for_selector("#transcript-error:not([hidden])")
    assert not [f for f in frames["sent"] if f["type"] == "transcript.email"]

    field.fill("ada@example.com")
    card.get_by_role("button", name="Send").click()
    frame.wait_for_selector(f"{TRANSCRIPT_CARD}[data-state=sent]")
    assert card.text_content().startswith("Sent to ada@example.com")
    conversation = conversation_id(frame)
    assert [f for f in frames["sent"] if f["type"] == "transcript.email"] == [
        {"type": "transcript.email", "conversation": conversation, "email": "ada@example.com"}
    ]
    assert {"type": "transcript.queued", "conversation": conversation, "email": "ada@example.com"} in frames["received"]
    # The address given for the transcript is the visitor's now: the email bubble has nothing left to ask.
    frame.wait_for_selector(CONTACT_CARD, state="detached")
    assert visitor_of(parley_server, conversation)["visitor__email"] == "ada@example.com"

    # Again, now that the address is known: straight to "Sent to".
    card.get_by_role("button", name="Dismiss").click()
    frame.wait_for_selector(TRANSCRIPT_CARD, state="detached")
    frame.click("#menu-button")
    frame.get_by_role("menuitem", name="Email me this conversation").click()
    frame.wait_for_selector(f"{TRANSCRIPT_CARD}[data-state=sent]")
    assert [f.get("email") for f in frames["sent"] if f["type"] == "transcript.email"] == ["ada@example.com", None]


def test_over_server_sent_events_the_bubble_and_the_transcript_go_by_post(parley_server, context):
    context.route_web_socket("**/ws/widget/", lambda ws: ws.close(code=1011))
    page = context.new_page()
    posts = []
    page.on("request", lambda r: posts.append((r.url, r.post_data_json)) if r.method == "POST" else None)
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    ask(frame, DELIVERY)
    bubble = frame.locator(CONTACT_CARD)
    bubble.wait_for(timeout=TIMEOUT_MS)
    bubble.get_by_role("textbox", name="Email address").fill("sse@example.com")
    with page.expect_response("**/api/widget/contact") as answer:
        bubble.get_by_role("button", name="Save").click()
    assert answer.value.status == 200 and answer.value.json()["visitor"]["email"] == "sse@example.com"
    frame.wait_for_selector(f"{CONTACT_CARD}[data-state=done]")
    assert "sse@example.com" in bubble.text_content()

    conversation = conversation_id(frame)
    frame.click("#menu-button")
    with page.expect_response(f"**/api/widget/conversations/{conversation}/transcript") as answer:
        frame.get_by_role("menuitem", name="Email me this conversation").click()
    assert answer.value.json() == {"conversation": conversation, "email": "sse@example.com"}
    frame.wait_for_selector(f"{TRANSCRIPT_CARD}[data-state=sent]")
    commands = [url.split("/api/widget/")[1] for url, _ in posts if "/api/widget/" in url and "/session" not in url]
    assert commands[-2:] == ["contact", f"conversations/{conversation}/transcript"]


def test_resolve_ends_the_conversation_and_the_customer_rates_it(parley_server, browser, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=2)  # a sharp screenshot
    page = context.new_page()
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame)
    conversation = conversation_id(frame)

    agent = agent_socket(browser, parley_server, conversation)
    agent.evaluate(
        "c => agentSend({type: 'message.send', conversation: c, body: 'Sam here, anything else?', internal: false, "
        "client_id: crypto.randomUUID()})",
        conversation,
    )
    frame.wait_for_selector("#transcript [data-author=agent][data-seq]")
    frame.wait_for_function("() => document.getElementById('presence-text').textContent.includes('Sam')")
    assert frame.is_hidden("#support .ended")

    agent.evaluate("c => agentSend({type: 'conversation.resolve', conversation: c})", conversation)
    frame.wait_for_selector("#support .ended-line")
    assert frame.text_content("#support .ended-line") == ENDED
    frame.wait_for_function("() => !document.getElementById('presence-text').textContent.includes('Sam')")
    card = frame.locator(RATING_CARD)
    assert card.locator(".card-title").text_content() == "How was your conversation?"
    assert [b.get_attribute("aria-label") for b in card.locator("button.face").all()] == [
        "Very bad (1 of 5)",
        "Bad (2 of 5)",
        "Okay (3 of 5)",
        "Good (4 of 5)",
        "Very good (5 of 5)",
    ]

    # By keyboard: onto the first face, arrows to the fourth, Space picks it.
    frame.focus(f"{RATING_CARD} button.face[data-score='1']")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert frame.evaluate("document.activeElement.getAttribute('aria-label')") == "Good (4 of 5)"
    page.keyboard.press("Space")
    good = card.get_by_role("button", name="Good (4 of 5)")
    assert good.get_attribute("aria-pressed") == "true"
    assert card.get_by_role("button", name="Very good (5 of 5)").get_attribute("aria-pressed") == "false"
    comment_box = card.get_by_role("textbox", name="Add a comment (optional)")
    comment_box.fill("Quick and friendly, thanks!")
    frame.evaluate("document.activeElement.blur()")
    save_element_screenshot(page.locator("#parley-frame"), artifacts, "rating.png")
    comment = "Quick answer, <b>thanks</b>!"
    comment_box.fill(comment)

    card.get_by_role("button", name="Send").click()
    frame.wait_for_selector(f"{RATING_CARD}[data-state=done][data-score='4']")
    page.locator("#parley-frame").screenshot(path=str(artifacts / "widget-rating-done.png"))
    assert card.locator(".card-title").text_content() == "Thanks for your feedback"
    assert card.locator(".rating-comment").text_content() == comment  # as text, never as HTML
    assert card.locator(".rating-comment b").count() == 0
    assert [f for f in frames["sent"] if f["type"] == "rating.submit"] == [
        {"type": "rating.submit", "conversation": conversation, "score": 4, "comment": comment}
    ]
    stored = django_value(
        parley_server,
        f"Conversation.objects.filter(pk={conversation}).values('status', 'rating', 'rating_comment').get()",
    )
    assert stored == {"status": "resolved", "rating": 4, "rating_comment": comment}

    # After a reload the rating comes back from the conversation object.
    page.reload()
    frame = widget_frame(page)
    frame.wait_for_selector(f"{RATING_CARD}[data-state=done][data-score='4']")
    assert frame.text_content("#support .ended-line") == ENDED
    assert "Good (4 of 5)" in frame.text_content(RATING_CARD)
    assert "Sam" not in frame.text_content("#presence-text")

    # A new message reopens the conversation, with Sam again: the end and the card go.
    ask(frame, "One more thing, actually")
    frame.wait_for_selector("#support .ended", state="hidden")
    assert frame.locator(RATING_CARD).count() == 0
    frame.wait_for_function("() => document.getElementById('presence-text').textContent.includes('Sam')")
    assert conversation_id(frame) == conversation
    agent.context.close()
    context.close()


def test_a_conversation_reopened_by_the_desk_takes_the_card_away_and_refuses_a_rating(parley_server, context, browser):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame)
    conversation = conversation_id(frame)
    agent = agent_socket(browser, parley_server, conversation)
    agent.evaluate("c => agentSend({type: 'conversation.resolve', conversation: c})", conversation)
    card = frame.locator(RATING_CARD)
    card.wait_for()
    card.get_by_role("button", name="Bad (2 of 5)").click()
    agent.evaluate("c => agentSend({type: 'conversation.reopen', conversation: c})", conversation)
    frame.wait_for_selector(RATING_CARD, state="detached")  # the reopening's conversation.updated takes the card away
    assert frame.is_hidden("#support .ended")

    # A rating that reaches the server now (another tab, a stale page) is refused as the contract says.
    answer = frame.evaluate(
        """async conversation => {
            const response = await fetch(`/api/widget/conversations/${conversation}/rating`, {method: 'POST',
                headers: {Authorization: `Bearer ${localStorage.getItem('parley:demo-shop:token')}`,
                          'Content-Type': 'application/json'}, body: JSON.stringify({score: 2})});
            return {status: response.status, body: await response.json()}; }""",
        conversation,
    )
    assert answer["status"] == 409 and answer["body"]["error"]["code"] == "not_resolved"
    stored = django_value(parley_server, f"Conversation.objects.filter(pk={conversation}).values('rating').get()")
    assert stored == {"rating": None}
    agent.context.close()


def test_over_server_sent_events_the_rating_goes_by_post(parley_server, context, browser):
    context.route_web_socket("**/ws/widget/", lambda ws: ws.close(code=1011))
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    ask(frame, DELIVERY)
    wait_for_bot(frame)
    conversation = conversation_id(frame)
    agent = agent_socket(browser, parley_server, conversation)
    agent.evaluate("c => agentSend({type: 'conversation.resolve', conversation: c})", conversation)
    card = frame.locator(RATING_CARD)
    card.wait_for()
    card.get_by_role("button", name="Very good (5 of 5)").click()
    with page.expect_response(f"**/api/widget/conversations/{conversation}/rating") as answer:
        card.get_by_role("button", name="Send").click()
    assert answer.value.status == 200
    assert answer.value.request.post_data_json == {"score": 5}
    assert answer.value.json()["conversation"]["rating"]["score"] == 5
    frame.wait_for_selector(f"{RATING_CARD}[data-state=done][data-score='5']")
    assert card.locator(".rating-comment").count() == 0
    stored = django_value(parley_server, f"Conversation.objects.filter(pk={conversation}).values('rating').get()")
    assert stored == {"rating": 5}
    agent.context.close()
