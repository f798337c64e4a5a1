"""Report computations: volume per day, bot-only share, bot resolution and feedback, unanswered questions, times."""

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from chat.models import Conversation, Message
from chat.selectors import reports
from chat.views.desk_reports import add_article_url, human_duration, nice_ticks, volume_chart
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def at(day_offset: int = 0, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=UTC) + timedelta(days=day_offset)


def make(
    site,
    *,
    created,
    owner="bot",
    status="open",
    queued=None,
    answered=None,
    resolved=None,
    human_wrote=False,
    note_only=False,
):
    conversation = Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        owner=owner,
        status=status,
        created_at=created,
        updated_at=created,
        queued_at=queued,
        first_human_reply_at=answered,
        resolved_at=resolved,
        assignee=make_agent(f"a{Conversation.objects.count()}", site) if owner == "agent" else None,
    )
    Message.objects.create(conversation=conversation, seq=1, author_kind="customer", body="hi", created_at=created)
    if human_wrote or note_only:
        Message.objects.create(
            conversation=conversation, seq=2, author_kind="agent", body="hello", internal=note_only, created_at=created
        )
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
    paris = reports.report_build(
        site_ids=[site.pk], start=DAY, end=DAY + timedelta(days=1), tz=ZoneInfo("Europe/Paris")
    )
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
    conversation = make(
        site, created=at(0, 10), owner="queue", queued=at(0, 10, 30), answered=at(0, 10, 4), human_wrote=True
    )
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
    assert [human_duration(s) for s in (None, 45, 200, 3600, 3660, 90000)] == [
        "—",
        "45s",
        "3m 20s",
        "1h",
        "1h 1m",
        "1d 1h",
    ]


def test_volume_chart_stacks_bot_under_human(site):
    make(site, created=at(), status="resolved", resolved=at(0, 11))
    make(site, created=at(), owner="agent", human_wrote=True)
    chart = volume_chart(reports.report_build(site_ids=[site.pk], start=DAY, end=DAY))
    bar = chart["bars"][0]
    assert bar["bot_h"] == bar["human_h"] > 0
    assert bar["human_y"] + bar["human_h"] == pytest.approx(bar["bot_y"])


# ---- the bot: resolution rate, answer feedback, unanswered questions ------------------------------------------

NOW = at(0, 18)  # the report is read at 18:00 on DAY


def bot_conversation(site, *, created=None, said=(), status="open", handed_off=None, human_replied=None):
    """A conversation built from `said`: ("customer", text) or ("bot", outcome[, feedback]), a minute apart."""
    created = created or at()
    conversation = Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        status=status,
        created_at=created,
        updated_at=created,
        handed_off_at=handed_off,
        first_human_reply_at=human_replied,
        resolved_at=created + timedelta(minutes=len(said)) if status == "resolved" else None,
    )
    question = None
    for seq, (kind, *rest) in enumerate(said, start=1):
        when = created + timedelta(minutes=seq - 1)
        if kind == "customer":
            question = Message.objects.create(
                conversation=conversation, seq=seq, author_kind="customer", body=rest[0], created_at=when
            )
            continue
        outcome, feedback = (rest + [None])[:2]
        Message.objects.create(
            conversation=conversation,
            seq=seq,
            author_kind=kind,
            body="…",
            outcome=outcome,
            feedback=feedback,
            trigger=question if kind == "bot" else None,
            created_at=when,
        )
        question = None
    return conversation


def answered(feedback=None):
    return [("customer", "How long does shipping take?"), ("bot", "answered", feedback)]


def bot_numbers(site, **kwargs) -> reports.BotStats:
    return reports.report_build(site_ids=[site.pk], start=DAY, end=DAY, now=NOW, **kwargs).bot


def test_a_bot_answer_without_a_human_resolves(site):
    bot_conversation(site, said=answered(), status="resolved")
    stats = bot_numbers(site)
    assert (stats.conversations, stats.closed, stats.resolved) == (1, 1, 1)
    assert stats.resolution_rate == 1.0


def test_a_thumbs_up_counts_as_resolved_by_the_bot_even_with_a_human(site):
    bot_conversation(
        site,
        said=answered(feedback=1) + [("agent", "")],
        status="resolved",
        handed_off=at(0, 10, 2),
        human_replied=at(0, 10, 3),
    )
    assert bot_numbers(site).resolved == 1


def test_a_handoff_without_a_thumbs_up_is_not_resolved_by_the_bot(site):
    bot_conversation(site, said=answered() + [("bot", "handoff")], status="resolved", handed_off=at(0, 10, 1))
    bot_conversation(site, said=answered() + [("agent", "")], status="resolved", human_replied=at(0, 10, 2))
    stats = bot_numbers(site)
    assert (stats.closed, stats.resolved) == (2, 0)
    assert stats.resolution_rate == 0.0


def test_a_thumbs_down_without_a_human_is_not_resolved_by_the_bot(site):
    bot_conversation(site, said=answered(feedback=-1), status="resolved")
    assert (bot_numbers(site).closed, bot_numbers(site).resolved) == (1, 0)


def test_an_open_conversation_active_in_the_last_hour_is_not_closed_yet(site):
    bot_conversation(site, created=NOW - timedelta(minutes=20), said=answered())  # last message 19 minutes ago
    bot_conversation(site, created=NOW - timedelta(hours=3), said=answered())  # quiet for hours: closed
    stats = bot_numbers(site)
    assert (stats.conversations, stats.closed, stats.resolved) == (2, 1, 1)


def test_only_conversations_where_the_bot_tried_to_answer_are_bot_conversations(site):
    bot_conversation(site, said=[("customer", "hi"), ("bot", "smalltalk")], status="resolved")
    bot_conversation(
        site, said=[("customer", "a person please"), ("bot", "handoff")], status="resolved", handed_off=at(0, 10, 1)
    )
    bot_conversation(site, said=[("customer", "shipping?"), ("bot", "clarify")], status="resolved")
    bot_conversation(site, said=[("customer", "gift wrap?"), ("bot", "unanswered")], status="resolved")
    stats = bot_numbers(site)
    assert (stats.conversations, stats.closed, stats.resolved) == (2, 2, 2)


def test_no_closed_bot_conversation_has_no_rate(site):
    assert bot_numbers(site).resolution_rate is None and bot_numbers(site).helpful_share is None


def test_answer_feedback_counts_thumbs_on_bot_replies(site):
    bot_conversation(site, said=answered(1) + [("customer", "and costs?"), ("bot", "answered", 1)])
    bot_conversation(site, said=answered(1))
    bot_conversation(site, said=answered(-1))
    bot_conversation(site, said=answered())
    stats = bot_numbers(site)
    assert (stats.helpful, stats.unhelpful) == (3, 1)
    assert stats.helpful_share == pytest.approx(0.75)


def test_feedback_outside_the_period_does_not_count(site):
    bot_conversation(site, created=at(-1), said=answered(1))
    assert bot_numbers(site).helpful == 0


OPENING = "What are your opening hours?"


def test_grouping_puts_paraphrases_together_and_apart_from_other_questions():
    groups = reports.question_groups(
        [OPENING, "opening hours?", OPENING, "discount code not working", "What are your opening hours"]
    )
    assert [(g.question, g.count) for g in groups] == [(OPENING, 4), ("discount code not working", 1)]
    assert groups[0].examples == ("opening hours?",)


def test_a_group_shows_its_most_frequent_phrasing_then_the_shortest():
    assert reports.question_groups(["opening hours?", OPENING, OPENING])[0].question == OPENING
    assert reports.question_groups([OPENING, "opening hours?"])[0].question == "opening hours?"


def test_groups_come_most_frequent_first_and_are_limited():
    questions = ["discount code not working"] + [OPENING] * 3 + ["Do you have a store in Berlin?"] * 2
    groups = reports.question_groups(questions, limit=2)
    assert [g.count for g in groups] == [3, 2]
    assert groups[0].question == OPENING


def test_questions_without_terms_group_by_their_normalised_text():
    groups = reports.question_groups(["Hi!", "hi", "  HI  ", "Hello?", "???", ""])
    assert sorted((g.question, g.count) for g in groups) == [("Hello?", 1), ("Hi!", 3)]


def test_chinese_questions_get_a_chinese_article_language():
    groups = reports.question_groups(["你们几点开门？", "你们几点开门", OPENING])
    assert [(g.count, g.language) for g in groups] == [(2, "zh-hans"), (1, "en")]


def test_unanswered_questions_come_from_unanswered_replies_of_the_period(site):
    for question in (OPENING, "opening hours?", OPENING, "my discount code is not working"):
        bot_conversation(site, said=[("customer", question), ("bot", "unanswered")])
    bot_conversation(site, said=[("customer", "How long does shipping take?"), ("bot", "answered")])
    bot_conversation(site, created=at(-1), said=[("customer", OPENING), ("bot", "unanswered")])  # before the period
    groups = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY, now=NOW).unanswered
    assert [(g.question, g.count, g.site_id) for g in groups] == [
        (OPENING, 3, site.pk),
        ("my discount code is not working", 1, site.pk),
    ]


def test_add_article_link_carries_the_question():
    url = add_article_url(site_id=7, question="Do you ship to Norway & Iceland?", language="en")
    path, _, query = url.partition("?")
    assert path == reverse("admin:chat_knowledgearticle_add")
    assert parse_qs(query) == {"site": ["7"], "title": ["Do you ship to Norway & Iceland?"], "language": ["en"]}


def test_another_sites_bot_numbers_and_questions_never_show(site):
    other = make_site("Other")
    bot_conversation(
        other, said=[("customer", "Do you have a store in Berlin?"), ("bot", "unanswered")], status="resolved"
    )
    bot_conversation(other, said=answered(1), status="resolved")
    report = reports.report_build(site_ids=[site.pk], start=DAY, end=DAY, now=NOW)
    assert report.bot == reports.BotStats() and report.unanswered == []


def test_the_reports_page_shows_the_bot_section(site):
    other = make_site("Other")
    agent = make_agent("sam", site)
    today = timezone.now() - timedelta(minutes=5)
    bot_conversation(site, created=today - timedelta(hours=2), said=answered(1), status="resolved")
    bot_conversation(site, created=today, said=[("customer", "Do you have a store in Berlin?"), ("bot", "unanswered")])
    bot_conversation(
        other, created=today, said=[("customer", "Secret question of another shop"), ("bot", "unanswered")]
    )
    client = Client()
    client.force_login(agent)
    response = client.get("/agent/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="bot-resolution"' in html and 'id="bot-feedback"' in html and 'id="unanswered"' in html
    assert "100%" in html and "1 of 1 closed bot conversation resolved by the bot" in html
    assert "Do you have a store in Berlin?" in html
    assert escape(add_article_url(site_id=site.pk, question="Do you have a store in Berlin?", language="en")) in html
    assert "Secret question" not in html
