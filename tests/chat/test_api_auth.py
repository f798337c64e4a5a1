"""Who may call the public API: no token, a revoked token, a read-only token writing, another site's objects."""

import pytest

from chat.models import ApiToken, KnowledgeArticle
from chat.services.api_tokens import api_token_revoke
from tests.chat.api_support import Api, make_conversation, make_token
from tests.conftest import make_agent, make_site, make_visitor

pytestmark = pytest.mark.django_db

READS = ["sites", "conversations", "contacts", "articles", "reports"]


@pytest.fixture
def world(site, visitor, agent):
    """Our site with a conversation and an article; another site with the same, which our agent does not serve."""
    other_site = make_site("Other shop")
    other_visitor = make_visitor(other_site, name="Olga")
    return {
        "conversation": make_conversation(visitor),
        "article": KnowledgeArticle.objects.create(site=site, title="Returns", body="30 days."),
        "other_site": other_site,
        "other_visitor": other_visitor,
        "other_conversation": make_conversation(other_visitor),
        "other_article": KnowledgeArticle.objects.create(site=other_site, title="Returns", body="14 days."),
    }


def _object_paths(objects: dict) -> list[str]:
    return [
        f"sites/{objects['site'].pk}",
        f"conversations/{objects['conversation'].pk}",
        f"conversations/{objects['conversation'].pk}/messages",
        f"contacts/{objects['visitor'].pk}",
        f"articles/{objects['article'].pk}",
    ]


@pytest.mark.parametrize("path", READS)
def test_no_token_is_refused_with_401(world, path):
    status, body = Api().get(path)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer", "Bearer prl_nope", "Token abc", "Bearer prl_aaaaaaaaaa_" + "x" * 43])
def test_malformed_or_unknown_token_is_refused_with_401(world, header):
    response = Api().client.get("/api/v1/sites", headers={"authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", READS)
def test_revoked_token_is_refused_with_401(world, agent, path):
    raw = make_token(agent)
    assert Api(raw).get(path)[0] == 200
    api_token_revoke(token=ApiToken.objects.get(user=agent))
    status, body = Api(raw).get(path)
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_token_of_a_deactivated_agent_is_refused(world, agent):
    raw = make_token(agent)
    agent.is_active = False
    agent.save()
    assert Api(raw).get("sites")[0] == 401


def test_token_with_a_wrong_secret_is_refused(world, agent):
    raw = make_token(agent)
    tampered = raw[:-4] + ("aaaa" if not raw.endswith("aaaa") else "bbbb")
    assert Api(tampered).get("sites")[0] == 401


def test_only_the_hash_of_a_token_is_stored(world, agent):
    raw = make_token(agent)
    token = ApiToken.objects.get(user=agent)
    assert raw not in (token.secret_hash, token.prefix, token.name)
    assert raw.startswith(f"prl_{token.prefix}_")


def test_read_only_token_reads_but_every_write_is_refused_with_403(world, agent):
    api = Api(make_token(agent, scope=ApiToken.Scope.READ))
    conversation, article = world["conversation"], world["article"]
    for path in READS:
        assert api.get(path)[0] == 200, path
    writes = [
        ("post", f"conversations/{conversation.pk}/assign", {"agent": agent.pk}),
        ("post", f"conversations/{conversation.pk}/resolve", None),
        ("post", f"conversations/{conversation.pk}/reopen", None),
        ("post", f"conversations/{conversation.pk}/labels", {"label": "vip"}),
        ("delete", f"conversations/{conversation.pk}/labels/vip", None),
        (
            "post",
            f"conversations/{conversation.pk}/messages",
            {"client_id": "0b6f7f7e-33b1-4c43-9a0c-1f0e8d0b1a11", "body": "hi"},
        ),
        ("patch", f"contacts/{conversation.visitor_id}", {"name": "Cleo B"}),
        ("post", "articles", {"site": article.site_id, "title": "New", "body": "Text"}),
        ("patch", f"articles/{article.pk}", {"title": "Changed"}),
        ("delete", f"articles/{article.pk}", None),
    ]
    for method, path, body in writes:
        status, data, _ = api.call(method, path, body)
        assert status == 403, (method, path, status, data)
        assert data["error"]["code"] == "forbidden"
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.assignee_id is None
    assert conversation.messages.count() == 1 and not conversation.labels.exists()
    assert KnowledgeArticle.objects.filter(pk=article.pk, title="Returns").exists()


def test_another_sites_objects_answer_404_to_reads(world, agent):
    api = Api(make_token(agent))
    other = {
        "site": world["other_site"],
        "conversation": world["other_conversation"],
        "visitor": world["other_visitor"],
        "article": world["other_article"],
    }
    for path in _object_paths(other):
        status, body = api.get(path)
        assert status == 404, path
        assert body == {"error": {"code": "not_found", "detail": "No such object, or not on your sites."}}
    # Filtering by another site is as unknown as a site that does not exist.
    for path in ["conversations", "contacts", "articles", "reports"]:
        assert api.get(path, site=world["other_site"].pk)[0] == 404, path
    # Lists never show another site's objects.
    _, conversations = api.get("conversations")
    assert [row["id"] for row in conversations["results"]] == [world["conversation"].pk]


def test_another_sites_objects_answer_404_to_writes_and_stay_unchanged(world, agent):
    api = Api(make_token(agent))
    conversation, article = world["other_conversation"], world["other_article"]
    writes = [
        ("post", f"conversations/{conversation.pk}/assign", {"agent": agent.pk}),
        ("post", f"conversations/{conversation.pk}/resolve", None),
        ("post", f"conversations/{conversation.pk}/labels", {"label": "vip"}),
        ("delete", f"conversations/{conversation.pk}/labels/vip", None),
        (
            "post",
            f"conversations/{conversation.pk}/messages",
            {"client_id": "0b6f7f7e-33b1-4c43-9a0c-1f0e8d0b1a11", "body": "hi"},
        ),
        ("patch", f"contacts/{conversation.visitor_id}", {"name": "Mallory"}),
        ("patch", f"articles/{article.pk}", {"title": "Changed"}),
        ("delete", f"articles/{article.pk}", None),
    ]
    for method, path, body in writes:
        status, data, _ = api.call(method, path, body)
        assert status == 404, (method, path, status, data)
    status, data = api.post("articles", {"site": world["other_site"].pk, "title": "Mine now", "body": "x"})
    assert status == 400 and "site" in data["error"]["fields"]
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.messages.count() == 1
    assert world["other_visitor"].name == "Olga"
    assert KnowledgeArticle.objects.filter(site=world["other_site"]).count() == 1


def test_assigning_to_an_agent_of_another_site_answers_404(world, agent):
    outsider = make_agent("otto", world["other_site"])
    status, _ = Api(make_token(agent)).post(f"conversations/{world['conversation'].pk}/assign", {"agent": outsider.pk})
    assert status == 404
    world["conversation"].refresh_from_db()
    assert world["conversation"].assignee_id is None


def test_requests_over_the_tokens_budget_get_429_with_retry_after(world, agent, settings):
    settings.PARLEY_API_TOKEN_RATE = (3, 60)
    api = Api(make_token(agent))
    assert [api.get("sites")[0] for _ in range(3)] == [200, 200, 200]
    status, body, response = api.call("get", "sites")
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    # Another token of the same agent has its own budget.
    assert Api(make_token(agent, name="other")).get("sites")[0] == 200


def test_last_used_is_written_at_most_once_a_minute(world, agent):
    raw = make_token(agent)
    api = Api(raw)
    api.get("sites")
    first = ApiToken.objects.get(user=agent).last_used_at
    assert first is not None
    api.get("sites")
    assert ApiToken.objects.get(user=agent).last_used_at == first
