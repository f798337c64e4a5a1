"""Hostile text renders inert in the widget: a bot reply (from an OpenAI-compatible provider, faked) carrying
HTML and javascript: links, and a customer typing HTML. Also the bot's "thinking" state before its first word."""

from __future__ import annotations

import pytest

from tests.browser.widget_driver import as_shown, ask, conversation_id, db_transcript, open_widget, wait_for_bot
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

HOSTILE_TOKENS = [
    "Here is ",
    "what I found",
    ": <img src=x ",
    "onerror=\"document.title='pwned';alert(1)\">",
    "\n\n",
    "- [click me](javascript:alert(2))\n",
    "- [sneaky](JaVaScRiPt:alert(3))\n",
    "- [returns](https://shop.example/returns)\n\n",
    "<script>alert(4)</script> **done**",
]


@pytest.fixture(scope="module")
def fake_openai():
    with FakeOpenAI(tokens=HOSTILE_TOKENS, delay=0.02) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)  # autouse: the server fixture looks it up by name
def parley_server_env(fake_openai):
    return {"AI_PROVIDER": "openai", "AI_BASE_URL": fake_openai.base_url, "AI_API_KEY": "x"}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def test_html_and_javascript_links_in_a_bot_reply_render_inert(parley_server, page):
    frame = open_widget(page, parley_server.url + "/")
    title = frame.evaluate("document.title")
    ask(frame, "How long does delivery take?")
    wait_for_bot(frame, status="complete")

    body = "#transcript [data-author=bot] .body"
    assert "<img src=x onerror=" in frame.text_content(body)  # shown as text
    assert "<script>alert(4)</script>" in frame.text_content(body)
    assert frame.locator(f"{body} img, {body} script").count() == 0
    assert frame.evaluate("document.querySelectorAll('[onerror], [onclick], [onload]').length") == 0
    links = frame.eval_on_selector_all(f"{body} a", "as => as.map(a => [a.textContent, a.href, a.rel, a.target])")
    assert links == [["returns", "https://shop.example/returns", "noopener noreferrer nofollow", "_blank"]]
    assert "click me" in frame.text_content(body) and "sneaky" in frame.text_content(body)
    assert frame.locator(f"{body} li").count() == 3 and frame.locator(f"{body} strong").count() == 1
    assert page.dialogs == [] and frame.evaluate("document.title") == title
    assert page.locator("img").count() == 0  # nothing leaked into the host page either


def test_customer_text_is_shown_verbatim_never_as_html(parley_server, page):
    frame = open_widget(page, parley_server.url + "/")
    hostile = '<b>bold?</b> <img src=x onerror="alert(5)"> **not markdown** [x](javascript:alert(6))'
    ask(frame, hostile)
    wait_for_bot(frame, status="complete")
    customer = "#transcript [data-author=customer] .body"
    assert frame.text_content(customer) == hostile
    assert frame.locator(f"{customer} *").count() == 0
    assert page.dialogs == []
    rows = db_transcript(parley_server, conversation_id(frame))
    assert rows[0]["body"] == hostile and as_shown(rows)[0]["text"] == hostile


def test_the_bot_shows_it_is_thinking_before_its_first_word(parley_server, page, fake_openai):
    fake_openai.configure(tokens=["All ", "good ", "here."], initial_delay=1.5, delay=0.02)
    try:
        frame = open_widget(page, parley_server.url + "/")
        ask(frame, "What does shipping cost?")
        frame.wait_for_selector("#typing[data-kind=bot]")
        assert frame.is_hidden("#transcript [data-author=bot]")  # no empty bubble while it thinks
        assert frame.is_visible("#stop")  # it can be stopped already
        wait_for_bot(frame, status="complete")
        frame.wait_for_selector("#typing", state="hidden")
        assert frame.text_content("#transcript [data-author=bot] .body") == "All good here."
    finally:
        fake_openai.configure(tokens=HOSTILE_TOKENS, initial_delay=0.0, delay=0.02)
