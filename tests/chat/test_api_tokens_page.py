"""Tokens made and revoked by agents in the desk's settings, and by staff in the admin."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import ApiToken
from tests.chat.api_support import Api
from tests.conftest import make_agent

pytestmark = pytest.mark.django_db

PAGE = "/agent/settings/api-tokens"
TOKEN = re.compile(r"prl_[a-z0-9]{10}_[A-Za-z0-9_-]+")


@pytest.fixture
def desk(agent):
    client = Client()
    client.force_login(agent)
    return client


def test_a_new_token_is_shown_once_and_works(desk, agent):
    response = desk.post(PAGE, {"name": "CRM sync", "scope": "write"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = TOKEN.search(response.content.decode()).group(0)
    token = ApiToken.objects.get(user=agent)
    assert (token.name, token.scope) == ("CRM sync", "write")
    assert Api(raw).get("sites")[0] == 200
    listed = desk.get(PAGE).content.decode()
    assert "CRM sync" in listed and f"prl_{token.prefix}_" in listed and raw not in listed


def test_revoking_stops_the_token_at_once(desk, agent):
    raw = TOKEN.search(desk.post(PAGE, {"name": "Script", "scope": "read"}).content.decode()).group(0)
    token = ApiToken.objects.get(user=agent)
    response = desk.post(f"{PAGE}/{token.pk}/revoke")
    assert response.status_code == 302 and response["Location"] == PAGE
    assert Api(raw).get("sites")[0] == 401
    assert "Revoked" in desk.get(PAGE).content.decode()


def test_an_agent_cannot_revoke_another_agents_token(desk, site):
    colleague = make_agent("kim", site)
    other = Client()
    other.force_login(colleague)
    other.post(PAGE, {"name": "Kim's", "scope": "read"})
    token = ApiToken.objects.get(user=colleague)
    assert desk.post(f"{PAGE}/{token.pk}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "Kim&#x27;s" not in desk.get(PAGE).content.decode()


def test_a_bad_form_stores_nothing(desk):
    for data in [{"name": "", "scope": "read"}, {"name": "x", "scope": "admin"}, {"name": "y" * 81, "scope": "read"}]:
        assert desk.post(PAGE, data).status_code == 400
    assert not ApiToken.objects.exists()


def test_signed_out_users_go_to_sign_in_and_non_agents_are_refused(site):
    response = Client().get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    customer = get_user_model().objects.create_user(username="visitor", password="pw")
    client = Client()
    client.force_login(customer)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "x", "scope": "write"}).status_code == 403


def test_the_admin_makes_a_token_shows_it_once_and_revokes_it(admin_client, agent):
    response = admin_client.post(
        "/admin/chat/apitoken/add/", {"user": agent.pk, "name": "Export", "scope": "read"}, follow=True
    )
    assert response.status_code == 200
    raw = TOKEN.search(response.content.decode()).group(0)
    token = ApiToken.objects.get(user=agent)
    assert Api(raw).get("sites")[0] == 200
    assert raw not in admin_client.get(f"/admin/chat/apitoken/{token.pk}/change/").content.decode()
    admin_client.post("/admin/chat/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert Api(raw).get("sites")[0] == 401
