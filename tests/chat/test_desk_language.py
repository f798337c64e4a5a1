"""The desk's language: the agent's profile, else the browser's; other pages keep their own."""

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from chat.models import AgentProfile
from tests.conftest import make_agent, make_site

pytestmark = pytest.mark.django_db

CHINESE_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.5"}
ENGLISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


def agent_speaking(language: str):
    user = make_agent("mei", make_site("Shop"))
    AgentProfile.objects.filter(user=user).update(language=language)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_chinese_agent_gets_the_desk_in_chinese_whatever_the_browser_says():
    response = client_for(agent_speaking("zh-hans")).get("/agent/", **ENGLISH_BROWSER)
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>对话</h1>" in html
    assert "全部进行中" in html
    assert response["Content-Language"] == "zh-hans"


def test_an_english_profile_wins_over_a_chinese_browser():
    html = client_for(agent_speaking("en")).get("/agent/", **CHINESE_BROWSER).content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Conversations</h1>" in html


def test_an_empty_profile_follows_accept_language():
    client = client_for(agent_speaking(""))
    chinese = client.get("/agent/", **CHINESE_BROWSER)
    english = client.get("/agent/", **ENGLISH_BROWSER)
    assert "<h1>对话</h1>" in chinese.content.decode()
    assert "<h1>Conversations</h1>" in english.content.decode()
    assert "Accept-Language" in chinese["Vary"]


def test_without_accept_language_the_desk_is_english():
    html = client_for(agent_speaking("")).get("/agent/").content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Conversations</h1>" in html


def test_the_reports_speak_the_agents_language():
    html = client_for(agent_speaking("zh-hans")).get("/agent/reports/", **ENGLISH_BROWSER).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>报表</h1>" in html
    assert "客户满意度" in html
    assert "1 分钟内" in html and "非常满意" in html  # response-time buckets and score words, drawn on the server


def test_chart_days_and_durations_are_written_in_the_active_language():
    from datetime import date

    from django.utils import translation

    from chat.views.desk_reports import axis_day, human_duration, tooltip_day

    day = date(2026, 11, 30)
    with translation.override("zh-hans"):
        assert (axis_day(day), human_duration(200), human_duration(90000)) == ("11月30日", "3分20秒", "1天1小时")
        assert tooltip_day(day).startswith("11月30日 ")
    with translation.override("en"):
        assert (axis_day(day), tooltip_day(day), human_duration(200)) == ("Nov 30", "Mon Nov 30", "3m 20s")


def test_the_sign_in_page_follows_the_browser():
    assert "登录客服台" in Client().get("/accounts/login/", **CHINESE_BROWSER).content.decode()
    assert "Sign in to the desk" in Client().get("/accounts/login/", **ENGLISH_BROWSER).content.decode()


def test_pages_outside_the_desk_keep_the_default_language():
    response = Client().get("/admin/login/", **CHINESE_BROWSER)
    assert "Content-Language" not in response
    assert "Log in" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # the view's thread and the test's must see the same rows
async def test_the_async_stack_applies_the_agents_language_too():
    user = await sync_to_async(agent_speaking)("zh-hans")
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get("/agent/", headers={"Accept-Language": "en"})
    assert "<h1>对话</h1>" in response.content.decode()


def test_an_agent_switches_the_desk_to_chinese_and_returns_where_they_were():
    user = agent_speaking("")
    client = client_for(user)
    response = client.post("/agent/language", {"language": "zh-hans", "next": "/agent/reports/?site=1"})
    assert response.status_code == 302 and response["Location"] == "/agent/reports/?site=1"
    assert AgentProfile.objects.get(user=user).language == "zh-hans"
    assert "<h1>对话</h1>" in client.get("/agent/", **ENGLISH_BROWSER).content.decode()


def test_the_desk_offers_the_other_language():
    chinese = client_for(agent_speaking("zh-hans")).get("/agent/").content.decode()
    assert 'name="language" value="en"' in chinese
    AgentProfile.objects.update(language="en")
    english = client_for(AgentProfile.objects.get().user).get("/agent/").content.decode()
    assert 'name="language" value="zh-hans"' in english


def test_an_unknown_language_or_a_foreign_next_is_refused():
    user = agent_speaking("en")
    client = client_for(user)
    assert client.post("/agent/language", {"language": "fr"}).status_code == 400
    assert AgentProfile.objects.get(user=user).language == "en"
    response = client.post("/agent/language", {"language": "", "next": "https://evil.example/"})
    assert response["Location"] == "/agent/"
    assert AgentProfile.objects.get(user=user).language == ""


def test_only_signed_in_agents_may_choose_a_language():
    assert Client().post("/agent/language", {"language": "zh-hans"}).status_code == 302  # to the sign-in page
    assert client_for(agent_speaking("en")).get("/agent/language").status_code == 405


def test_the_desks_json_reads_are_left_alone():
    response = client_for(agent_speaking("zh-hans")).get("/agent/api/counts", **CHINESE_BROWSER)
    assert response.status_code == 200
    assert "Content-Language" not in response
