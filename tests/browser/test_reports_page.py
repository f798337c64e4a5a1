"""The reports page's bot numbers over seeded history, in real Chromium; it also takes the README's screenshot."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.desk_drivers import TIMEOUT_MS, save_screenshot

pytestmark = pytest.mark.browser


def test_reports_show_the_bots_numbers_and_what_it_could_not_answer(parley_server, desk, browser, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "14", "--per-day", "9")
    page = desk.context.new_page()
    page.goto(parley_server.url + "/agent/reports/")
    assert re.fullmatch(r"\d+%", page.text_content("#bot-resolution .kpi-value").strip())
    assert re.fullmatch(r"\d+% 👍", page.text_content("#bot-feedback .kpi-value").strip())
    assert int(page.text_content("#bot-helpful")) > 0 and int(page.text_content("#bot-unhelpful")) > 0

    groups = page.locator("#unanswered .question-group")
    assert groups.count() >= 3
    counts = [int(count) for count in page.locator("#unanswered .q-count").all_text_contents()]
    assert counts == sorted(counts, reverse=True) and counts[0] > 1
    question = groups.first.locator(".q-main").text_content().strip()
    link = groups.first.locator("a.add-article").get_attribute("href")
    save_screenshot(page, artifacts, "reports.png")  # the desk's 1440x900 viewport
    page.close()

    # The link opens the admin's new-article form with the question as its title.
    admin = browser.new_context()
    form = admin.new_page()
    form.set_default_timeout(TIMEOUT_MS)
    form.goto(parley_server.url + "/admin/login/?next=" + link.replace("&", "%26").replace("?", "%3F"))
    form.fill("#id_username", "admin")
    form.fill("#id_password", "parley-admin")
    form.click("input[type=submit], button[type=submit]")
    form.wait_for_selector("#id_title")
    assert form.input_value("#id_title") == question
    assert form.input_value("#id_site") == parse_qs(urlsplit(link).query)["site"][0]
    admin.close()
