"""The back office for ratings, labels and email settings: pages render for a superuser, filters select the right
conversations, labels are edited through the service and limited to the conversation's site; `manage.py transcript`
and the demo commands carry ratings and labels."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from chat.management.commands.seed_demo import LABELS
from chat.models import AgentProfile, Conversation, Label, Message, Site, Visitor
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db


def quiet() -> StringIO:
    return StringIO()


@pytest.fixture
def demo(client):
    call_command("seed_demo", "--open-all-hours", stdout=quiet())
    client.login(username="admin", password="parley-admin")
    return Site.objects.get(key="demo-shop")


def conversation(site, *, rating=None, comment="", labels=(), name="Cleo"):
    row = Conversation.objects.create(
        site=site,
        visitor=make_visitor(site, name=name),
        status="resolved",
        resolved_at=timezone.now(),
        rating=rating,
        rating_comment=comment,
        rated_at=timezone.now() if rating else None,
    )
    row.labels.set([Label.objects.get_or_create(site=site, name=label)[0] for label in labels])
    return row


def changelist_ids(client, **query) -> set[int]:
    response = client.get("/admin/chat/conversation/", query)
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())}


# ---- labels -------------------------------------------------------------------------------------------------------


def test_label_pages_render_with_counts_search_and_site_filter(client, demo):
    other = make_site("Other Shop")
    conversation(demo, labels=["refund", "vip"])
    conversation(demo, labels=["refund"])
    conversation(other, labels=["refund"])
    response = client.get("/admin/chat/label/")
    html = response.content.decode()
    assert response.status_code == 200
    refund = Label.objects.get(site=demo, name="refund")
    assert f'<a href="/admin/chat/conversation/?label={refund.pk}">2</a>' in html
    assert "#b42318" in html  # the refund label's colour swatch (seed_demo)
    assert client.get("/admin/chat/label/", {"q": "ref"}).status_code == 200
    filtered = client.get("/admin/chat/label/", {"site__id__exact": other.pk}).content.decode()
    assert filtered.count('name="_selected_action"') == 1
    change = client.get(f"/admin/chat/label/{refund.pk}/change/")
    assert change.status_code == 200 and 'name="color"' in change.content.decode()
    assert 'name="site"' not in change.content.decode()  # the site is fixed once created
    assert client.get("/admin/chat/label/add/").status_code == 200


def test_the_label_form_keeps_names_canonical_and_colours_hex(client, demo):
    response = client.post("/admin/chat/label/add/", {"site": demo.pk, "name": "  Big Refund ", "color": "#ABCDEF"})
    assert response.status_code == 302, response.content.decode()[:1000]
    assert Label.objects.filter(site=demo, name="big-refund", color="#abcdef").exists()
    bad = client.post("/admin/chat/label/add/", {"site": demo.pk, "name": "fine", "color": "red"})
    assert bad.status_code == 200 and "#rrggbb" in bad.content.decode()
    label = Label.objects.get(site=demo, name="big-refund")
    taken = client.post(f"/admin/chat/label/{label.pk}/change/", {"name": "refund", "color": ""})
    assert taken.status_code == 200 and "already has a label of that name" in taken.content.decode()
    label.refresh_from_db()
    assert label.name == "big-refund"


def test_renaming_or_deleting_a_label_tells_the_desks_of_its_open_conversations(client, demo, monkeypatch):
    from chat import admin as chat_admin

    told = []
    monkeypatch.setattr(chat_admin, "publish_conversation", lambda c, *, customer: told.append((c.pk, customer)))
    live = conversation(demo, labels=["refund"])
    Conversation.objects.filter(pk=live.pk).update(status="open", resolved_at=None)
    conversation(demo, labels=["refund"])  # resolved: not live in any desk
    refund = Label.objects.get(site=demo, name="refund")
    response = client.post(f"/admin/chat/label/{refund.pk}/change/", {"name": "refunds", "color": "#b42318"})
    assert response.status_code == 302 and told == [(live.pk, False)]
    told.clear()
    client.post(f"/admin/chat/label/{refund.pk}/change/", {"name": "refunds", "color": "#000000"})
    assert told == []  # a new colour changes no conversation's labels
    response = client.post(f"/admin/chat/label/{refund.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Label.objects.filter(pk=refund.pk).exists()
    assert told == [(live.pk, False)] and not live.labels.exists()
    told.clear()
    live.labels.add(Label.objects.get(site=demo, name="vip"), Label.objects.get(site=demo, name="bug"))
    chosen = list(Label.objects.filter(site=demo, name__in=["vip", "bug"]).values_list("pk", flat=True))
    client.post("/admin/chat/label/", {"action": "delete_selected", "_selected_action": chosen, "post": "yes"})
    assert told == [(live.pk, False)] and not live.labels.exists()  # told once, however many of its labels went


# ---- conversations: rating, comment, labels ---------------------------------------------------------------------


def test_conversation_list_shows_ratings_and_labels_and_filters_by_them(client, demo):
    other = make_site("Other Shop")
    happy = conversation(demo, rating=5, labels=["vip", "refund"])
    fine = conversation(demo, rating=4, labels=["refund"])
    angry = conversation(demo, rating=1, labels=["bug"])
    silent = conversation(demo)
    elsewhere = conversation(other, rating=5, labels=["refund"])
    html = client.get("/admin/chat/conversation/").content.decode()
    assert "5 😄" in html and "1 😞" in html and "refund, vip" in html
    refund = Label.objects.get(site=demo, name="refund")
    assert changelist_ids(client, label=refund.pk) == {happy.pk, fine.pk}
    assert changelist_ids(client, rating="5") == {happy.pk, elsewhere.pk}
    assert changelist_ids(client, rating="satisfied") == {happy.pk, fine.pk, elsewhere.pk}
    assert changelist_ids(client, rating="unsatisfied") == {angry.pk}
    assert silent.pk in changelist_ids(client, rating="none") and happy.pk not in changelist_ids(client, rating="none")
    assert changelist_ids(client, label=refund.pk, rating="4") == {fine.pk}
    assert changelist_ids(client, q="vip") == {happy.pk}
    # With labels on two sites, the filter names each label's site.
    assert f"refund · {demo.name}" in html and f"refund · {other.name}" in html


def test_conversation_page_shows_rating_comment_and_only_its_sites_labels(client, demo):
    other = make_site("Other Shop")
    Label.objects.create(site=other, name="other-shops-label")
    row = conversation(demo, rating=2, comment="Took <three> days", labels=["bug"])
    html = client.get(f"/admin/chat/conversation/{row.pk}/change/").content.decode()
    assert "2 🙁" in html and "Took &lt;three&gt; days" in html
    assert 'name="labels"' in html and "other-shops-label" not in html
    options = re.findall(r'<option value="(\d+)"', html.split('name="labels"', 1)[1].split("</select>", 1)[0])
    assert set(map(int, options)) == set(Label.objects.filter(site=demo).values_list("pk", flat=True))
    assert 'name="rating"' not in html and 'name="rating_comment"' not in html  # the customer's words, read-only


def test_labels_saved_in_the_admin_go_through_the_service(client, demo, monkeypatch):
    from chat import admin as chat_admin

    calls = []
    for name in ("conversation_label_add", "conversation_label_remove"):
        real = getattr(chat_admin, name)
        monkeypatch.setattr(
            chat_admin, name, lambda *, _real=real, _name=name, **kw: calls.append((_name, kw["name"])) or _real(**kw)
        )
    row = conversation(demo, rating=3, labels=["bug", "vip"])
    refund = Label.objects.get(site=demo, name="refund")
    bug = Label.objects.get(site=demo, name="bug")
    Message.objects.create(conversation=row, seq=1, author_kind="customer", body="hi")
    before = Conversation.objects.filter(pk=row.pk).values().get()
    # What a browser sends back: the page's hidden fields (the read-only transcript's ids) and the chosen labels.
    page = client.get(f"/admin/chat/conversation/{row.pk}/change/").content.decode()
    data = dict(re.findall(r'<input type="hidden" name="((?:messages|attachments)-[^"]+)" value="([^"]*)"', page))
    assert data["messages-TOTAL_FORMS"] == "1"
    response = client.post(f"/admin/chat/conversation/{row.pk}/change/", {**data, "labels": [bug.pk, refund.pk]})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert sorted(row.labels.values_list("name", flat=True)) == ["bug", "refund"]
    assert sorted(calls) == [("conversation_label_add", "refund"), ("conversation_label_remove", "vip")]
    assert Conversation.objects.filter(pk=row.pk).values().get() == before  # the row itself is not written back


NO_FILES = {"attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0"}


def test_a_label_of_another_site_cannot_be_put_on_a_conversation(client, demo):
    other = make_site("Other Shop")
    foreign = Label.objects.create(site=other, name="foreign")
    row = conversation(demo)
    data = {"labels": [foreign.pk], "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0", **NO_FILES}
    response = client.post(f"/admin/chat/conversation/{row.pk}/change/", data)
    assert response.status_code == 200  # the form refuses the choice
    assert not row.labels.exists()


# ---- visitors and agents: email settings -------------------------------------------------------------------------


def test_visitor_admin_shows_the_email_confirmation_and_opt_out(client, demo):
    confirmed = Visitor.objects.create(
        site=demo, name="Cleo", email="cleo@example.com", email_confirmed_at=timezone.now()
    )
    Visitor.objects.create(site=demo, name="Noah", email="noah@example.com", email_opt_out=True)
    html = client.get("/admin/chat/visitor/").content.decode()
    assert "Email confirmed" in html and "Email opt out" in html
    assert client.get("/admin/chat/visitor/", {"email_opt_out__exact": "1"}).content.decode().count("noah@") >= 1
    page = client.get(f"/admin/chat/visitor/{confirmed.pk}/change/").content.decode()
    assert 'name="email_opt_out"' in page and "Email confirmed at" in page
    assert 'name="email_confirmed_at"' not in page  # set by the customer's signed link only


def test_agent_admin_shows_email_when_offline(client, demo):
    profile = AgentProfile.objects.get(user__username="agent")
    assert "Email when offline" in client.get("/admin/chat/agentprofile/").content.decode()
    assert 'name="email_when_offline"' in client.get(f"/admin/chat/agentprofile/{profile.pk}/change/").content.decode()


# ---- transcript and demo data -----------------------------------------------------------------------------------


def test_transcript_command_prints_rating_and_labels(demo):
    row = conversation(demo, rating=4, comment="Quick, thanks", labels=["vip", "billing"])
    out = quiet()
    call_command("transcript", str(row.pk), "--json", stdout=out)
    header = json.loads(out.getvalue())["conversation"]
    assert header["labels"] == ["billing", "vip"]
    assert header["rating"]["score"] == 4 and header["rating"]["comment"] == "Quick, thanks"
    assert header["rating"]["rated_at"] == row.rated_at.isoformat()
    text = quiet()
    call_command("transcript", str(row.pk), stdout=text)
    assert text.getvalue().splitlines()[-2:] == ["rated 4/5: Quick, thanks", "labels: billing, vip"]
    unrated = quiet()
    call_command("transcript", str(conversation(demo).pk), "--json", stdout=unrated)
    assert json.loads(unrated.getvalue())["conversation"]["rating"] is None


def test_seed_demo_adds_missing_labels_and_never_overwrites(demo):
    assert sorted(Label.objects.filter(site=demo).values_list("name", "color")) == sorted(LABELS)
    Label.objects.filter(site=demo, name="vip").update(color="#000000")
    Label.objects.filter(site=demo, name="bug").delete()
    Label.objects.create(site=demo, name="own-label")
    call_command("seed_demo", "--open-all-hours", stdout=quiet())
    labels = dict(Label.objects.filter(site=demo).values_list("name", "color"))
    assert labels["vip"] == "#000000" and "bug" in labels and "own-label" in labels
    assert len(labels) == len(LABELS) + 1


def test_seed_reports_demo_rates_and_labels_its_conversations(demo):
    call_command("seed_reports_demo", "--days", "7", "--per-day", "10", stdout=quiet())
    rated = Conversation.objects.filter(site=demo, rating__isnull=False)
    assert rated.count() >= 10 and not rated.exclude(status="resolved").exists()
    scores = list(rated.values_list("rating", flat=True))
    assert sum(score >= 4 for score in scores) > len(scores) / 2 and min(scores) <= 2
    assert rated.exclude(rating_comment="").exists() and not rated.filter(rated_at__isnull=True).exists()
    used = set(Label.objects.filter(site=demo, conversations__isnull=False).values_list("name", flat=True))
    assert {"refund", "shipping"} <= used
    assert get_user_model().objects.filter(username="agent").exists()


def test_seed_reports_demo_gives_the_same_ratings_for_a_seed(demo):
    call_command("seed_reports_demo", "--days", "3", "--per-day", "6", "--seed", "3", stdout=quiet())
    first = list(Conversation.objects.order_by("pk").values_list("created_at", "rating"))
    Conversation.objects.all().delete()
    call_command("seed_reports_demo", "--days", "3", "--per-day", "6", "--seed", "3", stdout=quiet())
    again = list(Conversation.objects.order_by("pk").values_list("created_at", "rating"))
    assert [r for _c, r in first] == [r for _c, r in again] and len(first) == len(again)


def test_an_agent_is_not_let_into_the_label_admin(client, demo):
    make_agent("desk-only", demo)
    client.logout()
    client.login(username="desk-only", password="pw")
    assert client.get("/admin/chat/label/").status_code == 302  # to the admin's login
