"""The landing page renders in a real browser."""

import pytest

pytestmark = pytest.mark.browser


def test_home_page_renders(parley_server, browser, artifacts):
    page = browser.new_page()
    page.goto(parley_server.url + "/")
    assert page.title()
    page.screenshot(path=str(artifacts / "home.png"))
    page.close()
