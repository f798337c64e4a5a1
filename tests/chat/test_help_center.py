"""The public help center: a site's published articles, escaped, in the reader's language, and nobody else's."""

import pytest
from django.urls import reverse

from chat.models import KnowledgeArticle, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return Site.objects.create(name="Demo Shop", key="help-shop")


@pytest.fixture
def other_site():
    return Site.objects.create(name="Other Shop", key="other-shop")


def article(site, title, body="Body.", language="en", published=True):
    return KnowledgeArticle.objects.create(site=site, title=title, body=body, language=language, published=published)


def index_url(site):
    return reverse("help-index", kwargs={"site_key": site.key})


def article_url(item, site=None):
    return reverse("help-article", kwargs={"site_key": (site or item.site).key, "article_id": item.pk})


def test_urls_are_the_ones_the_bot_links_to(site):
    item = article(site, "Shipping costs")
    assert index_url(site) == "/help/help-shop/"
    assert article_url(item) == f"/help/help-shop/{item.pk}/"


def test_index_lists_only_the_sites_published_articles(client, site, other_site):
    shown = article(site, "Shipping costs")
    hidden = article(site, "Draft about refunds", published=False)
    elsewhere = article(other_site, "Their warranty")
    response = client.get(index_url(site))
    content = response.content.decode()
    assert response.status_code == 200
    assert f'href="{article_url(shown)}"' in content and "Shipping costs" in content
    assert "Draft about refunds" not in content and article_url(hidden) not in content
    assert "Their warranty" not in content and elsewhere.title not in content


def test_index_of_a_site_without_articles_says_so(client, site):
    response = client.get(index_url(site))
    assert "No articles have been published yet." in response.content.decode()


def test_article_page_shows_title_body_site_back_link_and_date(client, site):
    body = "Orders ship the same day.\n\nExpress takes 1 to 2 days.\nStandard 3 to 5."
    item = article(site, "Shipping times", body=body)
    response = client.get(article_url(item))
    content = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Shipping times</h1>" in content and "Demo Shop" in content
    assert "<p>Orders ship the same day.</p>" in content
    assert "<p>Express takes 1 to 2 days.<br>Standard 3 to 5.</p>" in content
    assert f'href="{index_url(site)}"' in content and "Back to all articles" in content
    assert f"Updated {item.updated_at:%b}" in content


def test_article_body_and_title_are_shown_as_text(client, site):
    item = article(site, "<b>Bold</b> title", body='<script>alert("x")</script> and <img src=x onerror=alert(1)>')
    content = client.get(article_url(item)).content.decode()
    assert "<script>alert" not in content and "<img src=x" not in content and "<b>Bold</b>" not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in content
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in content


def test_pages_allow_no_script_and_no_framing(client, site):
    item = article(site, "Shipping costs")
    response = client.get(article_url(item))
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert response["X-Frame-Options"] == "DENY"
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in response.content.decode()


def test_unpublished_article_is_not_found(client, site):
    item = article(site, "Draft", published=False)
    assert client.get(article_url(item)).status_code == 404


def test_article_of_another_site_is_not_found_under_this_site(client, site, other_site):
    item = article(other_site, "Their warranty")
    assert client.get(article_url(item, site=site)).status_code == 404
    assert client.get(article_url(item)).status_code == 200


def test_unknown_site_or_article_is_not_found(client, site):
    item = article(site, "Shipping costs")
    assert client.get("/help/no-such-site/").status_code == 404
    assert client.get(f"/help/no-such-site/{item.pk}/").status_code == 404
    assert client.get(f"/help/{site.key}/{item.pk + 1000}/").status_code == 404


def test_english_article_has_english_chrome(client, site):
    item = article(site, "Shipping costs")
    response = client.get(article_url(item), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    content = response.content.decode()
    assert '<html lang="en">' in content and response["Content-Language"] == "en"
    assert "Back to all articles" in content and "Help center" in content and "返回全部文章" not in content


def test_chinese_article_has_chinese_chrome(client, site):
    item = article(site, "配送时间", body="下午两点前下单当天发货。", language="zh-hans")
    response = client.get(article_url(item))
    content = response.content.decode()
    assert '<html lang="zh-hans">' in content and response["Content-Language"] == "zh-hans"
    assert "返回全部文章" in content and "帮助中心" in content and "更新于" in content
    assert "Back to all articles" not in content


def test_lang_parameter_overrides_the_articles_language(client, site):
    item = article(site, "Shipping costs")
    content = client.get(article_url(item), {"lang": "zh-hans"}).content.decode()
    assert '<html lang="zh-hans">' in content and "返回全部文章" in content
    assert f'href="{index_url(site)}?lang=zh-hans"' in content  # the reader's choice follows the links
    assert '<article class="article" lang="en">' in content  # the text itself is still English


def test_index_in_chinese_by_parameter_site_or_browser(client, site):
    assert "暂时还没有发布任何文章。" in client.get(index_url(site), {"lang": "zh-hans"}).content.decode()
    assert "暂时还没有发布任何文章。" in client.get(index_url(site), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    response = client.get(index_url(site), HTTP_ACCEPT_LANGUAGE="en-US")
    assert "No articles have been published yet." in response.content.decode()
    assert "Accept-Language" in response["Vary"]
    site.language = "zh-hans"
    site.save()
    assert "帮助中心" in client.get(index_url(site), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()


def test_index_lists_the_pages_language_first(client, site):
    article(site, "Shipping costs")
    article(site, "配送时间", language="zh-hans")
    content = client.get(index_url(site), {"lang": "zh-hans"}).content.decode()
    assert content.index("配送时间") < content.index("其他语言的文章") < content.index("Shipping costs")
    content = client.get(index_url(site), {"lang": "en"}).content.decode()
    assert content.index("Shipping costs") < content.index("In other languages") < content.index("配送时间")
