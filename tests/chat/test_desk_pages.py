"""The desk list's pages: keyset cursors hand out every conversation once, even while new ones arrive."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import Conversation
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def conversation(site, *, at, owner="queue", status="open", last_message_at=None, queued=True):
    return Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        owner=owner,
        status=status,
        created_at=at,
        updated_at=at,
        queued_at=at if queued else None,
        last_message_at=last_message_at,
        resolved_at=at if status == "resolved" else None,
    )


@pytest.fixture
def shop():
    return make_site("Shop")


@pytest.fixture
def sam(shop):
    return make_agent("sam", shop)


def walk(user, view: str, *, limit: int, between=lambda page: None) -> list[int]:
    """Every page of a view, following `next`; `between(n)` runs after page n arrived."""
    client = Client()
    client.force_login(user)
    seen, cursor, page = [], None, 0
    while True:
        params = {"view": view, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/agent/api/conversations", params)
        assert response.status_code == 200, response.content
        data = response.json()
        seen += [row["id"] for row in data["conversations"]]
        assert data["more"] is (data["next"] is not None)
        cursor = data["next"]
        if cursor is None:
            return seen
        page += 1
        between(page)


def test_open_pages_hold_every_conversation_once_while_new_ones_arrive(sam, shop):
    # Ties on last_message_at, and conversations without any message yet (sorted last).
    tied = NOW - timedelta(hours=1)
    existing = [conversation(shop, at=tied, last_message_at=tied) for _ in range(4)]
    existing += [
        conversation(shop, at=NOW - timedelta(hours=n), last_message_at=NOW - timedelta(hours=n)) for n in (2, 3)
    ]
    existing += [conversation(shop, at=NOW - timedelta(days=1)) for _ in range(3)]
    arrived = []

    def new_conversation(page):
        arrived.append(conversation(shop, at=timezone.now(), last_message_at=timezone.now()))

    seen = walk(sam, "open", limit=2, between=new_conversation)
    assert len(seen) == len(set(seen)), "a conversation came twice"
    assert {c.pk for c in existing} <= set(seen)
    # Those that arrived after the first page went to the top, above where the pages had reached.
    assert not {c.pk for c in arrived} & set(seen)
    by_id = {c.pk: c for c in existing}
    assert seen == sorted(
        seen, key=lambda pk: (by_id[pk].last_message_at is None, -(by_id[pk].last_message_at or NOW).timestamp(), -pk)
    )


def test_queue_pages_follow_who_waited_longest_with_ties_and_arrivals(sam, shop):
    tied = NOW - timedelta(minutes=30)
    existing = [conversation(shop, at=tied) for _ in range(3)] + [
        conversation(shop, at=NOW - timedelta(minutes=n)) for n in (50, 40, 10, 5)
    ]
    seen = walk(sam, "queue", limit=3, between=lambda page: conversation(shop, at=timezone.now()))
    assert len(seen) == len(set(seen))
    assert {c.pk for c in existing} <= set(seen)
    # Newcomers join the end of the queue, so the last pages reach them too.
    assert len(seen) == len(existing) + 2


def test_resolved_pages_by_last_change(sam, shop):
    existing = [conversation(shop, at=NOW - timedelta(minutes=n), status="resolved") for n in range(7)]
    seen = walk(sam, "resolved", limit=3, between=lambda page: conversation(shop, at=timezone.now(), status="resolved"))
    assert seen == [c.pk for c in existing]


def test_many_small_pages_list_everything_once(sam, shop):
    for n in range(30):
        conversation(shop, at=NOW - timedelta(minutes=n), last_message_at=NOW - timedelta(minutes=n))
    seen = walk(sam, "open", limit=4)
    assert len(seen) == len(set(seen)) == 30
