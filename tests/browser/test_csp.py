"""The desk, its reports, the sign-in page and the admin under settings.PARLEY_DESK_CSP, in real Chromium.

Every page of those comes with the policy, and none of them trips it: an inline script or an event-handler
attribute the policy blocks would break the page silently, so each violation Chromium reports fails the test.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.desk_drivers import TIMEOUT_MS, Customer, Desk

pytestmark = pytest.mark.browser

# Recorded in every document before its own scripts run (an init script is not subject to the page's CSP).
RECORD_VIOLATIONS_JS = """
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
        window.__cspViolations.push(
            `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
        );
    });
"""
COVERED = re.compile(r"^/(agent|accounts|admin)/")


class Watch:
    """The policy of every document a page loads, and every violation reported on it."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.documents: list[tuple[str, str | None]] = []
        self.console: list[str] = []
        page.on("response", self._response)
        page.on("console", self._console)

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.headers.get("content-security-policy")))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def violations(self) -> list[str]:
        """What the current document reported so far, and what Chromium logged on the console."""
        return [*self.page.evaluate("window.__cspViolations || []"), *self.console]

    def assert_clean(self, policy: str) -> None:
        assert self.violations() == []
        covered = [(url, csp) for url, csp in self.documents if COVERED.match(url.removeprefix(self.base_url))]
        assert covered, self.documents
        assert [url for url, csp in covered if csp != policy] == []


@pytest.fixture(scope="module")
def policy(parley_server) -> str:
    """settings.PARLEY_DESK_CSP as the live server reads it."""
    code = "from django.conf import settings; print(settings.PARLEY_DESK_CSP)"
    value = parley_server.manage("shell", "--no-imports", "-c", code).strip()
    assert "script-src 'self'" in value, value
    return value


def watched_context(browser, base_url: str):
    """A fresh browser context whose pages record violations; returns (context, page, watch, page errors)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS_JS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, Watch(page, base_url), errors


def test_the_sign_in_page_runs_under_the_policy(parley_server, browser, policy):
    context, page, watch, errors = watched_context(browser, parley_server.url)
    try:
        page.goto(parley_server.url + "/accounts/login/?next=/agent/")
        page.fill("#id_username", "agent")
        page.fill("#id_password", "not-the-password")
        page.click("button[type=submit]")
        page.wait_for_selector("[role=alert]")  # the error, styled inline (style-src allows that)
        page.fill("#id_username", "agent")
        page.fill("#id_password", "parley-agent")
        page.click("button[type=submit]")
        page.wait_for_url("**/agent/")
        page.wait_for_selector("#presence[data-status=online]")  # the desk's scripts ran and its socket said welcome
        watch.assert_clean(policy)
        assert errors == []
    finally:
        context.close()


def test_the_desk_at_work_runs_under_the_policy(parley_server, browser, policy):
    desk = Desk(browser, parley_server.url, init_script=RECORD_VIOLATIONS_JS)
    watch = Watch(desk.page, parley_server.url)
    customer = Customer(browser, parley_server.url)
    try:
        customer.say("Where is my parcel? It has been two weeks.")
        customer.ask_for_human()
        desk.view("queue")
        desk.page.locator("#conversation-list [data-conversation-id]").first.click()
        desk.page.wait_for_selector("#desk-transcript [data-seq]")
        desk.send("Let me look that up for you: **tracking** is [here](https://example.com/track).")
        desk.send("Customer seems worried", note=True)
        desk.view("mine")
        desk.page.reload()
        desk.page.wait_for_selector("#presence[data-status=online]")
        watch.assert_clean(policy)
        assert desk.errors == []
    finally:
        customer.close()
        desk.close()


def test_the_reports_run_under_the_policy(parley_server, browser, policy):
    parley_server.manage("seed_reports_demo", "--days", "7", "--per-day", "4")
    desk = Desk(browser, parley_server.url, init_script=RECORD_VIOLATIONS_JS)
    try:
        watch = Watch(desk.page, parley_server.url)
        desk.page.goto(parley_server.url + "/agent/reports/")
        desk.page.wait_for_selector("#bot-resolution .kpi-value")
        watch.assert_clean(policy)
        assert desk.errors == []
    finally:
        desk.close()


ADMIN_PAGES = [
    "/admin/",
    "/admin/chat/site/",
    "/admin/chat/conversation/",
    "/admin/chat/message/",
    "/admin/chat/knowledgearticle/add/",
    "/admin/chat/cannedresponse/add/",
    "/admin/auth/user/",
]


def test_the_admin_runs_under_the_policy(parley_server, browser, policy):
    context, page, watch, errors = watched_context(browser, parley_server.url)
    try:
        page.goto(parley_server.url + "/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "parley-admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#content-main")
        seen: list[str] = []
        for path in ADMIN_PAGES:
            page.goto(parley_server.url + path)
            page.wait_for_selector("#content-main")
            seen += watch.violations()
        for changelist, marker in [("/admin/chat/site/", "#embed-snippet"), ("/admin/chat/conversation/", "form")]:
            page.goto(parley_server.url + changelist)
            page.click("#result_list tbody tr th a, #result_list tbody tr td a")  # the first row's change form
            page.wait_for_selector(marker)
            seen += watch.violations()
        page.goto(parley_server.url + "/admin/auth/user/1/change/")
        page.wait_for_selector("#content-main")
        seen += watch.violations()
        assert seen == []
        watch.assert_clean(policy)
        assert errors == []
    finally:
        context.close()


def test_the_selfcheck_runs_its_own_script_under_its_nonce_policy(parley_server, browser):
    context, page, watch, errors = watched_context(browser, parley_server.url)
    try:
        page.goto(parley_server.url + "/admin/login/?next=/selfcheck/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "parley-admin")
        page.click("input[type=submit]")
        page.wait_for_url("**/selfcheck/")
        page.wait_for_selector("#check-proxy:not(.wait)")  # the inline module ran: its nonce matched
        page.wait_for_selector("#check-sse.ok")  # and its EventSource was allowed
        page.wait_for_selector("#check-ws:not(.wait)")
        assert watch.violations() == []
        assert "'nonce-" in dict(watch.documents)[parley_server.url + "/selfcheck/"]
        assert errors == []
    finally:
        context.close()
