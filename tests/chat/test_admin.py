"""The back office: every page renders, the snippet and bot settings are on the site page, articles publish in bulk,
the add-article form takes a prefill and articles link to their help-center page."""

import json
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.urls import reverse

from chat.models import Conversation, KnowledgeArticle, Message, Site, Visitor
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


@pytest.mark.parametrize(
    "model", ["site", "visitor", "conversation", "message", "agentprofile", "cannedresponse", "knowledgearticle"]
)
def test_changelists_render_with_search(client, demo, model):
    response = client.get(f"/admin/chat/{model}/", {"q": "ship"})
    assert response.status_code == 200


def test_site_page_shows_the_embed_snippet(client, demo):
    response = client.get(f"/admin/chat/site/{demo.pk}/change/")
    content = response.content.decode()
    assert "data-site=&quot;demo-shop&quot;" in content and "/static/widget/loader.js" in content  # shown as text
    assert "demo-identity-secret" in content  # visible to admins only, inside the collapsed form field


def test_conversation_page_shows_the_transcript_read_only(client, demo):
    from django.contrib.auth import get_user_model

    visitor = Visitor.objects.create(site=demo, name="Cleo")
    sent = customer_message_send(visitor=visitor, client_id="6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60", body="Where is it?")
    conversation = Conversation.objects.get(pk=sent.message.conversation_id)
    agent_message_send(
        agent=get_user_model().objects.get(username="agent"),
        conversation=conversation,
        client_id="6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f61",
        body="note to self",
        internal=True,
    )
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


def test_site_page_has_the_bot_settings(client, demo):
    content = client.get(f"/admin/chat/site/{demo.pk}/change/").content.decode()
    assert 'name="bot_handoff_after"' in content and 'name="bot_answers_in_queue"' in content
    assert 'href="/help/demo-shop/"' in content  # the site's help center


def test_site_bot_settings_are_saved(client, demo):
    data = {
        **{key: value for key, value in model_to_dict(demo).items() if value is not None},
        "allowed_origins": json.dumps(demo.allowed_origins),
        "business_hours": "{}",
        "bot_handoff_after": 0,
    }
    del data["bot_answers_in_queue"]  # an unchecked box is left out of a browser's form
    response = client.post(f"/admin/chat/site/{demo.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    demo.refresh_from_db()
    assert demo.bot_handoff_after == 0 and demo.bot_answers_in_queue is False


def test_add_article_form_is_prefilled_from_the_query(client, demo):
    other = Site.objects.create(name="Other Shop")
    query = urlencode({"site": demo.pk, "title": "Do you ship to <Mars>?", "language": "zh-hans"})
    response = client.get(reverse("admin:chat_knowledgearticle_add") + "?" + query)
    content = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{demo.pk}" selected>' in content and f'<option value="{other.pk}">' in content
    assert 'value="Do you ship to &lt;Mars&gt;?"' in content
    assert '<option value="zh-hans" selected>' in content


def test_article_pages_link_to_the_help_center(client, demo):
    article = KnowledgeArticle.objects.filter(site=demo).first()
    url = f"/help/demo-shop/{article.pk}/"
    assert f'href="{url}"' in client.get(f"/admin/chat/knowledgearticle/{article.pk}/change/").content.decode()
    assert f'href="{url}"' in client.get("/admin/chat/knowledgearticle/").content.decode()
    assert client.get(url).status_code == 200
    article.published = False
    article.save()
    assert f'href="{url}"' not in client.get(f"/admin/chat/knowledgearticle/{article.pk}/change/").content.decode()


def test_transcript_shows_the_bots_outcome_and_feedback(client, demo):
    visitor = Visitor.objects.create(site=demo, name="Cleo")
    sent = customer_message_send(visitor=visitor, client_id="6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f70", body="Ship times?")
    conversation = Conversation.objects.get(pk=sent.message.conversation_id)
    Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq + 10,
        author_kind="bot",
        body="Orders ship the same day.",
        outcome="answered",
        feedback=-1,
    )
    content = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "Outcome" in content and "Answered" in content and "👎" in content
