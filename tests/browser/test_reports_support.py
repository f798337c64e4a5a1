"""The reports page's satisfaction chart, per-agent table and label counts over seeded history, in real Chromium:
what it shows equals what the database holds."""

from __future__ import annotations

import json

import pytest

from tests.browser.desk_drivers import DESK_VIEWPORT, TIMEOUT_MS

pytestmark = pytest.mark.browser

# What the page should show, computed straight from the rows (not through the report code).
EXPECTED_JS = """
import json
from collections import Counter, defaultdict
from django.utils import timezone
from chat.models import Conversation, Label
today = timezone.localdate()
rated = list(Conversation.objects.filter(rating__isnull=False).values_list("rating", "assignee__first_name", "created_at"))
per_agent = defaultdict(list)
for score, agent, _created in rated:
    per_agent[agent or ""].append(score)
labels = Counter(Label.objects.filter(conversations__isnull=False).values_list("name", flat=True))
print(json.dumps({
    "count": len(rated),
    "total": sum(score for score, _a, _c in rated),
    "scores": {str(s): sum(1 for score, _a, _c in rated if score == s) for s in range(1, 6)},
    "days": len({created.date() for _s, _a, created in rated}),
    "agents": {name: [len(scores), sum(scores)] for name, scores in per_agent.items()},
    "labels": dict(labels),
    "today": [score for score, _a, created in rated if created.date() == today],
}))
"""


@pytest.fixture(scope="module")
def reports_page(parley_server, browser):
    """An agent's tab on the reports page (signed in straight there; the desk's own script is not involved)."""
    context = browser.new_context(viewport=DESK_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(parley_server.url + "/accounts/login/?next=/agent/reports/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "parley-agent")
    page.click("button[type=submit]")
    page.wait_for_url("**/agent/reports/")
    yield page
    assert errors == []
    context.close()


def average(total: int, count: int) -> str:
    return f"{total / count:.1f}"


def test_satisfaction_chart_agents_and_labels_show_the_seeded_numbers(parley_server, reports_page, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "14", "--per-day", "9")
    expected = json.loads(parley_server.manage("shell", "-c", EXPECTED_JS).strip().splitlines()[-1])
    assert expected["count"] > 10 and expected["labels"]
    page = reports_page
    page.reload()
    page.wait_for_selector("#chart-csat circle.csat-point")

    # The summary: average, number of ratings, satisfied share and the 1-5 distribution.
    assert page.text_content("#csat-count") == str(expected["count"])
    assert page.text_content("#csat-average").startswith(average(expected["total"], expected["count"]))
    satisfied = round(100 * (expected["scores"]["4"] + expected["scores"]["5"]) / expected["count"])
    assert page.text_content("#csat-satisfied") == f"{satisfied}%"
    shown = {
        row.get_attribute("data-score"): row.get_attribute("data-count")
        for row in page.locator("#csat-distribution .score-bar").all()
    }
    assert shown == {score: str(count) for score, count in expected["scores"].items()}

    # The chart: one point per day that has ratings, on a line, with the period's average drawn across.
    assert page.locator("#chart-csat circle.csat-point").count() == expected["days"]
    assert page.locator("#chart-csat path.csat-line").count() >= 1
    assert page.locator("#chart-csat line.csat-average").count() == 1
    box = page.locator("#chart-csat").bounding_box()
    assert box["width"] > 300 and box["height"] > 80  # drawn, not collapsed

    # The per-agent table: the seeded agent, then the conversations nobody was assigned.
    rows = page.locator("#csat-agents-table tbody tr")
    table = [
        (
            row.locator(".agent-name").text_content().strip(),
            row.locator(".agent-count").text_content(),
            row.locator(".agent-average").text_content(),
        )
        for row in rows.all()
    ]
    want = [
        ("Unassigned / bot" if name == "" else name, str(count), average(total, count))
        for name, (count, total) in sorted(expected["agents"].items(), key=lambda item: (item[0] == "", -item[1][0]))
    ]
    assert table == want
    assert table[-1][0] == "Unassigned / bot"

    # Conversations per label, each linking to the desk list filtered by it.
    labels = {
        row.get_attribute("data-label"): int(row.get_attribute("data-count"))
        for row in page.locator("#labels-table tbody tr").all()
    }
    assert labels == expected["labels"]
    first = page.locator("#labels-table tbody tr").first
    name = first.get_attribute("data-label")
    assert first.locator("a.label-name").get_attribute("href") == f"/agent/?label={name}"
    page.locator("#satisfaction").screenshot(path=str(artifacts / "reports-satisfaction.png"))

    # One day only: the numbers follow the period, like the rest of the page.
    page.fill("#period-start", page.input_value("#period-end"))
    page.click("#period-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#chart-volume g.day').length === 1")
    assert page.text_content("#csat-count") == str(len(expected["today"]))
    assert page.locator("#chart-csat circle.csat-point").count() == (1 if expected["today"] else 0)
