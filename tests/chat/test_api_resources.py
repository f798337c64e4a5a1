"""The public API's resources through the desk's services: what they answer and what they change."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Conversation, KnowledgeArticle, Label, Message, Site
from tests.chat.api_support import Api, make_conversation, make_token
from tests.conftest import make_agent, make_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(agent):
    return Api(make_token(agent))


def test_sites_lists_the_agents_sites(api, site):
    status, body = api.get("sites")
    assert status == 200 and [row["id"] for row in body] == [site.pk]
    assert api.get(f"sites/{site.pk}")[1]["name"] == site.name


def test_conversations_filter_by_status_owner_assignee_label_and_updated_since(api, site, visitor, agent):
    old = make_conversation(visitor, updated_at=timezone.now() - timedelta(days=3))
    mine = make_conversation(make_visitor(site, name="Bo"), owner="agent", assignee=agent)
    done = make_conversation(make_visitor(site, name="Di"), status="resolved")
    mine.labels.add(Label.objects.create(site=site, name="vip"))

    def ids(**params):
        status, body = api.get("conversations", **params)
        assert status == 200, body
        return {row["id"] for row in body["results"]}

    assert ids() == {old.pk, mine.pk, done.pk}
    assert ids(status="resolved") == {done.pk}
    assert ids(owner="agent") == {mine.pk}
    assert ids(assignee="me") == {mine.pk} == ids(assignee=str(agent.pk))
    assert ids(assignee="none") == {old.pk, done.pk}
    assert ids(label="VIP") == {mine.pk}
    assert ids(updated_since=(timezone.now() - timedelta(days=1)).isoformat()) == {mine.pk, done.pk}
    for bad in [{"status": "closed"}, {"assignee": "someone"}, {"updated_since": "yesterday"}]:
        status, body = api.get("conversations", **bad)
        assert status in (400, 404) and body["error"]["code"] in ("bad_request", "not_found"), bad


def test_conversations_page_by_cursor_without_gaps_or_repeats(api, site):
    created = {make_conversation(make_visitor(site, name=f"v{i}")).pk for i in range(7)}
    seen, params = [], {"limit": "3"}
    while True:
        status, body = api.get("conversations", **params)
        assert status == 200
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            break
        params = {"limit": "3", "cursor": body["next"].split("cursor=")[1].split("&")[0]}
    assert len(seen) == len(set(seen)) and set(seen) == created


def test_assign_resolve_reopen_and_labels_go_through_the_services(api, visitor, agent):
    conversation = make_conversation(visitor)
    status, body = api.post(f"conversations/{conversation.pk}/assign", {"agent": agent.pk})
    assert status == 200 and body["assignee"]["id"] == agent.pk and body["owner"] == "agent"
    status, body = api.post(f"conversations/{conversation.pk}/labels", {"label": "Refund Request"})
    assert status == 200 and body["labels"] == ["refund-request"]
    status, body = api.delete(f"conversations/{conversation.pk}/labels/refund-request")
    assert status == 200 and body["labels"] == []
    assert Label.objects.filter(site=visitor.site, name="refund-request").exists()  # the site keeps its label
    status, body = api.post(f"conversations/{conversation.pk}/resolve")
    assert status == 200 and body["status"] == "resolved" and body["resolved_at"]
    status, body = api.post(f"conversations/{conversation.pk}/reopen")
    assert status == 200 and body["status"] == "open" and body["owner"] == "agent"
    status, body = api.post(f"conversations/{conversation.pk}/assign", {"agent": None})
    assert status == 200 and body["assignee"] is None and body["owner"] == "queue"


def test_bad_bodies_get_400_and_change_nothing(api, visitor):
    conversation = make_conversation(visitor)
    for path, body in [
        ("assign", {"agent": "sam"}),
        ("assign", {}),
        ("labels", {"label": ""}),
        ("labels", {"label": "x" * 41}),
        ("labels", {"label": "a\u0000b"}),
        ("messages", {"client_id": "not-a-uuid", "body": "hi"}),
        ("messages", {"client_id": str(uuid.uuid4()), "body": "   "}),
        ("messages", {"client_id": str(uuid.uuid4()), "body": "bell \u0007"}),
        ("messages", {"client_id": str(uuid.uuid4()), "body": "x" * 5000}),
        ("messages", {"client_id": str(uuid.uuid4()), "body": "hi", "attachments": [1, 1]}),
    ]:
        status, data = api.post(f"conversations/{conversation.pk}/{path}", body)
        assert status == 400, (path, body, data)
        assert set(data["error"]) >= {"code", "detail"}
    response = api.client.post(
        f"/api/v1/conversations/{conversation.pk}/messages",
        "{nope",
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    for raw in ["[" * 5000 + "]" * 5000, '{"body": "' + "x" * 70_000 + '"}', '{"client_id": NaN}']:
        response = api.client.post(
            f"/api/v1/conversations/{conversation.pk}/messages",
            raw,
            content_type="application/json",
            headers=api.headers,
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    conversation.refresh_from_db()
    assert conversation.messages.count() == 1 and conversation.assignee_id is None and not conversation.labels.exists()


def test_send_is_idempotent_by_client_id_and_takes_the_conversation_over(api, visitor, agent):
    conversation = make_conversation(visitor, owner="queue")
    client_id = str(uuid.uuid4())
    status, first = api.post(
        f"conversations/{conversation.pk}/messages", {"client_id": client_id, "body": " Hi there "}
    )
    assert status == 201
    assert first["body"] == "Hi there" and first["author"]["agent"]["id"] == agent.pk
    status, again = api.post(f"conversations/{conversation.pk}/messages", {"client_id": client_id, "body": "Hi there"})
    assert status == 200 and again == first
    assert Message.objects.filter(conversation=conversation, client_id=client_id).count() == 1
    conversation.refresh_from_db()
    assert conversation.owner == "agent" and conversation.assignee_id == agent.pk
    assert conversation.first_human_reply_at is not None


def test_a_note_stays_internal_and_leaves_the_owner_alone(api, visitor):
    conversation = make_conversation(visitor, owner="queue")
    status, note = api.post(
        f"conversations/{conversation.pk}/messages", {"client_id": str(uuid.uuid4()), "body": "VIP", "internal": True}
    )
    assert status == 201 and note["internal"] is True
    conversation.refresh_from_db()
    assert conversation.owner == "queue" and conversation.last_public_seq == 1


def test_messages_read_from_a_seq_in_pages(api, visitor, agent):
    conversation = make_conversation(visitor, owner="agent", assignee=agent)
    for n in range(4):
        api.post(f"conversations/{conversation.pk}/messages", {"client_id": str(uuid.uuid4()), "body": f"m{n}"})
    status, page = api.get(f"conversations/{conversation.pk}/messages", after="1", limit="2")
    assert status == 200 and [m["body"] for m in page["results"]] == ["m0", "m1"] and page["next_after"] == 3
    status, page = api.get(f"conversations/{conversation.pk}/messages", after="3")
    assert [m["seq"] for m in page["results"]] == [4, 5] and page["next_after"] is None


def test_contacts_read_and_update_name_email_and_attributes(api, visitor):
    status, body = api.get("contacts", email="CLEO@example.com")
    assert status == 200 and [row["id"] for row in body["results"]] == [visitor.pk]
    status, body = api.patch(
        f"contacts/{visitor.pk}",
        {"name": "Cleo B", "email": "cleo@b.example", "attributes": {"plan": "pro", "seats": 3}},
    )
    assert status == 200, body
    assert body["name"] == "Cleo B" and body["email"] == "cleo@b.example" and body["email_confirmed"] is False
    assert body["attributes"] == {"plan": "pro", "seats": 3}
    status, body = api.patch(f"contacts/{visitor.pk}", {"attributes": {"seats": None}})
    assert body["attributes"] == {"plan": "pro"}
    for bad in [{"email": "nope"}, {"attributes": {"x": {"nested": 1}}}, {"attributes": []}, {"name": "a\nb"}]:
        status, data = api.patch(f"contacts/{visitor.pk}", bad)
        assert status == 400, (bad, data)


def test_articles_crud_marks_the_bots_index_stale(api, site):
    version = Site.objects.get(pk=site.pk).kb_version
    status, article = api.post(
        "articles", {"site": site.pk, "title": "Shipping", "body": "Two days.", "language": "en"}
    )
    assert status == 201, article
    assert Site.objects.get(pk=site.pk).kb_version > version
    status, duplicate = api.post("articles", {"site": site.pk, "title": "Shipping", "body": "Again"})
    assert status == 400 and duplicate["error"]["code"] == "bad_request"
    status, changed = api.patch(f"articles/{article['id']}", {"body": "Three days.", "published": False})
    assert status == 200 and changed["body"] == "Three days." and changed["published"] is False
    assert [row["title"] for row in api.get("articles")[1]["results"]] == ["Shipping"]
    assert api.delete(f"articles/{article['id']}")[0] == 204
    assert not KnowledgeArticle.objects.filter(pk=article["id"]).exists()


def test_reports_answer_the_report_pages_numbers(api, visitor):
    make_conversation(visitor)
    today = timezone.now().date()
    status, report = api.get("reports", start=str(today - timedelta(days=6)), end=str(today))
    assert status == 200
    assert report["conversations"] == 1 and len(report["days"]) == 7
    assert api.get("reports", start="not-a-date")[0] == 400


def test_staff_token_sees_every_site(site, visitor):
    boss = make_agent("boss", staff=True)
    status, body = Api(make_token(boss)).get("sites")
    assert status == 200 and [row["id"] for row in body] == list(
        Site.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert Conversation.objects.count() == 0


def test_paths_that_name_nothing_answer_the_error_shape(api):
    for path in ["nothing", "conversations/abc", "conversations/%0A/messages", "sites/-1"]:
        response = api.client.get(f"/api/v1/{path}", headers=api.headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
