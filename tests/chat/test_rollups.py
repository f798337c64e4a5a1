"""Reports from daily rollups: the same numbers as counting every row, before and after conversations change."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chat.models import Conversation, DailyStats, Message
from chat.selectors import reports, rollups
from chat.tasks.rollups import rollups_refresh, rollups_store
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = date(2026, 3, 1)
END = date(2026, 3, 30)
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # for the bot's "closed" numbers: the whole period is long quiet


def seed(sites, agents, *, count: int, rng: random.Random) -> list[Conversation]:
    """Conversations spread over the period (and a little around it), in every state a report tells apart."""
    made = []
    for n in range(count):
        site = rng.choice(sites)
        created = datetime.combine(START, time(), tzinfo=BERLIN) + timedelta(minutes=rng.randrange(-600, 31 * 1440))
        owner = rng.choice(["bot", "queue", "agent"])
        assignee = rng.choice(agents) if owner == "agent" else None
        queued = created + timedelta(seconds=rng.randrange(0, 600)) if owner != "bot" else None
        answered = created + timedelta(seconds=rng.randrange(30, 7200)) if owner == "agent" else None
        resolved = created + timedelta(seconds=rng.randrange(60, 90000)) if rng.random() < 0.5 else None
        rating = rng.choice([None, None, 1, 2, 3, 4, 5])
        conversation = Conversation.objects.create(
            site=site,
            visitor=make_visitor(site),
            owner=owner,
            status="resolved" if resolved else "open",
            assignee=assignee,
            created_at=created,
            updated_at=created,
            queued_at=queued,
            first_human_reply_at=answered,
            resolved_at=resolved,
            rating=rating,
            rated_at=resolved if rating else None,
        )
        Message.objects.create(
            conversation=conversation, seq=1, author_kind="customer", body=f"q{n}", created_at=created
        )
        if owner == "agent" and rng.random() < 0.7:
            Message.objects.create(
                conversation=conversation, seq=2, author_kind="agent", body="hello", created_at=created
            )
        made.append(conversation)
    return made


def build(site_ids):
    return reports.report_build(site_ids=site_ids, start=START, end=END, tz=BERLIN, now=NOW)


def unstored(site_ids, *, start=START, end=END, tz=BERLIN) -> list:
    """The (site, day) pairs of the period that the report counts from rows rather than reads from rollups."""
    today = timezone.now().astimezone(tz).date()
    return rollups.days_to_store(site_ids=site_ids, start=start, end=end, tz=tz, today=today)


def test_rollup_reports_equal_counting_every_row():
    rng = random.Random(7)
    sites = [make_site("Shop"), make_site("Outlet")]
    agents = [make_agent("ann", *sites), make_agent("bob", *sites)]
    conversations = seed(sites, agents, count=300, rng=rng)
    site_ids = [site.pk for site in sites]

    counted = build(site_ids)
    assert len(unstored(site_ids)) == 60

    stored = rollups_store(site_ids=site_ids, start=START, end=END, tz_name="Europe/Berlin")
    assert stored == 60 and DailyStats.objects.count() == 60
    assert unstored(site_ids) == []  # every day is read from its row in DailyStats
    from_rollups = build(site_ids)
    assert from_rollups == counted
    assert from_rollups.conversations > 200 and from_rollups.satisfaction.overall.count > 0

    # Changes after the days were stored: a resolve (stamps updated_at), a rating (stamps rated_at only),
    # and a conversation that started on a stored day.
    later = timezone.now() + timedelta(seconds=1)
    resolving = next(c for c in conversations if c.status == "open" and START.day < c.created_at.day < END.day)
    Conversation.objects.filter(pk=resolving.pk).update(
        status="resolved", resolved_at=resolving.created_at + timedelta(hours=2), updated_at=later
    )
    rating = next(c for c in conversations if c.rating is None and START.day < c.created_at.day < END.day)
    Conversation.objects.filter(pk=rating.pk).update(rating=5, rated_at=later)
    Conversation.objects.create(
        site=sites[0],
        visitor=make_visitor(sites[0]),
        owner="bot",
        created_at=datetime.combine(START + timedelta(days=3), time(12), tzinfo=BERLIN),
        updated_at=later,
    )
    assert len(unstored(site_ids)) == 3  # the three changed days, and only those
    after_changes = build(site_ids)
    DailyStats.objects.all().delete()
    assert after_changes == build(site_ids)
    assert after_changes != from_rollups


def test_a_conversation_imported_into_a_stored_day_is_counted():
    rng = random.Random(11)
    site = make_site("Shop")
    agent = make_agent("ann", site)
    seed([site], [agent], count=40, rng=rng)
    rollups_store(site_ids=[site.pk], start=START, end=END, tz_name="Europe/Berlin")
    assert unstored([site.pk]) == []
    # An import (another tool's history, a backfill): created now, every stamp of it dated in a stored day.
    day = datetime.combine(START + timedelta(days=5), time(10), tzinfo=BERLIN)
    Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        owner="agent",
        status="resolved",
        assignee=agent,
        created_at=day,
        updated_at=day,
        resolved_at=day + timedelta(hours=1),
        rating=5,
        rated_at=day + timedelta(hours=1),
    )
    assert unstored([site.pk]) == [(site.pk, START + timedelta(days=5))]
    with_import = build([site.pk])
    DailyStats.objects.all().delete()
    assert with_import == build([site.pk])


def test_a_stored_day_in_another_time_zone_is_not_used():
    site = make_site()
    make_agent("ann", site)
    rollups_store(site_ids=[site.pk], start=START, end=END, tz_name="UTC")
    assert unstored([site.pk], tz=UTC) == []
    assert len(unstored([site.pk])) == 30


def test_today_is_never_stored_and_is_always_counted():
    site = make_site()
    today = timezone.now().astimezone(BERLIN).date()
    assert rollups_store(site_ids=[site.pk], start=today - timedelta(days=1), end=today, tz_name="Europe/Berlin") == 1
    assert list(DailyStats.objects.values_list("day", flat=True)) == [today - timedelta(days=1)]
    numbers = rollups.period_numbers(site_ids=[site.pk], days=[today - timedelta(days=1), today], tz=BERLIN)
    assert set(numbers) == {(site.pk, today - timedelta(days=1)), (site.pk, today)}
    assert rollups.stored_days(site_ids=[site.pk], start=today, end=today, tz=BERLIN) == {}


def test_the_reports_page_queues_the_days_it_counted():
    site = make_site()
    agent = make_agent("ann", site)
    client = Client()
    client.force_login(agent)
    with timezone.override(BERLIN):
        response = client.get("/agent/reports/", {"start": START.isoformat(), "end": END.isoformat()})
    assert response.status_code == 200
    queued = DBTaskResult.objects.get(task_path=f"{rollups_refresh.module_path}")
    assert queued.args_kwargs["args"] == [[site.pk], START.isoformat(), END.isoformat(), rollups.tz_name(BERLIN)]
