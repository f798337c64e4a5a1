"""Desk and admin search: names, emails and message text in English and Chinese, ranked, marked, one site only.

The first tests run on any database (the icontains fallback on SQLite); the ones named `..._on_postgresql` need the
test database to be PostgreSQL (DATABASE_URL=postgres://...), where the indexes of migration 0009 answer.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from chat.models import Conversation, Message
from chat.selectors import search
from tests.conftest import make_agent, make_site, make_visitor
from tests.services import need

pytestmark = pytest.mark.django_db


def conversation(site, *, name="", email="", said=(), minutes_ago=0, status="open"):
    """A conversation whose customer said each of `said`, `minutes_ago`."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    visitor = make_visitor(site, name=name, email=email)
    conv = Conversation.objects.create(
        site=site, visitor=visitor, owner="queue", status=status, created_at=at, updated_at=at, queued_at=at
    )
    for seq, body in enumerate(said, start=1):
        Message.objects.create(conversation=conv, seq=seq, author_kind="customer", body=body, created_at=at)
    conv.last_seq = len(said)
    conv.last_message_at = at if said else None
    conv.save()
    return conv


@pytest.fixture
def shop():
    return make_site("Shop")


@pytest.fixture
def sam(shop):
    return make_agent("sam", shop)


def found(user, q: str, **params) -> list[dict]:
    client = Client()
    client.force_login(user)
    response = client.get("/agent/api/conversations", {"view": "open", "q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()["conversations"]


@pytest.fixture(params=["through a small scope", "through windows of the latest messages"])
def either_way(request, monkeypatch):
    """Run a search test both ways PostgreSQL looks for matches: the scope's own messages, or the latest first."""
    if request.param.startswith("through windows"):
        monkeypatch.setattr(search, "SMALL_SCOPE", 0)
        monkeypatch.setattr(search, "FIRST_WINDOW", 2)  # several windows, even on a handful of messages


def need_postgresql() -> None:
    need(connection.vendor == "postgresql", "the search indexes are PostgreSQL's (set DATABASE_URL=postgres://...)")


# ---- on any database --------------------------------------------------------------------------------------------


def test_finds_names_emails_and_words_in_english_and_chinese(sam, shop, either_way):
    cleo = conversation(shop, name="Cleo Martin", said=["hello"])
    noah = conversation(shop, email="noah@example.org", said=["hi"])
    parcel = conversation(shop, said=["Where is my parcel? It is late"])
    wang = conversation(shop, name="王小明", said=["你好"])
    returns = conversation(shop, said=["我想退货，可以吗？"])
    assert [row["id"] for row in found(sam, "Cleo")] == [cleo.pk]
    assert [row["id"] for row in found(sam, "noah@example")] == [noah.pk]
    assert [row["id"] for row in found(sam, "parcel")] == [parcel.pk]
    assert [row["id"] for row in found(sam, "小明")] == [wang.pk]
    assert [row["id"] for row in found(sam, "退货")] == [returns.pk]
    assert found(sam, "nobody-says-this") == []


def test_a_name_match_ranks_above_a_message_match(sam, shop):
    mentioned = conversation(shop, said=["I spoke to Ingrid yesterday"], minutes_ago=1)
    ingrid = conversation(shop, name="Ingrid Berg", said=["hello"], minutes_ago=5)
    assert [row["id"] for row in found(sam, "ingrid")] == [ingrid.pk, mentioned.pk]


def test_each_result_carries_a_snippet_with_the_match_marked(sam, shop):
    conversation(shop, said=["Hello! " + "I ordered shoes last week and " * 3 + "my refund never came."])
    (row,) = found(sam, "refund")
    text, marks = row["snippet"]["text"], row["snippet"]["marks"]
    assert len(marks) == 1
    start, end = marks[0]
    assert text[start:end].lower() == "refund"
    assert text.startswith("…") and len(text) <= search.SNIPPET_CHARS + 2


def test_search_never_returns_another_sites_conversations(sam, shop, either_way):
    other = make_site("Other")
    conversation(other, name="Cleo", said=["refund please"])
    mine = conversation(shop, said=["refund please"])
    assert [row["id"] for row in found(sam, "refund")] == [mine.pk]
    assert found(sam, "Cleo") == []


def test_search_pages_follow_the_cursor_without_repeats(sam, shop, either_way):
    made = {conversation(shop, said=[f"refund number {n}"], minutes_ago=n).pk for n in range(5)}
    client = Client()
    client.force_login(sam)
    seen, cursor = [], None
    while True:
        params = {"view": "open", "q": "refund", "limit": 2, **({"cursor": cursor} if cursor else {})}
        data = client.get("/agent/api/conversations", params).json()
        seen += [row["id"] for row in data["conversations"]]
        cursor = data["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


def test_a_cursor_of_another_list_or_a_forged_one_is_refused(sam, shop):
    for n in range(3):
        conversation(shop, said=["refund"], minutes_ago=n)
    client = Client()
    client.force_login(sam)
    listed = client.get("/agent/api/conversations", {"view": "open", "limit": 1}).json()["next"]
    searched = client.get("/agent/api/conversations", {"view": "open", "limit": 1, "q": "refund"}).json()["next"]
    for params in (
        {"view": "open", "q": "refund", "cursor": listed},  # a list cursor on a search
        {"view": "open", "cursor": searched},  # a search cursor on a list
        {"view": "resolved", "cursor": listed},  # another view's
        {"view": "open", "cursor": "not-a-cursor"},
        {"view": "open", "cursor": listed[:-2] + "xx"},
        {"view": "open", "cursor": "x" * 1000},
    ):
        response = client.get("/agent/api/conversations", params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "bad_request"


def test_snippet_offsets_count_as_javascript_does():
    snippet = search.snippet(text="👍 退货 ok", q="退货")
    start, end = snippet["marks"][0]
    # The emoji is two UTF-16 code units: the mark starts at 3, not 2.
    assert (start, end) == (3, 5)
    assert snippet["text"].encode("utf-16-le")[start * 2 : end * 2].decode("utf-16-le") == "退货"


def test_admin_search_uses_the_same_search(shop):
    admin_user = make_agent("root", staff=True)
    admin_user.is_superuser = True
    admin_user.save()
    hit = conversation(shop, name="Customer 49999", said=["hello"])
    conversation(shop, name="Customer 12", said=["hello"])
    noted = conversation(shop, said=["where is my parcel"])
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/chat/conversation/", {"q": "Customer 49999"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [hit]
    messages = client.get("/admin/chat/message/", {"q": "parcel"})
    assert [m.conversation_id for m in messages.context["cl"].result_list] == [noted.pk]
    visitors = client.get("/admin/chat/visitor/", {"q": "49999"})
    assert [v.pk for v in visitors.context["cl"].result_list] == [hit.visitor_id]


# ---- PostgreSQL: the indexes --------------------------------------------------------------------------------------


def test_english_words_match_their_other_forms_on_postgresql(sam, shop, either_way):
    need_postgresql()
    refunded = conversation(shop, said=["Both refunds arrived, thanks"])
    assert [row["id"] for row in found(sam, "refund")] == [refunded.pk]
    (row,) = found(sam, "refund")
    start, end = row["snippet"]["marks"][0]
    assert row["snippet"]["text"][start:end] == "refund"  # marked where the word starts


def test_chinese_words_of_one_two_and_more_characters_on_postgresql(sam, shop, either_way):
    need_postgresql()
    returns = conversation(shop, said=["我想退货，请问退货政策是什么？"])
    shipping = conversation(shop, said=["运费多少钱"])
    assert [row["id"] for row in found(sam, "退货政策")] == [returns.pk]
    assert [row["id"] for row in found(sam, "运费")] == [shipping.pk]
    assert [row["id"] for row in found(sam, "钱")] == [shipping.pk]
    # Both pairs occur, but not next to each other: not a match.
    assert found(sam, "货运") == []


def test_the_better_message_match_ranks_first_on_postgresql(sam, shop, either_way):
    need_postgresql()
    passing = conversation(
        shop, said=["Thanks for the help with my order yesterday, and the refund too"], minutes_ago=1
    )
    focused = conversation(shop, said=["refund refund refund: where is my refund?"], minutes_ago=9)
    assert [row["id"] for row in found(sam, "refund")] == [focused.pk, passing.pk]


def test_names_and_emails_by_trigram_index_on_postgresql(sam, shop):
    need_postgresql()
    exact = conversation(shop, name="Customer 49999", said=["hi"])
    conversation(shop, name="Customer 4999", said=["hi"])
    by_mail = conversation(shop, email="li.wei@example.cn", said=["hi"])
    assert [row["id"] for row in found(sam, "Customer 49999")] == [exact.pk]
    assert [row["id"] for row in found(sam, "li.wei@")] == [by_mail.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'chat_visitor'")
        assert {"visitor_name_trgm", "visitor_email_trgm"} <= {row[0] for row in cursor.fetchall()}


def test_like_wildcards_in_a_query_are_taken_literally_on_postgresql(sam, shop):
    need_postgresql()
    conversation(shop, name="Ann", said=["hello"])
    assert found(sam, "%") == [] and found(sam, "_") == []


def test_the_admin_paginator_estimates_only_a_big_unfiltered_table_on_postgresql(shop):
    need_postgresql()
    for n in range(3):
        conversation(shop, said=[f"message {n}"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_message")
    everything = Message.objects.all()
    assert search.table_estimate(queryset=everything) == 3  # the planner's statistics, no COUNT(*)
    assert search.table_estimate(queryset=everything.filter(seq=1)) is None  # filtered: counted exactly
    # Below the threshold the exact count is cheap, and is what the page shows.
    assert search.EstimatedCountPaginator(everything.order_by("pk"), 100).count == 3


def test_the_admin_paginator_counts_exactly_elsewhere(shop):
    conversation(shop, said=["a", "b"])
    assert search.EstimatedCountPaginator(Message.objects.order_by("pk"), 100).count == 2
    if connection.vendor != "postgresql":
        assert search.table_estimate(queryset=Message.objects.all()) is None


def test_a_live_refresh_of_search_results_keeps_their_snippets(sam, shop):
    hit = conversation(shop, said=["my parcel is late"])
    miss = conversation(shop, said=["hello"])
    rows = found(sam, "parcel", ids=f"{hit.pk},{miss.pk}")
    assert [row["id"] for row in rows] == [hit.pk]
    assert rows[0]["snippet"]["text"] == "my parcel is late" and rows[0]["snippet"]["marks"] == [[3, 9]]
