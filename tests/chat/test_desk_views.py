"""The desk page and its JSON reads: who may see them, what each view lists, search, and the customer's details."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chat.models import AgentConnection, AgentProfile, CannedResponse, Conversation, Message
from chat.selectors.desk import user_agent_summary
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def conversation(site, visitor=None, *, owner="queue", status="open", assignee=None, minutes_ago=0, said=(), **fields):
    """A conversation with messages [(author_kind, body, internal)], created `minutes_ago`."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    visitor = visitor or make_visitor(site)
    conv = Conversation.objects.create(
        site=site,
        visitor=visitor,
        owner=owner,
        status=status,
        assignee=assignee,
        created_at=at,
        updated_at=at,
        queued_at=at if owner == "queue" else None,
        resolved_at=at if status == "resolved" else None,
        **fields,
    )
    for seq, (kind, body, *internal) in enumerate(said, start=1):
        Message.objects.create(
            conversation=conv,
            seq=seq,
            author_kind=kind,
            body=body,
            internal=bool(internal and internal[0]),
            created_at=at,
            updated_at=at,
            author_agent=assignee if kind == "agent" else None,
        )
        conv.last_seq = seq
        conv.last_message_at = at
    conv.save()
    return conv


@pytest.fixture
def shop():
    return make_site("Shop")


@pytest.fixture
def other_shop():
    return make_site("Other shop")


@pytest.fixture
def sam(shop):
    return make_agent("sam", shop)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user, path: str, **headers):
    return client_for(user).get(f"/agent/api/{path}", **headers)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["conversations"]]


# ---- the page ------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in():
    response = Client().get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/agent/")


def test_users_who_are_not_agents_get_403():
    user = get_user_model().objects.create_user("shopper", password="pw")
    assert client_for(user).get("/agent/").status_code == 403
    assert client_for(user).get("/agent/reports/").status_code == 403


def test_an_agent_gets_the_desk_with_their_sites_only(sam, shop, other_shop):
    response = client_for(sam).get("/agent/")
    assert response.status_code == 200
    html = response.content.decode()
    for hook in (
        'id="conversation-list"',
        'data-view="queue"',
        'id="queue-count"',
        'id="desk-transcript"',
        'id="desk-composer"',
        'id="note-toggle"',
        'id="take-over"',
        'id="presence"',
    ):
        assert hook in html
    boot = json.loads(html.split('id="desk-boot" type="application/json">')[1].split("</script>")[0])
    assert [s["name"] for s in boot["sites"]] == ["Shop"]
    assert boot["agent"]["id"] == sam.pk


def test_staff_see_every_site(shop, other_shop):
    admin = make_agent("ada", staff=True)
    boot = client_for(admin).get("/agent/").context["boot"]
    assert {s["name"] for s in boot["sites"]} == {"Shop", "Other shop"}


# ---- who may call the API ----------------------------------------------------------------


def test_api_answers_401_when_signed_out():
    response = api(None, "conversations?view=queue")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_api_answers_403_to_non_agents():
    user = get_user_model().objects.create_user("shopper", password="pw")
    assert api(user, "conversations?view=queue").status_code == 403


def test_api_refuses_cross_site_fetches(sam):
    assert api(sam, "conversations?view=queue", HTTP_SEC_FETCH_SITE="cross-site").status_code == 403
    assert api(sam, "conversations?view=queue", HTTP_SEC_FETCH_SITE="same-origin").status_code == 200


def test_api_is_read_only(sam):
    assert client_for(sam).post("/agent/api/conversations").status_code == 405


def test_an_agent_of_site_a_never_sees_site_b(sam, shop, other_shop):
    mine = conversation(shop)
    theirs = conversation(other_shop)
    assert ids(api(sam, "conversations?view=queue")) == [mine.pk]
    assert ids(api(sam, "conversations?view=open")) == [mine.pk]
    assert ids(api(sam, f"conversations?view=open&ids={mine.pk},{theirs.pk}")) == [mine.pk]


def test_foreign_and_missing_look_the_same(sam, other_shop):
    theirs = conversation(other_shop)
    foreign = api(sam, f"conversations/{theirs.pk}/customer")
    missing = api(sam, "conversations/999999/customer")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    foreign_site = api(sam, f"conversations?view=open&site={other_shop.pk}")
    missing_site = api(sam, "conversations?view=open&site=999999")
    assert foreign_site.status_code == missing_site.status_code == 404
    assert foreign_site.json() == missing_site.json()
    assert api(sam, f"agents?site={other_shop.pk}").json() == missing_site.json()


def test_bad_parameters_are_refused(sam):
    assert api(sam, "conversations?view=everything").status_code == 400
    assert api(sam, "conversations?view=open&ids=1,x").status_code == 400
    assert api(sam, "conversations?view=open&limit=1000").status_code == 400
    assert api(sam, "conversations?view=open&q=" + "x" * 101).status_code == 400


# ---- the views ---------------------------------------------------------------------------------


def test_queue_lists_who_waited_longest_first(sam, shop):
    newer = conversation(shop, minutes_ago=1)
    older = conversation(shop, minutes_ago=9)
    conversation(shop, owner="bot")
    conversation(shop, owner="queue", status="resolved")
    response = api(sam, "conversations?view=queue")
    assert ids(response) == [older.pk, newer.pk]
    assert response.json()["conversations"][0]["queued_at"]


def test_mine_open_and_resolved(sam, shop):
    kim = make_agent("kim", shop)
    mine = conversation(shop, owner="agent", assignee=sam, minutes_ago=2, said=[("customer", "hi")])
    theirs = conversation(shop, owner="agent", assignee=kim, minutes_ago=1, said=[("customer", "hello")])
    bot = conversation(shop, owner="bot", minutes_ago=3, said=[("customer", "hey")])
    done = conversation(shop, owner="agent", assignee=sam, status="resolved")
    assert ids(api(sam, "conversations?view=mine")) == [mine.pk]
    assert ids(api(sam, "conversations?view=open")) == [theirs.pk, mine.pk, bot.pk]  # latest message first
    assert ids(api(sam, "conversations?view=resolved")) == [done.pk]


def test_rows_carry_the_visitor_unread_count_and_last_message(sam, shop):
    visitor = make_visitor(shop, name="Cleo", email="cleo@example.com")
    conv = conversation(
        shop, visitor, said=[("customer", "My   parcel\nis late"), ("agent", "checking", True)], unread_by_agent=1
    )
    row = api(sam, "conversations?view=queue").json()["conversations"][0]
    assert row["id"] == conv.pk
    assert row["visitor"] == {
        "id": visitor.pk,
        "name": "Cleo",
        "email": "cleo@example.com",
        "verified": False,
        "email_confirmed": False,
    }
    assert row["unread"] == 1
    assert row["preview"] == {"author": "agent", "body": "checking", "internal": True}


def test_the_preview_is_what_was_said_not_a_system_line(sam, shop):
    conversation(
        shop, said=[("customer", "Where is my parcel?"), ("system", "Connecting you with a member of our team.")]
    )
    row = api(sam, "conversations?view=queue").json()["conversations"][0]
    assert row["preview"] == {"author": "customer", "body": "Where is my parcel?", "internal": False}


def test_a_bot_preview_drops_its_markdown(sam, shop):
    conversation(
        shop, said=[("customer", "shipping?"), ("bot", "Our **Shipping times** article: [read it](https://x.example)")]
    )
    row = api(sam, "conversations?view=queue").json()["conversations"][0]
    assert row["preview"]["body"] == "Our Shipping times article: read it"


def test_counts_per_view(sam, shop):
    conversation(shop)
    conversation(shop, owner="agent", assignee=sam, unread_by_agent=2)
    conversation(shop, owner="bot")
    counts = api(sam, "counts").json()["counts"]
    assert counts == {"queue": 1, "mine": 1, "open": 3, "mine_unread": 1}


def test_more_pages(sam, shop):
    for minutes in range(3):
        conversation(shop, minutes_ago=minutes)
    first = api(sam, "conversations?view=queue&limit=2").json()
    assert len(first["conversations"]) == 2 and first["more"] is True
    rest = api(sam, f"conversations?view=queue&limit=2&cursor={first['next']}").json()
    assert len(rest["conversations"]) == 1 and rest["more"] is False


def test_site_filter(shop):
    second = make_site("Second")
    agent = make_agent("both", shop, second)
    here = conversation(shop)
    there = conversation(second)
    assert set(ids(api(agent, "conversations?view=queue"))) == {here.pk, there.pk}
    assert ids(api(agent, f"conversations?view=queue&site={second.pk}")) == [there.pk]


# ---- search --------------------------------------------------------------------------------


def test_search_by_name_email_or_message_text(sam, shop):
    cleo = conversation(shop, make_visitor(shop, name="Cleo Martin"), said=[("customer", "hello")])
    noah = conversation(shop, make_visitor(shop, email="noah@example.org"), said=[("customer", "hi")])
    parcel = conversation(shop, said=[("customer", "Where is my PARCEL?")])
    noted = conversation(shop, said=[("customer", "hey"), ("agent", "refund approved by finance", True)])
    assert ids(api(sam, "conversations?view=open&q=cleo")) == [cleo.pk]
    assert ids(api(sam, "conversations?view=open&q=noah@example")) == [noah.pk]
    assert ids(api(sam, "conversations?view=open&q=parcel")) == [parcel.pk]
    assert ids(api(sam, "conversations?view=open&q=finance")) == [noted.pk]
    assert ids(api(sam, "conversations?view=open&q=nobody-says-this")) == []


def test_search_never_reaches_into_other_sites(sam, other_shop):
    conversation(other_shop, make_visitor(other_shop, name="Cleo"))
    assert ids(api(sam, "conversations?view=open&q=cleo")) == []


# ---- customer details, canned responses, colleagues -----------------------------------------


def test_customer_details_and_earlier_conversations(sam, shop):
    visitor = make_visitor(
        shop,
        name="Cleo",
        email="cleo@example.com",
        external_id="u-42",
        user_agent=CHROME_UA,
        last_page_url="https://shop.example/cart",
    )
    earlier = conversation(shop, visitor, status="resolved", minutes_ago=600, said=[("customer", "old question")])
    current = conversation(shop, visitor, said=[("customer", "new question")])
    data = api(sam, f"conversations/{current.pk}/customer").json()
    assert data["visitor"]["name"] == "Cleo" and data["visitor"]["verified"] is True
    assert data["visitor"]["page_url"] == "https://shop.example/cart"
    assert data["visitor"]["browser"] == "Chrome 124 on Windows"
    assert data["visitor"]["first_seen"] and data["visitor"]["last_seen"]
    assert [c["id"] for c in data["earlier"]] == [earlier.pk]
    assert data["earlier"][0]["preview"]["body"] == "old question"


def test_user_agent_summary():
    assert user_agent_summary(CHROME_UA) == "Chrome 124 on Windows"
    assert (
        user_agent_summary(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
        )
        == "Safari 17 on iOS"
    )
    assert (
        user_agent_summary("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")
        == "Firefox 125 on Linux"
    )
    assert user_agent_summary("") == ""


def test_canned_responses_of_my_sites_and_global_ones(sam, shop, other_shop):
    CannedResponse.objects.create(site=shop, shortcut="hello", text="Hi there!")
    CannedResponse.objects.create(site=None, shortcut="bye", text="Bye!")
    CannedResponse.objects.create(site=other_shop, shortcut="secret", text="Not for sam")
    canned = api(sam, "canned").json()["canned"]
    assert [c["shortcut"] for c in canned] == ["bye", "hello"]


def test_agents_to_assign_to_with_presence_and_load(sam, shop, other_shop):
    kim = make_agent("kim", shop)
    make_agent("stranger", other_shop)
    AgentConnection.objects.create(user=kim, channel_name="kim-tab")
    AgentProfile.objects.filter(user=kim).update(max_concurrent=3)
    conversation(shop, owner="agent", assignee=kim)
    agents = {a["name"]: a for a in api(sam, f"agents?site={shop.pk}").json()["agents"]}
    assert set(agents) == {"Sam", "Kim"}
    assert agents["Kim"]["status"] == "online" and agents["Kim"]["load"] == 1 and agents["Kim"]["max_concurrent"] == 3
    assert agents["Sam"]["status"] == "offline" and agents["Sam"]["me"] is True


# ---- the reports page ----------------------------------------------------------------------------


def test_reports_page_draws_its_charts(sam, shop):
    conversation(shop, owner="bot", status="resolved", said=[("customer", "hi"), ("bot", "hello")])
    answered = conversation(
        shop,
        owner="agent",
        assignee=sam,
        status="resolved",
        minutes_ago=30,
        said=[("customer", "hi"), ("agent", "hello")],
    )
    Conversation.objects.filter(pk=answered.pk).update(first_human_reply_at=answered.created_at + timedelta(minutes=3))
    today = timezone.localdate().isoformat()
    response = client_for(sam).get(f"/agent/reports/?start={today}&end={today}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="chart-volume"' in html and 'class="bar-bot"' in html and 'class="bar-human"' in html
    assert 'id="chart-bot-share"' in html and "50%" in html
    assert 'id="chart-response"' in html and 'class="point"' in html
    assert "3m" in html


def test_reports_ignore_a_foreign_site_filter(sam, other_shop):
    conversation(other_shop, owner="bot")
    response = client_for(sam).get(f"/agent/reports/?site={other_shop.pk}")
    assert response.status_code == 200 and response.context["report"].conversations == 0
