"""WCAG 2.1 AA in real Chromium: axe-core (an npm dev dependency) audits the shop, the widget, the sign-in page,
the desk with a conversation open, and the reports page. Every wait is on DOM state; nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.desk_drivers import Customer
from tests.browser.widget_driver import open_widget
from tests.services import need

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AGENT = ("agent", "parley-agent")


@pytest.fixture(scope="module")
def axe_source() -> str:
    need(AXE.exists(), f"axe-core not installed at {AXE} (npm ci)")
    return AXE.read_text()


@pytest.fixture
def page(browser):
    # The audit script is evaluated, not served: the pages' CSP (script-src 'self') stays as shipped otherwise.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def violations(target, axe_source: str) -> list[str]:
    """axe-core's WCAG 2.1 AA violations in a page or frame, one line each: rule, impact and the first nodes."""
    target.evaluate(axe_source)
    found = target.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
    return [
        f"{v['id']} ({v['impact']}): " + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in found["violations"]
    ]


def sign_in(page, base: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", AGENT[0])
    page.fill("#id_password", AGENT[1])
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"**{next_url}")


def test_the_shop_and_the_open_widget_have_no_violations(parley_server, page, axe_source):
    frame = open_widget(page, parley_server.url + "/")
    assert violations(page, axe_source) == []
    assert violations(frame, axe_source) == []


def test_the_sign_in_page_has_no_violations(parley_server, page, axe_source):
    page.goto(parley_server.url + "/accounts/login/?next=/agent/")
    page.wait_for_selector("#id_username")
    assert violations(page, axe_source) == []


def test_the_desk_with_a_conversation_open_has_no_violations(parley_server, browser, page, axe_source):
    customer = Customer(browser, parley_server.url)
    try:
        customer.say("Accessibility check: is my order on its way?")
        customer.ask_for_human()
        conversation = customer.conversation_id()
        sign_in(page, parley_server.url, "/agent/")
        page.click("[data-view=queue]")
        row = page.locator(f"#conversation-list [data-conversation-id='{conversation}']")
        row.wait_for()
        row.click()
        page.wait_for_selector("#desk-transcript [data-seq]")
        assert violations(page, axe_source) == []
    finally:
        customer.close()


def test_the_reports_page_has_no_violations(parley_server, page, axe_source):
    sign_in(page, parley_server.url, "/agent/reports/")
    page.wait_for_selector("#kpi-conversations")
    assert violations(page, axe_source) == []
