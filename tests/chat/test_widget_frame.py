"""The widget iframe page and its public status: framing policy, language, host origin, availability."""

import json
import re

import pytest
from django.contrib.auth import get_user_model

from chat.models import AgentConnection, AgentProfile, Site
from chat.views.widget_frame import frame_ancestors, widget_language

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
CLOSED_ALL_WEEK = {str(day): [] for day in range(7)}


@pytest.fixture
def shop():
    return Site.objects.create(name="Shop", key="shop", allowed_origins=[SHOP, "http://localhost:3000"])


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="parley-config" type="application/json">') + len(
        '<script id="parley-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_frame_may_be_embedded_by_the_sites_origins_only(client, shop):
    response = client.get("/widget/shop/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert policy.startswith("frame-ancestors https://shop.example http://localhost:3000 'self';")
    assert "X-Frame-Options" not in response  # exempt: CSP decides, per site
    assert "script-src 'self'" in policy and "connect-src 'self' ws://testserver" in policy


def test_unknown_site_is_404(client, shop):
    assert client.get("/widget/nope/").status_code == 404


def test_an_origin_that_could_inject_a_directive_is_left_out():
    site = Site(allowed_origins=["https://ok.example", "https://bad.example; script-src *", 42, "javascript:x"])
    assert frame_ancestors(site) == "https://ok.example 'self'"


def test_host_origin_is_passed_to_the_script_only_when_allowed(client, shop):
    allowed = config_of(client.get("/widget/shop/", {"origin": SHOP, "page": f"{SHOP}/cart?x=1"}))
    assert allowed["parent_origin"] == SHOP and allowed["page_url"] == f"{SHOP}/cart?x=1"
    refused = config_of(client.get("/widget/shop/", {"origin": "https://evil.example", "page": "javascript:alert(1)"}))
    assert refused["parent_origin"] == "" and refused["page_url"] == ""


def test_config_never_carries_the_identity_secret(client, shop):
    shop.identity_secret = "very-secret"
    shop.save()
    response = client.get("/widget/shop/")
    assert b"very-secret" not in response.content


@pytest.mark.parametrize(
    ("site_language", "accept", "expected"),
    [
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("", "zh-TW", "zh-hans"),
        ("", "en-GB,en;q=0.9", "en"),
        ("", "fr-FR,zh;q=0.5", "en"),
        ("", "", "en"),
        ("zh-hans", "en-US", "zh-hans"),
        ("en", "zh-CN", "en"),
        ("de", "zh-CN", "zh-hans"),  # a site language we do not ship falls back to the browser's
    ],
)
def test_widget_language(site_language, accept, expected):
    assert widget_language(site_language, accept) == expected


def test_frame_speaks_chinese_to_a_chinese_browser(client, shop):
    response = client.get("/widget/shop/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html and "转人工客服" in html and "输入消息…" in html
    english = client.get("/widget/shop/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "hidden" in re.search(r'<div id="away"[^>]*>', english).group(0)  # open all week: no away notice
    assert "Talk to a human" in english and "转人工客服" not in english


def test_the_default_greeting_speaks_the_widgets_language_and_a_sites_own_is_shown_as_written(client, shop):
    chinese = client.get("/widget/shop/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "您好！有什么可以帮您？" in chinese and "Hi! How can we help?" not in chinese
    shop.greeting = "Welcome to Ana's Books!"
    shop.save()
    own = client.get("/widget/shop/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Welcome to Ana&#x27;s Books!" in own


def test_away_message_shows_outside_business_hours(client, shop):
    shop.business_hours = CLOSED_ALL_WEEK
    shop.away_message = "Back Monday at nine."
    shop.save()
    response = client.get("/widget/shop/")
    assert config_of(response)["open"] is False
    html = response.content.decode()
    assert "hidden" not in re.search(r'<div id="away"[^>]*>', html).group(0)
    assert "Back Monday at nine." in html


def test_pre_chat_form_is_there_when_the_site_asks_for_contact(client, shop):
    shop.ask_contact = True
    shop.save()
    response = client.get("/widget/shop/")
    assert config_of(response)["ask_contact"] is True
    assert b'id="prechat"' in response.content and b'type="email"' in response.content


def test_status_says_whether_an_agent_is_online(client, shop):
    assert client.get("/api/widget/shop/status").json() == {"open": True, "agents_online": False}
    agent = get_user_model().objects.create_user(username="sam", password="pw")
    AgentProfile.objects.create(user=agent).sites.add(shop)
    AgentConnection.objects.create(user=agent, channel_name="specific.test!1")
    assert client.get("/api/widget/shop/status").json() == {"open": True, "agents_online": True}
    AgentProfile.objects.filter(user=agent).update(status="away")
    assert client.get("/api/widget/shop/status").json()["agents_online"] is False
    assert client.get("/api/widget/nope/status").status_code == 404


def test_session_answer_includes_availability(client, shop):
    shop.business_hours = CLOSED_ALL_WEEK
    shop.save()
    response = client.post("/api/widget/shop/session", data="{}", content_type="application/json", HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert response.json()["availability"] == {"open": False, "agents_online": False}


def test_demo_page_embeds_the_widget_with_the_admin_snippet(client):
    from django.core.management import call_command

    call_command("seed_demo", "--open-all-hours", stdout=open("/dev/null", "w"))
    html = client.get("/").content.decode()
    assert '<script src="http://testserver/static/widget/loader.js" data-site="demo-shop" async></script>' in html
    assert 'href="/admin/"' in html and 'href="/agent/"' in html
