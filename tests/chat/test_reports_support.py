"""Satisfaction (CSAT) and label reports: the numbers equal what the seeded rows say, only inside the period and
the agent's sites, in a fixed number of queries; the page shows them, and its colours pass WCAG AA."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation, Label
from chat.selectors import reports
from chat.views import desk_reports
from chat.views.desk_reports import label_list_url, satisfaction_chart
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)
DESK_CSS = Path(__file__).resolve().parents[2] / "static" / "desk" / "desk.css"


def at(day_offset: int = 0, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=UTC) + timedelta(days=day_offset)


def conv(site, *, created, rating=None, assignee=None, labels=(), comment=""):
    """A resolved conversation started at `created`, rated `rating` (or not), carrying `labels` (names)."""
    conversation = Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        owner="agent" if assignee else "bot",
        status="resolved",
        assignee=assignee,
        created_at=created,
        updated_at=created,
        resolved_at=created + timedelta(minutes=5),
        rating=rating,
        rating_comment=comment,
        rated_at=created + timedelta(minutes=6) if rating else None,
    )
    for name in labels:
        label, _ = Label.objects.get_or_create(site=site, name=name)
        conversation.labels.add(label)
    return conversation


def build(site_ids, start=DAY, end=DAY, **kwargs) -> reports.Report:
    return reports.report_build(site_ids=list(site_ids), start=start, end=end, now=at(5), **kwargs)


@pytest.fixture
def site():
    return make_site()


@pytest.fixture
def other():
    return make_site("Other")


@pytest.fixture
def sam(site):
    return make_agent("sam", site)


@pytest.fixture
def kim(site):
    return make_agent("kim", site)


# ---- satisfaction ------------------------------------------------------------------------------------------------


def test_no_ratings_give_empty_numbers(site):
    conv(site, created=at())  # resolved, not rated
    csat = build([site.pk]).satisfaction
    assert csat.overall == reports.ScoreStats()
    assert csat.overall.average is None and csat.overall.satisfied_share is None
    assert csat.agents == [] and [stats for _day, stats in csat.days] == [reports.ScoreStats()]


def test_average_count_distribution_and_satisfied_share_equal_the_rows(site, sam):
    scores = [5, 5, 4, 4, 4, 3, 2, 1, 5]
    for i, score in enumerate(scores):
        conv(site, created=at(0, 9, i), rating=score, assignee=sam if i % 2 else None)
    conv(site, created=at(0, 12))  # no rating: not counted anywhere
    overall = build([site.pk]).satisfaction.overall
    assert overall.count == len(scores)
    assert overall.average == pytest.approx(mean(scores))
    assert overall.distribution == tuple(scores.count(s) for s in (1, 2, 3, 4, 5)) == (1, 1, 1, 3, 3)
    assert overall.satisfied == 6
    assert overall.satisfied_share == pytest.approx(6 / 9)


def test_per_day_numbers_and_the_overall_ones_agree(site):
    rows = {0: [5, 3], 1: [], 2: [4, 4, 1]}
    for offset, scores in rows.items():
        for score in scores:
            conv(site, created=at(offset), rating=score)
    csat = build([site.pk], end=DAY + timedelta(days=2)).satisfaction
    assert [day for day, _stats in csat.days] == [DAY + timedelta(days=n) for n in range(3)]
    assert [(stats.count, stats.average) for _day, stats in csat.days] == [(2, 4.0), (0, None), (3, 3.0)]
    assert csat.overall.count == 5 and csat.overall.average == pytest.approx(17 / 5)


def test_period_boundaries_count_the_day_the_conversation_started(site):
    conv(site, created=at(0, 0, 0, 0), rating=5)  # first instant of the period
    conv(site, created=at(1, 23, 59, 59), rating=1)  # last second of the period
    conv(site, created=at(-1, 23, 59, 59), rating=2)  # the day before
    conv(site, created=at(2, 0, 0, 0), rating=2)  # the day after
    # Rated inside the period but started before it: belongs to the day it started, like every other number.
    early = conv(site, created=at(-3), rating=4)
    Conversation.objects.filter(pk=early.pk).update(rated_at=at(0, 12))
    csat = build([site.pk], end=DAY + timedelta(days=1)).satisfaction
    assert csat.overall.distribution == (1, 0, 0, 0, 1)
    assert [stats.count for _day, stats in csat.days] == [1, 1]


def test_days_follow_the_time_zone(site):
    conv(site, created=at(0, 23, 30), rating=4)  # 00:30 on the 11th in Paris
    csat = build([site.pk], end=DAY + timedelta(days=1), tz=ZoneInfo("Europe/Paris")).satisfaction
    assert [stats.count for _day, stats in csat.days] == [0, 1]


def test_per_agent_rows_by_assignee_and_the_unassigned_last(site, sam, kim):
    for score in (5, 4, 2):
        conv(site, created=at(), rating=score, assignee=sam)
    for score in (5, 5):
        conv(site, created=at(), rating=score, assignee=kim)
    for score in (3, 1, 4, 5):
        conv(site, created=at(), rating=score)  # the bot's, or nobody took it
    conv(site, created=at(), assignee=kim)  # not rated
    agents = build([site.pk]).satisfaction.agents
    assert [(a.agent_id, a.name, a.stats.count, a.stats.average) for a in agents] == [
        (sam.pk, "Sam", 3, pytest.approx(11 / 3)),
        (kim.pk, "Kim", 2, 5.0),
        (None, "", 4, 3.25),
    ]
    assert [a.stats.distribution for a in agents] == [(0, 1, 0, 1, 1), (0, 0, 0, 0, 2), (1, 0, 1, 1, 1)]
    assert sum(a.stats.count for a in agents) == build([site.pk]).satisfaction.overall.count


def test_another_sites_ratings_never_count(site, other, sam):
    stranger = make_agent("lee", other)
    conv(site, created=at(), rating=5, assignee=sam)
    conv(other, created=at(), rating=1, assignee=stranger)
    conv(other, created=at(), rating=1)
    csat = build([site.pk]).satisfaction
    assert csat.overall.count == 1 and csat.overall.average == 5.0
    assert [a.agent_id for a in csat.agents] == [sam.pk]
    both = build([site.pk, other.pk]).satisfaction
    assert both.overall.count == 3 and {a.agent_id for a in both.agents} == {sam.pk, stranger.pk, None}


# ---- labels ---------------------------------------------------------------------------------------------------


def test_label_counts_equal_the_rows_of_the_period(site):
    conv(site, created=at(), labels=["refund", "vip"])
    conv(site, created=at(0, 23, 59, 59), labels=["refund"])
    conv(site, created=at(), labels=["bug"])
    conv(site, created=at())  # no label
    conv(site, created=at(-1, 23, 59, 59), labels=["refund", "shipping"])  # the day before
    conv(site, created=at(1), labels=["shipping"])  # the day after
    Label.objects.create(site=site, name="unused")
    report = build([site.pk])
    assert [(label.name, label.count) for label in report.labels] == [("refund", 2), ("bug", 1), ("vip", 1)]
    rows = desk_reports.labels_section(report, {})
    assert [(row["name"], row["count"], row["share"], row["width"]) for row in rows] == [
        ("refund", 2, 50, 100.0),
        ("bug", 1, 25, 50.0),
        ("vip", 1, 25, 50.0),
    ]
    assert rows[0]["url"] == "/agent/?label=refund"


def test_labels_of_another_site_never_count(site, other):
    conv(site, created=at(), labels=["refund"])
    conv(other, created=at(), labels=["refund", "secret-project"])
    report = build([site.pk])
    assert [(label.name, label.site_id, label.count) for label in report.labels] == [("refund", site.pk, 1)]
    both = build([site.pk, other.pk])
    assert sorted((label.name, label.site_id) for label in both.labels) == sorted(
        [("refund", site.pk), ("refund", other.pk), ("secret-project", other.pk)]
    )
    # Over several sites each row names its site and its link the site too.
    rows = desk_reports.labels_section(both, {site.pk: "Shop", other.pk: "Other"})
    assert {(row["name"], row["site"], row["url"]) for row in rows if row["name"] == "refund"} == {
        ("refund", "Shop", f"/agent/?label=refund&site={site.pk}"),
        ("refund", "Other", f"/agent/?label=refund&site={other.pk}"),
    }


def test_a_label_colour_that_is_not_hex_falls_back_to_the_default(site):
    conv(site, created=at(), labels=["odd"])
    Label.objects.filter(name="odd").update(color="red;x")
    assert desk_reports.labels_section(build([site.pk]), {})[0]["color"] == desk_reports.LABEL_DEFAULT_COLOR


def test_label_link_quotes_the_name():
    assert label_list_url(name="a&b c") == "/agent/?label=a%26b+c"


# ---- bounded work ----------------------------------------------------------------------------------------------


def report_queries(site_ids) -> int:
    with CaptureQueriesContext(connection) as captured:
        build(site_ids, end=DAY + timedelta(days=6))
    return len(captured.captured_queries)


def test_the_query_count_does_not_grow_with_rows_agents_or_labels(site, other, sam):
    conv(site, created=at(), rating=5, assignee=sam, labels=["refund"])
    few = report_queries([site.pk, other.pk])
    for n in range(12):
        agent = make_agent(f"agent{n}", site, other)
        conv(site if n % 2 else other, created=at(n % 7, 9, n), rating=1 + n % 5, assignee=agent, labels=[f"l{n}"])
        conv(site, created=at(n % 7, 11, n), rating=1 + (n * 3) % 5, labels=["refund", f"m{n}"])
    many = report_queries([site.pk, other.pk])
    assert many == few
    assert many <= 7, many  # the page's rows, bot numbers, unanswered questions, 2 for ratings and 1 for labels


# ---- the chart and the page --------------------------------------------------------------------------------------


def test_the_chart_draws_days_with_ratings_on_a_one_to_five_axis(site):
    conv(site, created=at(0), rating=5)
    conv(site, created=at(2), rating=1)
    conv(site, created=at(2), rating=2)
    chart = satisfaction_chart(build([site.pk], end=DAY + timedelta(days=2)))
    top, baseline = desk_reports.PAD_TOP, desk_reports.HEIGHT - desk_reports.PAD_BOTTOM
    assert [tick["text"] for tick in chart["y_axis"]] == ["1", "2", "3", "4", "5"]
    assert [(p["average"], p["count"]) for p in chart["points"]] == [("5.0", 1), ("1.5", 2)]
    assert chart["points"][0]["y"] == top and top < chart["points"][1]["y"] < baseline
    assert len(chart["paths"]) == 2  # the empty day in between leaves a gap
    assert chart["average_y"] == pytest.approx(baseline - (baseline - top) * (8 / 3 - 1) / 4, abs=0.1)


def test_the_page_shows_satisfaction_and_labels_of_the_agents_sites_only(site, other, sam):
    stranger = make_agent("lee", other)
    now = timezone.now() - timedelta(minutes=5)
    conv(site, created=now, rating=5, assignee=sam, labels=["refund"])
    conv(site, created=now - timedelta(minutes=1), rating=4, labels=["refund", "vip"])
    conv(site, created=now - timedelta(minutes=2), rating=1, assignee=sam)
    conv(other, created=now, rating=1, assignee=stranger, labels=["secret-project"])
    client = Client()
    client.force_login(sam)
    for query in ({}, {"site": other.pk}):  # a foreign site falls back to the agent's own
        html = client.get("/agent/reports/", query).content.decode()
        assert 'id="satisfaction"' in html and 'id="chart-csat"' in html
        assert re.search(r'id="csat-average">3\.3<small>', html)
        assert '<span id="csat-count">3</span>' in html and '<span id="csat-satisfied">67%</span>' in html
        rows = re.findall(r'<tr class="csat-agent[^"]*" data-agent="(\d*)">', html)
        assert rows == [str(sam.pk), ""]
        assert "Unassigned / bot" in html
        assert 'href="/agent/?label=refund"' in html and 'data-label="vip" data-count="1"' in html
        assert "secret-project" not in html and "Lee" not in html
        assert html.count('class="csat-point"') == 1


def test_the_page_without_ratings_or_labels_says_so(site, sam):
    client = Client()
    client.force_login(sam)
    html = client.get("/agent/reports/").content.decode()
    assert "No ratings in this period." in html and "No labelled conversations in this period." in html
    assert 'id="csat-average">—' in html


# ---- colours: WCAG AA (text 4.5:1, bars and lines 3:1) -----------------------------------------------------------


def luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def css_var(name: str) -> str:
    return re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", DESK_CSS.read_text()).group(1)


def test_chart_and_bar_colours_stand_out_from_the_card_and_the_track():
    card, track = css_var("pane"), css_var("border-soft")
    graphics = [
        *desk_reports.SCORE_COLORS.values(),
        desk_reports.SCORE_LINE,
        desk_reports.LABEL_BAR,
        desk_reports.LABEL_DEFAULT_COLOR,
    ]
    for color in graphics:
        assert contrast(color, card) >= 3 and contrast(color, track) >= 3, color


def test_the_sections_text_colours_are_readable():
    card, sunken = css_var("pane"), css_var("sunken")
    for name in ("text", "text-2", "muted"):  # reports.css writes text only in these
        assert contrast(css_var(name), card) >= 4.5 and contrast(css_var(name), sunken) >= 4.5, name
    css = (DESK_CSS.parent / "reports.css").read_text()
    assert "--faint" not in css  # too light for text (2.6:1)
