"""Parley.reset() in real Chromium: a host page whose user logs out revokes the widget's verified visitor.

The frame revokes the visitor's tokens, forgets it and starts anonymously; the other tabs of the browser
follow; a reset made just before the page is left is finished by the next page's loader."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

import pytest

from tests.browser.widget_driver import TIMEOUT_MS, ask, open_widget, wait_for_bot, widget_frame

pytestmark = pytest.mark.browser

SITE = "demo-shop"
PAYMENT = "Which payment methods do you accept?"
EMPTY = "() => !document.querySelector('#transcript [data-seq]')"
USER = {
    "userId": "u-88",
    "name": "Ada",
    "email": "ada@example.com",
    "hash": hmac.new(b"demo-identity-secret", b"u-88", hashlib.sha256).hexdigest(),
}


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def stored_token(frame) -> str | None:
    return frame.evaluate(f"() => localStorage.getItem('parley:{SITE}:token')")


def stored_visitor(frame) -> str | None:
    return frame.evaluate(f"() => localStorage.getItem('parley:{SITE}:visitor')")


def ticket_status(server, token: str) -> int:
    """What POST /api/widget/ticket answers the token: 200 while it lives, 401 once revoked."""
    request = urllib.request.Request(
        server.url + "/api/widget/ticket", method="POST", headers={"Authorization": f"Bearer {token}"}, data=b""
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def signed_in_with_a_conversation(page, server):
    """The demo shop, its user identified, one question answered; the frame and its token."""
    frame = open_widget(page, server.url + "/")
    anonymous = stored_visitor(frame)
    page.evaluate("u => Parley.identify(u)", USER)
    frame.wait_for_function(f"v => localStorage.getItem('parley:{SITE}:visitor') !== v", arg=anonymous)
    ask(frame, PAYMENT)
    wait_for_bot(frame, status="complete")
    return frame, stored_token(frame)


def test_reset_revokes_the_verified_visitor_and_starts_anonymously(parley_server, context):
    page = context.new_page()
    frame, token = signed_in_with_a_conversation(page, parley_server)
    assert ticket_status(parley_server, token) == 200

    page.evaluate("Parley.reset()")
    frame.wait_for_function(EMPTY)
    page.wait_for_function(f"() => localStorage.getItem('parley:{SITE}:reset') === null", timeout=TIMEOUT_MS)
    assert ticket_status(parley_server, token) == 401
    frame.wait_for_function(f"old => (localStorage.getItem('parley:{SITE}:token') || old) !== old", arg=token)
    assert ticket_status(parley_server, stored_token(frame)) == 200
    assert page.evaluate("Parley.unread") == 0


def test_the_other_tabs_of_the_browser_follow_a_reset(parley_server, context):
    page = context.new_page()
    frame, token = signed_in_with_a_conversation(page, parley_server)
    other = context.new_page()
    other_frame = open_widget(other, parley_server.url + "/")
    other.evaluate("u => Parley.identify(u)", USER)
    other_frame.wait_for_function("() => document.querySelectorAll('#transcript [data-seq]').length >= 2")

    page.evaluate("Parley.reset()")
    other_frame.wait_for_function(EMPTY)  # the account's conversation leaves the other tab too
    page.wait_for_function(f"() => localStorage.getItem('parley:{SITE}:reset') === null", timeout=TIMEOUT_MS)
    assert ticket_status(parley_server, token) == 401


def test_a_reset_just_before_leaving_the_page_is_finished_by_the_next_page(parley_server, context):
    page = context.new_page()
    _, token = signed_in_with_a_conversation(page, parley_server)

    page.evaluate(f"() => {{ Parley.reset(); location.href = {json.dumps(parley_server.url + '/')}; }}")
    page.wait_for_load_state()
    widget_frame(page)  # the next page's loader loads the frame to finish the reset, even unopened
    page.wait_for_function(f"() => localStorage.getItem('parley:{SITE}:reset') === null", timeout=TIMEOUT_MS)
    assert ticket_status(parley_server, token) == 401
