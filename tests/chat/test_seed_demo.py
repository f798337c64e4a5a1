"""`make run` runs seed_demo on every start: it creates what is missing and keeps what a manager changed."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from chat.management.commands.seed_demo import ARTICLES, CANNED, DEMO_AGENT, DEMO_HOURS, DEMO_TIME_ZONE
from chat.models import CannedResponse, KnowledgeArticle, Site

pytestmark = pytest.mark.django_db


def seed(*args: str) -> None:
    call_command("seed_demo", *args, stdout=StringIO())


def test_running_it_again_keeps_an_edited_and_an_unpublished_article_a_canned_reply_and_a_password():
    seed()
    site = Site.objects.get(key="demo-shop")
    edited, hidden = (KnowledgeArticle.objects.get(site=site, title=title) for title, _, _ in ARTICLES[:2])
    edited.body = "Our own wording."
    edited.save()
    hidden.published = False
    hidden.save()
    shortcut = CANNED[0][0]
    CannedResponse.objects.filter(site=site, shortcut=shortcut).update(text="Team text")
    KnowledgeArticle.objects.filter(site=site, title=ARTICLES[2][0]).delete()
    agent = get_user_model().objects.get(username=DEMO_AGENT[0])
    agent.set_password("a-new-secret-1")
    agent.save()

    seed()
    assert KnowledgeArticle.objects.get(pk=edited.pk).body == "Our own wording."
    assert KnowledgeArticle.objects.get(pk=hidden.pk).published is False
    assert CannedResponse.objects.get(site=site, shortcut=shortcut).text == "Team text"
    assert KnowledgeArticle.objects.filter(site=site, title=ARTICLES[2][0]).exists()  # a missing one comes back
    assert authenticate(username=DEMO_AGENT[0], password="a-new-secret-1") is not None
    assert authenticate(username=DEMO_AGENT[0], password=DEMO_AGENT[1]) is None

    seed("--reset")
    assert KnowledgeArticle.objects.get(pk=edited.pk).body == ARTICLES[0][2]
    assert KnowledgeArticle.objects.get(pk=hidden.pk).published is True
    assert CannedResponse.objects.get(site=site, shortcut=shortcut).text == CANNED[0][1]
    assert authenticate(username=DEMO_AGENT[0], password=DEMO_AGENT[1]) is not None
    assert KnowledgeArticle.objects.filter(site=site).count() == len(ARTICLES)


def test_the_sites_admin_page_shows_where_the_snippet_goes(admin_client):
    seed()
    site = Site.objects.get(key="demo-shop")
    html = admin_client.get(f"/admin/chat/site/{site.pk}/change/").content.decode()
    assert "Paste this before &lt;/body&gt; on every page" in html


def test_the_demo_gets_a_shops_business_hours_that_a_manager_may_change_and_tests_may_leave_out():
    seed()
    site = Site.objects.get(key="demo-shop")
    assert site.business_hours == DEMO_HOURS and site.time_zone == DEMO_TIME_ZONE
    site.business_hours = {"0": [["09:00", "17:00"]]}
    site.save()
    seed()
    assert Site.objects.get(pk=site.pk).business_hours == {"0": [["09:00", "17:00"]]}  # the manager's week stays
    seed("--reset")
    assert Site.objects.get(pk=site.pk).business_hours == DEMO_HOURS
    seed("--open-all-hours")
    assert Site.objects.get(pk=site.pk).business_hours == {}  # open around the clock
