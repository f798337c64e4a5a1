"""The desk's label reads: GET /agent/api/labels, the `label` filter of the list and the counts, and ratings in rows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Conversation, Label, Message
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return make_site("Shop")


@pytest.fixture
def other_shop():
    return make_site("Other shop")


@pytest.fixture
def sam(shop):
    return make_agent("sam", shop)


def conversation(site, *labels: str, status="open", owner="queue", assignee=None, minutes_ago=0, said="hello"):
    """A conversation of `site` wearing `labels` (created on the site on first use), with one customer message."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    conv = Conversation.objects.create(
        site=site,
        visitor=make_visitor(site),
        status=status,
        owner=owner,
        assignee=assignee,
        created_at=at,
        updated_at=at,
        queued_at=at if owner == "queue" else None,
        resolved_at=at if status == "resolved" else None,
        last_seq=1,
        last_message_at=at,
    )
    Message.objects.create(conversation=conv, seq=1, author_kind="customer", body=said, created_at=at, updated_at=at)
    for name in labels:
        conv.labels.add(Label.objects.get_or_create(site=site, name=name)[0])
    return conv


def api(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(f"/agent/api/{path}")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["conversations"]]


# ---- the page -------------------------------------------------------------------------------


def test_the_desk_page_has_the_label_bar_filter_and_shortcut(sam):
    client = Client()
    client.force_login(sam)
    html = client.get("/agent/").content.decode()
    for hook in ('id="label-chips"', 'id="label-input"', 'role="combobox"', 'id="label-filter"', "desk/labels.js"):
        assert hook in html
    assert "<kbd>l</kbd></dt><dd>Add or remove labels" in html


# ---- GET /agent/api/labels ------------------------------------------------------------------


def test_labels_of_my_sites_with_their_open_counts(sam, shop):
    Label.objects.create(site=shop, name="vip", color="#7a5af8")
    conversation(shop, "refund", "bug")
    conversation(shop, "refund")
    conversation(shop, "refund", status="resolved")  # resolved: not counted
    response = api(sam, "labels")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "labels": [
            {"site": shop.pk, "name": "bug", "color": "", "count": 1},
            {"site": shop.pk, "name": "refund", "color": "", "count": 2},
            {"site": shop.pk, "name": "vip", "color": "#7a5af8", "count": 0},
        ]
    }


def test_labels_of_other_sites_are_invisible(sam, shop, other_shop):
    conversation(shop, "refund")
    conversation(other_shop, "secret-project")
    conversation(other_shop, "refund")
    labels = api(sam, "labels").json()["labels"]
    assert [(label["site"], label["name"], label["count"]) for label in labels] == [(shop.pk, "refund", 1)]
    foreign = api(sam, f"labels?site={other_shop.pk}")
    missing = api(sam, "labels?site=999999")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_staff_see_the_labels_of_every_site_and_may_pick_one(shop, other_shop):
    ada = make_agent("ada", staff=True)
    conversation(shop, "refund")
    conversation(other_shop, "refund")
    conversation(other_shop, "bug")
    everything = api(ada, "labels").json()["labels"]
    assert sorted((label["name"], label["site"]) for label in everything) == [
        ("bug", other_shop.pk),
        ("refund", shop.pk),
        ("refund", other_shop.pk),
    ]
    one_site = api(ada, f"labels?site={shop.pk}").json()["labels"]
    assert [(label["name"], label["site"]) for label in one_site] == [("refund", shop.pk)]


def test_labels_need_an_agent():
    assert Client().get("/agent/api/labels").status_code == 401
    assert Client().post("/agent/api/labels").status_code == 405


# ---- the list's label filter -------------------------------------------------------------


def test_the_list_filters_by_label_and_rows_carry_sorted_labels(sam, shop):
    refund = conversation(shop, "refund", "bug", minutes_ago=2)
    both = conversation(shop, "vip", "refund", minutes_ago=1)
    plain = conversation(shop)
    conversation(shop, "refund", status="resolved")
    assert set(ids(api(sam, "conversations?view=queue"))) == {refund.pk, both.pk, plain.pk}
    response = api(sam, "conversations?view=queue&label=refund")
    assert ids(response) == [refund.pk, both.pk]  # the queue's order; each row once
    rows = {row["id"]: row for row in response.json()["conversations"]}
    assert rows[refund.pk]["labels"] == ["bug", "refund"]
    assert rows[both.pk]["labels"] == ["refund", "vip"]
    assert ids(api(sam, "conversations?view=queue&label=vip")) == [both.pk]
    assert ids(api(sam, "conversations?view=queue&label=nobody-uses-this")) == []
    assert api(sam, "conversations?view=queue").json()["conversations"][-1]["labels"] in ([], ["bug", "refund"])


def test_the_label_filter_takes_a_name_as_agents_type_it(sam, shop):
    typed = conversation(shop, "late-delivery")
    assert ids(api(sam, "conversations?view=open&label=%20Late%20Delivery%20")) == [typed.pk]


def test_the_label_filter_combines_with_search_site_views_and_ids(sam, shop):
    kim = make_agent("kim", shop)
    mine = conversation(shop, "refund", owner="agent", assignee=sam, said="my parcel is broken")
    theirs = conversation(shop, "refund", owner="agent", assignee=kim, said="refund my parcel please")
    other = conversation(shop, "bug", owner="agent", assignee=sam, said="the parcel page crashes")
    done = conversation(shop, "refund", status="resolved", owner="agent", assignee=sam)
    assert ids(api(sam, "conversations?view=mine&label=refund")) == [mine.pk]
    assert set(ids(api(sam, "conversations?view=open&label=refund&q=parcel"))) == {mine.pk, theirs.pk}
    assert ids(api(sam, "conversations?view=resolved&label=refund")) == [done.pk]
    assert ids(api(sam, f"conversations?view=open&label=refund&site={shop.pk}&ids={mine.pk},{other.pk}")) == [mine.pk]


def test_a_label_of_the_same_name_on_another_site_shows_nothing_of_that_site(sam, shop, other_shop):
    mine = conversation(shop, "refund")
    conversation(other_shop, "refund")
    theirs_only = conversation(other_shop, "secret-project")
    assert ids(api(sam, "conversations?view=open&label=refund")) == [mine.pk]
    assert ids(api(sam, "conversations?view=open&label=secret-project")) == []
    assert theirs_only.pk not in ids(api(sam, "conversations?view=open"))


def test_staff_filtering_by_a_name_both_sites_use_get_each_conversation_once(shop, other_shop):
    ada = make_agent("ada", staff=True)
    first = conversation(shop, "refund", minutes_ago=2)
    second = conversation(other_shop, "refund", minutes_ago=1)
    assert ids(api(ada, "conversations?view=queue&label=refund")) == [first.pk, second.pk]
    assert ids(api(ada, f"conversations?view=queue&label=refund&site={other_shop.pk}")) == [second.pk]


def test_counts_follow_the_label_filter(sam, shop):
    conversation(shop, "refund")
    conversation(shop, "refund", owner="agent", assignee=sam)
    conversation(shop, "bug", owner="agent", assignee=sam)
    conversation(shop)
    everything = api(sam, "counts").json()["counts"]
    assert (everything["queue"], everything["mine"], everything["open"]) == (2, 2, 4)
    refund = api(sam, "counts?label=refund").json()["counts"]
    assert (refund["queue"], refund["mine"], refund["open"]) == (1, 1, 2)
    listed = api(sam, "conversations?view=open&label=refund").json()["counts"]
    assert listed == refund


@pytest.mark.parametrize(
    "label",
    ["x" * 41, "%20%20%20", "bad%01label", "two%0Alines", "c1%C2%85control"],
    ids=["too-long", "blank", "control-char", "newline", "c1-control"],
)
@pytest.mark.parametrize("endpoint", ["conversations?view=open&", "counts?"])
def test_a_bad_label_is_refused_with_the_desk_error_shape(sam, endpoint, label):
    response = api(sam, f"{endpoint}label={label}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert "label" in error["detail"]


def test_a_forty_character_label_is_fine(sam, shop):
    long = conversation(shop, "y" * 40)
    assert ids(api(sam, "conversations?view=open&label=" + "Y" * 40)) == [long.pk]


def test_earlier_conversations_in_the_details_carry_labels(sam, shop):
    now = conversation(shop)
    before = conversation(shop, "vip", "bug", status="resolved", minutes_ago=60)
    before.visitor = now.visitor
    before.save()
    earlier = api(sam, f"conversations/{now.pk}/customer").json()["earlier"]
    assert [(row["id"], row["labels"]) for row in earlier] == [(before.pk, ["bug", "vip"])]


def test_rows_carry_the_customers_rating(sam, shop):
    rated = conversation(shop, status="resolved")
    rated.rating, rated.rating_comment, rated.rated_at = 4, "Quick <b>and</b> kind", timezone.now()
    rated.save()
    conversation(shop, status="resolved")
    rows = {row["id"]: row for row in api(sam, "conversations?view=resolved").json()["conversations"]}
    assert rows[rated.pk]["rating"]["score"] == 4
    assert rows[rated.pk]["rating"]["comment"] == "Quick <b>and</b> kind"
    assert rows[rated.pk]["rating"]["rated_at"]
    assert [row["rating"] for row_id, row in rows.items() if row_id != rated.pk] == [None]


# ---- no query per row -------------------------------------------------------------------------


def list_queries(user, path: str) -> int:
    client = Client()
    client.force_login(user)
    client.get("/agent/api/counts")  # the session and the user are warm
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/agent/api/{path}").status_code == 200
    return len(captured)


def test_the_list_reads_labels_without_a_query_per_row(sam, shop, django_assert_max_num_queries):
    for _ in range(2):
        conversation(shop, "refund", "vip")
    few = list_queries(sam, "conversations?view=open&label=refund")
    few_unfiltered = list_queries(sam, "conversations?view=open")
    for i in range(20):
        conversation(shop, "refund", "vip", f"extra-{i}")
    assert list_queries(sam, "conversations?view=open&label=refund") == few
    assert list_queries(sam, "conversations?view=open") == few_unfiltered
    client = Client()
    client.force_login(sam)
    with django_assert_max_num_queries(8):  # session, user, agent, sites, page, labels, sites, counts
        response = client.get("/agent/api/conversations?view=open&label=vip")
    assert len(response.json()["conversations"]) == 22
    with django_assert_max_num_queries(5):  # session, user, agent, sites, labels with their counts
        assert len(client.get("/agent/api/labels").json()["labels"]) == 22


def test_the_label_list_is_one_query_whatever_the_number_of_labels(sam, shop):
    conversation(shop, "a")
    few = list_queries(sam, "labels")
    for i in range(15):
        conversation(shop, f"label-{i}", "a")
    assert list_queries(sam, "labels") == few
