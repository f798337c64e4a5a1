"""The desk and its reports in Simplified Chinese, for an agent whose profile says so, in real Chromium."""

from __future__ import annotations

import pytest

from tests.browser.desk_drivers import TIMEOUT_MS, Customer, Desk, save_screenshot

pytestmark = pytest.mark.browser


def choose_language_in_admin(browser, base_url: str, agent_name: str, language: str) -> None:
    """An administrator sets the agent's desk language on their profile in the back office."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base_url + "/admin/login/?next=/admin/chat/agentprofile/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "parley-admin")
    page.click("input[type=submit], button[type=submit]")
    page.locator("#result_list a", has_text=agent_name).first.click()
    page.select_option("#id_language", language)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    context.close()


@pytest.fixture(scope="module")
def desk(parley_server, browser):
    choose_language_in_admin(browser, parley_server.url, "Sam", "zh-hans")
    desk = Desk(browser, parley_server.url)
    yield desk
    assert desk.errors == []  # no uncaught error in the desk's scripts
    desk.close()


@pytest.fixture
def customer(parley_server, browser):
    customer = Customer(browser, parley_server.url)
    yield customer
    customer.close()


def test_the_queue_the_conversation_and_the_composer_speak_chinese(desk, customer, artifacts):
    page = desk.page
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.text_content(".list-head h1") == "对话"
    assert page.text_content("[data-view=queue]").startswith("队列")
    assert page.get_attribute("#search", "placeholder") == "搜索姓名、邮箱或消息"

    customer.ask_for_human()
    conversation = customer.conversation_id()
    row = desk.row(conversation)
    row.wait_for()
    assert row.locator(".chip").text_content().startswith("已等待")

    desk.open(conversation)
    assert page.text_content("#conv-chip").startswith("已等待")
    assert page.text_content("#conv-banner") == "客户请求了人工客服，正在队列中等待。"
    assert page.text_content("#desk-transcript .day-sep") == "今天"
    assert page.get_attribute("#desk-composer", "placeholder").startswith("回复客户")
    assert page.text_content("#send") == "发送"
    page.click("#note-toggle")
    assert page.text_content("#send") == "添加备注"
    assert page.get_attribute("#desk-composer", "placeholder") == "写一条内部备注，客户永远看不到"
    page.click("#reply-mode")

    answer = desk.send("您好，我来帮您查一下。")
    assert customer.wait_for("agent", "我来帮您") == answer
    assert desk.item("agent", "我来帮您").locator(".who").text_content() == "我"
    page.wait_for_selector("#details-pane .details-section h3")
    assert page.text_content("#details-pane .details-section h3") == "访问"
    save_screenshot(page, artifacts, "desk-zh.png")


def test_the_reports_speak_chinese(parley_server, desk):
    page = desk.context.new_page()
    page.goto(parley_server.url + "/agent/reports/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.text_content(".reports-head h1") == "报表"
    assert page.text_content("#kpi-conversations .kpi-label") == "对话"
    assert page.text_content("#satisfaction-title") == "客户满意度"
    assert "年" in page.text_content(".reports-head p")  # the period's dates, written the Chinese way
    page.close()


def test_the_agent_switches_the_desk_back_to_english_from_the_rail(desk):
    page = desk.page
    page.goto(page.url.split("#")[0])
    assert page.get_attribute("#language-switch", "aria-label") == "English"
    page.click("#language-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.text_content(".list-head h1") == "Conversations"
    assert page.get_attribute("#language-switch", "aria-label") == "简体中文"
    page.wait_for_selector("#presence[data-status=online]")  # the reloaded desk connected again
