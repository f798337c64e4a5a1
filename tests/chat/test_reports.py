"""Report computations: volume per day, bot-alone share, median first response and resolution times."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest

from chat import reports
from chat.models import Conversation, Message
from chat.views.desk_reports import human_duration, nice_ticks, volume_chart
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def at(day_offset: int = 0, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=dt_timezone.utc) + timedelta(days=day_offset)


def make(site, *, created, owner="bot", status="open", queued=None, answered=None, resolved=None, human_wrote=False,
         note_only=False):
    conversation = Conversation.objects.create(
        site=site, visitor=make_visitor(site), owner=owner, status=status, created_at=created, updated_at=created,
        queued_at=queued, first_human_reply_at=answered, resolved_at=resolved,
        assignee=make_agent(f"a{Conversation.objects.count()}", site) if owner == "agent" else None)
    Message.objects.create(conversation=conversation, seq=1, author_kind="customer", body="hi", created_at=created)
    if human_wrote or note_only:
        Message.objects.create(conversation=conversation, seq=2, author_kind="agent", body="hello",
                               internal=note_only, created_at=created)
    return conversation


@pytest.fixture
def site():
    return make_site()


def test_an_empty_period(site):
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY + timedelta(days=2))
    assert [d.day for d in report.days] == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert report.conversations == 0 and report.bot_alone_share is None
    assert report.median_first_response is None and report.median_resolution is None


def test_conversations_per_day_and_only_inside_the_period(site):
    make(site, created=at(0, 9))
    make(site, created=at(0, 23, 59))
    make(site, created=at(2, 0, 1))
    make(site, created=at(-1, 23, 59))  # the day before
    make(site, created=at(3))  # the day after
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY + timedelta(days=2))
    assert [d.conversations for d in report.days] == [2, 0, 1]
    assert report.conversations == 3


def test_days_follow_the_time_zone(site):
    make(site, created=at(0, 23, 30))  # 00:30 on the 11th in Paris (UTC+1 in March)
    paris = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY + timedelta(days=1), tz=ZoneInfo("Europe/Paris"))
    assert [d.conversations for d in paris.days] == [0, 1]


def test_other_sites_do_not_count(site):
    other = make_site("Other")
    make(site, created=at())
    make(other, created=at())
    assert reports.report_build(site_ids=[site.pk], start=DAY, end=DAY).conversations == 1


def test_bot_alone_means_the_bot_kept_it_and_no_human_wrote(site):
    make(site, created=at(), status="resolved", resolved=at(0, 10, 5))  # bot alone, resolved
    make(site, created=at())  # bot alone, still with the bot
    make(site, created=at(), note_only=True)  # a private note is not writing to the customer
    make(site, created=at(), owner="queue", queued=at(0, 10, 1))  # handed off, nobody answered yet
    make(site, created=at(), owner="bot", human_wrote=True)  # a human wrote, then handed back to the bot
    make(site, created=at(), owner="agent", human_wrote=True, answered=at(0, 10, 2))
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY)
    assert report.bot_alone == 3 and report.conversations == 6
    assert report.bot_alone_share == pytest.approx(0.5)
    assert report.days[0].bot_alone == 3 and report.days[0].with_humans == 3


def test_first_response_counts_from_the_queue_when_there_was_one(site):
    make(site, created=at(0, 10), owner="agent", queued=at(0, 10, 1), answered=at(0, 10, 3), human_wrote=True)  # 120 s
    make(site, created=at(0, 11), owner="agent", answered=at(0, 11, 5), human_wrote=True)  # 300 s, never queued
    make(site, created=at(0, 12), owner="agent", queued=at(0, 12, 0), answered=at(0, 12, 10), human_wrote=True)  # 600 s
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY)
    assert report.first_responses == 3
    assert report.median_first_response == 300
    assert report.days[0].median_first_response == 300


def test_a_requeue_after_the_first_answer_does_not_make_it_negative(site):
    conversation = make(site, created=at(0, 10), owner="queue", queued=at(0, 10, 30), answered=at(0, 10, 4),
                        human_wrote=True)
    assert reports.first_response_seconds(conversation) == 240  # counted from the start instead


def test_median_resolution_time(site):
    make(site, created=at(0, 10), status="resolved", resolved=at(0, 10, 10))
    make(site, created=at(0, 10), status="resolved", resolved=at(0, 10, 30))
    make(site, created=at(0, 10), status="resolved", resolved=at(0, 12, 0))
    make(site, created=at(0, 10))  # still open: no resolution time
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY)
    assert report.resolutions == 3
    assert report.median_resolution == 30 * 60


def test_even_number_of_samples_takes_the_middle_two(site):
    for minutes in (1, 2, 4, 10):
        make(site, created=at(), status="resolved", resolved=at() + timedelta(minutes=minutes))
    assert reports.report_build(site_ids=[site.pk], start=DAY, end=DAY).median_resolution == 3 * 60


def test_response_time_buckets(site):
    for seconds in (30, 90, 200, 600, 7200):
        make(site, created=at(), owner="agent", answered=at() + timedelta(seconds=seconds), human_wrote=True)
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY)
    assert [count for _label, count in report.response_buckets] == [1, 2, 1, 0, 1]


def test_reversed_and_overlong_periods_are_tamed(site):
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY - timedelta(days=1))
    assert (report.start, report.end) == (DAY - timedelta(days=1), DAY)
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY + timedelta(days=5000))
    assert len(report.days) == reports.MAX_DAYS


def test_chart_helpers():
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(130) == [0, 50, 100, 150]
    assert [human_duration(s) for s in (None, 45, 200, 3600, 3660, 90000)] == ["—", "45s", "3m 20s", "1h", "1h 1m", "1d 1h"]


def test_volume_chart_stacks_bot_under_human(site):
    make(site, created=at(), status="resolved", resolved=at(0, 11))
    make(site, created=at(), owner="agent", human_wrote=True)
    chart = volume_chart(reports.report_build(site_ids=[site.pk], start=DAY, end=DAY))
    bar = chart["bars"][0]
    assert bar["bot_h"] == bar["human_h"] > 0
    assert bar["human_y"] + bar["human_h"] == pytest.approx(bar["bot_y"])
