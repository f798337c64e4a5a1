"""Labels and ratings in the agent desk, in real Chromium against a live Daphne.

Two agents have the desk open: what one does to a conversation's labels, the other sees live. Every
wait is on DOM state or a socket frame; nothing sleeps.
"""

from __future__ import annotations

import uuid

import pytest

from tests.browser.desk_drivers import (
    DEMO_ADMIN,
    Customer,
    Desk,
    customer_rates,
    label_chips,
    row_labels,
    wait_for_label_chips,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def colleague(parley_server, browser):
    """A second agent (the demo's staff user) with a desk of their own."""
    colleague = Desk(browser, parley_server.url, username=DEMO_ADMIN[0], password=DEMO_ADMIN[1])
    yield colleague
    assert colleague.errors == []
    colleague.close()


def waiting_conversation(customer, text: str) -> int:
    customer.ask_for_human()
    customer.say(text)
    return customer.conversation_id()


def open_in(desk, conversation: int, view: str = "open") -> None:
    desk.view(view)
    desk.row(conversation).wait_for()
    desk.open(conversation)


def out_of_fields(desk) -> None:
    """Click somewhere neutral so the desk's single-key shortcuts are live."""
    desk.page.locator("body").click(position={"x": 700, "y": 400})


def focused(desk) -> str:
    return desk.page.evaluate("document.activeElement ? document.activeElement.id : ''")


def test_labels_by_keyboard_live_on_a_colleagues_desk_removed_with_the_x_and_filtered(
    parley_server, browser, desk, colleague, customer, artifacts
):
    unique = f"aa-{uuid.uuid4().hex[:8]}"  # sorts before the demo's labels
    conversation = waiting_conversation(customer, "My refund has not arrived yet")
    open_in(desk, conversation)
    open_in(colleague, conversation)
    assert label_chips(desk) == []

    # `l` focuses the label input; typing suggests the site's labels, Enter takes the highlighted one.
    out_of_fields(desk)
    desk.page.keyboard.press("l")
    desk.page.wait_for_function("() => document.activeElement.id === 'label-input'")
    desk.page.keyboard.type("ref")
    desk.page.wait_for_selector("#label-suggestions .label-option.is-active[data-label=refund]")
    assert desk.page.get_attribute("#label-input", "aria-expanded") == "true"
    desk.page.keyboard.press("Enter")
    wait_for_label_chips(desk, ["refund"])
    wait_for_label_chips(colleague, ["refund"])  # live on the other agent's desk
    colleague.row(conversation).locator(".conv-labels [data-label=refund]").wait_for()

    # Backspace in the empty input takes the last label off.
    assert desk.page.input_value("#label-input") == ""
    desk.page.keyboard.press("Backspace")
    wait_for_label_chips(desk, [])
    wait_for_label_chips(colleague, [])

    # A new name is created as it is typed, cleaned as the server stores it; then refund again.
    desk.page.keyboard.type(unique.upper().replace("-", " "))
    desk.page.wait_for_selector(f"#label-suggestions .label-option.is-create[data-label='{unique}']")
    desk.page.keyboard.press("Enter")
    wait_for_label_chips(desk, [unique])
    desk.page.keyboard.type("refund")
    desk.page.keyboard.press("Enter")
    wait_for_label_chips(desk, [unique, "refund"])
    wait_for_label_chips(colleague, [unique, "refund"])
    colleague.page.wait_for_function(
        "id => document.querySelectorAll(`#conversation-list [data-conversation-id='${id}'] .conv-labels [data-label]`)"
        ".length === 2",
        arg=conversation,
    )
    assert row_labels(colleague, conversation) == [unique, "refund"]

    # Escape leaves the input: the single-key shortcuts work again.
    desk.page.keyboard.press("Escape")
    desk.page.wait_for_function("() => document.activeElement.id !== 'label-input'")
    desk.page.keyboard.press("?")
    desk.page.wait_for_selector("#help-dialog[open]")
    assert "Add or remove labels" in desk.page.text_content("#help-dialog")
    desk.page.keyboard.press("Escape")
    desk.page.wait_for_selector("#help-dialog:not([open])", state="attached")

    # The colleague takes refund off with the chip's ×, found by its accessible name.
    colleague.page.get_by_role("button", name="Remove label refund").click()
    wait_for_label_chips(colleague, [unique])
    wait_for_label_chips(desk, [unique])

    # The list filters by label: only this conversation wears the new one, and the tab count agrees.
    other = Customer(browser, parley_server.url)
    try:
        unlabelled = waiting_conversation(other, "A question without labels")
        desk.view("open")
        desk.row(unlabelled).wait_for()
        desk.page.wait_for_selector(f"#label-filter option[value='{unique}']", state="attached")
        desk.page.select_option("#label-filter", unique)
        desk.page.wait_for_function(
            "id => { const rows = document.querySelectorAll('#conversation-list [data-conversation-id]');"
            " return rows.length === 1 && rows[0].dataset.conversationId === String(id); }",
            arg=conversation,
        )
        desk.page.wait_for_function("() => document.querySelector('[data-count=open]').textContent === '1'")
        assert "is-active" in desk.page.get_attribute("#label-filter", "class")

        # A new message's update leaves labels out; the row keeps its labels and its place in the filtered list.
        seq = customer.say("Any news on my refund?")
        desk.page.wait_for_function(
            "([id, seq]) => { const row = document.querySelector(`#conversation-list [data-conversation-id='${id}']`);"
            " return row && JSON.parse(row.dataset.signature)[0].last_seq >= seq; }",
            arg=[conversation, seq],
        )
        assert row_labels(desk, conversation) == [unique]
        assert desk.page.locator("#conversation-list [data-conversation-id]").count() == 1

        # Taken off on the colleague's desk, the conversation leaves the filtered list live.
        colleague.page.get_by_role("button", name=f"Remove label {unique}").click()
        desk.row(conversation).wait_for(state="detached")
        desk.page.wait_for_selector("#list-empty", state="visible")
        assert unique in desk.page.text_content("#list-empty-text")

        desk.page.select_option("#label-filter", "")
        desk.row(unlabelled).wait_for()
        desk.row(conversation).wait_for()
    finally:
        other.close()
    desk.page.screenshot(path=str(artifacts / "desk-labels.png"))


def test_a_resolved_rated_conversation_shows_its_rating_live_and_after_a_reload(desk, customer, artifacts):
    conversation = waiting_conversation(customer, "Where is my parcel?")
    open_in(desk, conversation, "queue")
    desk.send("It is on its way, here is the tracking link.")
    desk.page.click("#resolve")
    desk.page.wait_for_selector("#reopen", state="visible")
    assert desk.page.locator("#details-rating").count() == 0
    desk.page.wait_for_selector("#details .details-section")
    assert "null" not in desk.page.text_content("#details")  # nothing drawn for a missing rating
    assert desk.page.locator("#transcript-rating").count() == 0

    comment = "Quick <b>and</b> kind"
    answer = customer_rates(customer, conversation, 4, comment)
    assert answer["type"] == "conversation.updated", answer
    assert answer["conversation"]["rating"]["score"] == 4

    # Live: the details pane and the transcript's closing line, comment shown as text, not markup.
    desk.page.wait_for_selector("#details-rating[data-score='4']")
    details = desk.page.text_content("#details-rating")
    assert "4/5" in details and comment in details
    line = desk.page.locator("#transcript-rating")
    line.wait_for()
    assert line.text_content() == f"Rated 4/5 — “{comment}”"
    assert desk.page.locator("#desk-transcript b, #details b").count() == 0
    last = desk.page.evaluate("document.querySelector('#desk-transcript').lastElementChild.id")
    assert last == "transcript-rating"  # at the end, and not a message: it has no seq
    assert desk.page.get_attribute("#transcript-rating", "data-seq") is None

    # After a reload, from the Resolved list and the subscription alone.
    desk.page.reload()
    desk.page.wait_for_selector("#presence[data-status=online]")
    open_in(desk, conversation, "resolved")
    desk.page.wait_for_selector("#details-rating[data-score='4']")
    desk.page.locator("#transcript-rating").wait_for()
    assert comment in desk.page.text_content("#details-rating .rating-comment")

    # A better score replaces it, live.
    assert customer_rates(customer, conversation, 5, "")["conversation"]["rating"]["score"] == 5
    desk.page.wait_for_selector("#details-rating[data-score='5']")
    desk.page.wait_for_function("() => document.querySelector('#transcript-rating').textContent === 'Rated 5/5'")
    desk.page.screenshot(path=str(artifacts / "desk-rating.png"))
