"""The back office: every page renders, the snippet is on the site page, articles publish in bulk."""

import pytest
from django.core.management import call_command

from chat.models import Conversation, KnowledgeArticle, Site, Visitor
from chat.services.conversations import agent_message_send, customer_message_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(client):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    client.login(username="admin", password="parley-admin")
    return Site.objects.get(key="demo-shop")


def test_seed_demo_is_idempotent(demo):
    counts = (Site.objects.count(), KnowledgeArticle.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert (Site.objects.count(), KnowledgeArticle.objects.count()) == counts
    assert KnowledgeArticle.objects.filter(language="zh-hans").count() >= 3
    assert "http://127.0.0.1:8000" in demo.allowed_origins


@pytest.mark.parametrize("model", ["site", "visitor", "conversation", "message", "agentprofile", "cannedresponse",
                                   "knowledgearticle"])
def test_changelists_render_with_search(client, demo, model):
    response = client.get(f"/admin/chat/{model}/", {"q": "ship"})
    assert response.status_code == 200


def test_site_page_shows_the_embed_snippet(client, demo):
    response = client.get(f"/admin/chat/site/{demo.pk}/change/")
    content = response.content.decode()
    assert 'data-site=&quot;demo-shop&quot;' in content and "/static/widget/loader.js" in content  # shown as text
    assert "demo-identity-secret" in content  # visible to admins only, inside the collapsed form field


def test_conversation_page_shows_the_transcript_read_only(client, demo):
    from django.contrib.auth import get_user_model

    visitor = Visitor.objects.create(site=demo, name="Cleo")
    sent = customer_message_send(visitor=visitor, client_id="6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", body="Where is it?")
    conversation = Conversation.objects.get(pk=sent.message.conversation_id)
    agent_message_send(agent=get_user_model().objects.get(username="agent"), conversation=conversation,
                       client_id="6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f61", body="note to self", internal=True)
    response = client.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    content = response.content.decode()
    assert "Where is it?" in content and "note to self" in content
    assert 'name="messages-0-body"' not in content  # no editable inputs for the transcript


def test_bulk_publish_and_unpublish(client, demo):
    ids = list(KnowledgeArticle.objects.values_list("pk", flat=True)[:3])
    client.post("/admin/chat/knowledgearticle/", {"action": "unpublish", "_selected_action": ids})
    assert KnowledgeArticle.objects.filter(pk__in=ids, published=False).count() == 3
    client.post("/admin/chat/knowledgearticle/", {"action": "publish", "_selected_action": ids})
    assert KnowledgeArticle.objects.filter(pk__in=ids, published=True).count() == 3


def test_home_page_says_what_is_there(client, demo):
    response = client.get("/")
    assert response.status_code == 200 and b"/admin/" in response.content
