"""Who may do what: origins, tokens, identities and other people's conversations."""

import json

import pytest
from channels.db import database_sync_to_async
from django.core import signing
from django.test import Client

from chat.models import Conversation, Message, Visitor
from chat.security import tokens
from chat.services.visitors import identity_hash
from tests.conftest import (
    SHOP_ORIGIN,
    close_code,
    make_agent,
    make_site,
    make_visitor,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def session_call(site, body=None, origin=SHOP_ORIGIN):
    client = Client()
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        f"/api/widget/{site.key}/session", data=json.dumps(body or {}), content_type="application/json", **headers
    )


# --- the session call ---------------------------------------------------------


def test_session_from_a_registered_origin_returns_a_token(site):
    response = session_call(site, {"name": "Cleo", "page_url": "https://shop.example/cart"})
    assert response.status_code == 200
    data = response.json()
    claim = tokens.visitor_token_read(data["visitor_token"])
    assert claim.site_id == site.pk
    assert data["site"]["name"] == "Shop" and "identity_secret" not in data["site"]
    assert Visitor.objects.get(pk=claim.visitor_id).last_page_url == "https://shop.example/cart"


def test_session_from_an_unregistered_origin_is_refused_and_stores_nothing(site):
    before = Visitor.objects.count()
    response = session_call(site, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert session_call(site, origin=None).status_code == 403
    assert Visitor.objects.count() == before


def test_session_resumes_the_same_visitor_with_its_token(site):
    first = session_call(site).json()
    second = session_call(site, {"token": first["visitor_token"]}).json()
    assert second["visitor"]["id"] == first["visitor"]["id"]


def test_token_of_another_site_resumes_nothing(site):
    other = make_site("Other")
    foreign = session_call(other).json()["visitor_token"]
    mine = session_call(site, {"token": foreign}).json()
    assert mine["visitor"]["id"] != tokens.visitor_token_read(foreign).visitor_id


def test_verified_identity_with_the_right_hash(site):
    data = session_call(site, {"user_id": "u-42", "user_hash": identity_hash(secret="s3cret", user_id="u-42")}).json()
    assert data["visitor"]["verified"] is True
    again = session_call(site, {"user_id": "u-42", "user_hash": identity_hash(secret="s3cret", user_id="u-42")}).json()
    assert again["visitor"]["id"] == data["visitor"]["id"]


def test_wrong_identity_hash_gets_no_history_of_that_user(site):
    owner = make_visitor(site, external_id="u-42")
    response = session_call(site, {"user_id": "u-42", "user_hash": "0" * 64})
    assert response.status_code == 403 and response.json()["error"]["code"] == "identity_rejected"
    assert Visitor.objects.filter(external_id="u-42").get().pk == owner.pk
    assert Visitor.objects.count() == 1


def test_bad_session_bodies_get_clear_errors_and_store_nothing(site):
    client = Client()
    url = f"/api/widget/{site.key}/session"
    cases = [
        b"{not json",
        b"[1,2]",
        json.dumps({"name": 5}).encode(),
        json.dumps({"email": "nope"}).encode(),
        json.dumps({"page_url": "javascript:alert(1)"}).encode(),
        b"x" * 70000,
    ]
    for body in cases:
        response = client.post(url, data=body, content_type="application/json", HTTP_ORIGIN=SHOP_ORIGIN)
        assert response.status_code in (400, 413), body[:30]
        assert response.json()["error"]["code"]
    assert Visitor.objects.count() == 0
    assert client.get(url, HTTP_ORIGIN=SHOP_ORIGIN).status_code == 405
    assert client.post("/api/widget/nope/session", HTTP_ORIGIN=SHOP_ORIGIN).status_code == 404


# --- the customer socket ------------------------------------------------------


async def test_forged_token_is_closed_with_4401(visitor):
    forged = token_for(visitor)[:-3] + "abc"
    communicator, _ = await open_customer(forged, expect_welcome=False)
    assert await close_code(communicator) == 4401


async def test_token_signed_with_another_key_is_closed_with_4401(visitor):
    forged = signing.dumps({"v": visitor.pk, "s": visitor.site_id}, key="not-our-key", salt=tokens.VISITOR_SALT)
    communicator, _ = await open_customer(forged, expect_welcome=False)
    assert await close_code(communicator) == 4401


async def test_expired_token_is_closed_with_4401(visitor, settings):
    token = token_for(visitor)
    settings.PARLEY_VISITOR_TOKEN_MAX_AGE = -1  # every token is now older than allowed
    communicator, _ = await open_customer(token, expect_welcome=False)
    assert await close_code(communicator) == 4401


async def test_token_naming_another_site_is_closed_with_4401(visitor):
    other = await database_sync_to_async(make_site)("Other")
    mismatched = tokens.visitor_token_issue(visitor_id=visitor.pk, site_id=other.pk)
    communicator, _ = await open_customer(mismatched, expect_welcome=False)
    assert await close_code(communicator) == 4401


async def test_customer_socket_from_a_foreign_origin_is_closed_with_4403(visitor):
    communicator, _ = await open_customer(token_for(visitor), origin="https://evil.example", expect_welcome=False)
    assert await close_code(communicator) == 4403


async def test_visitor_cannot_stop_another_visitors_reply(visitor, site):
    stranger = await database_sync_to_async(make_visitor)(site)
    theirs, _ = await open_customer(token_for(stranger))
    ack = await send_message(theirs, "hello")
    reply = await database_sync_to_async(_bot_message)(ack["conversation"])
    mine, _ = await open_customer(token_for(visitor))
    await mine.send_json_to({"type": "reply.stop", "reply_id": reply.pk})
    error, _ = await receive_until(mine, "error")
    assert error["code"] == "not_found"
    assert (await database_sync_to_async(Message.objects.get)(pk=reply.pk)).status == "streaming"
    await mine.disconnect()
    await theirs.disconnect()


def _bot_message(conversation_id):
    from django.db import transaction

    from chat.services.messages import BOT, conversation_lock, message_insert

    with transaction.atomic():
        conversation = conversation_lock(conversation_id)
        return message_insert(conversation=conversation, author=BOT, body="", status="streaming")


# --- the agent socket ---------------------------------------------------------


async def test_agent_socket_from_a_cross_site_origin_is_closed_with_4403(agent):
    communicator, _ = await open_agent(agent, origin="https://evil.example", expect_welcome=False)
    assert await close_code(communicator) == 4403


async def test_logged_in_non_agent_is_closed_with_4403(transactional_db):
    from django.contrib.auth import get_user_model

    customer_account = await database_sync_to_async(get_user_model().objects.create_user)("shopper", password="pw")
    communicator, _ = await open_agent(customer_account, expect_welcome=False)
    assert await close_code(communicator) == 4403


async def test_agent_of_site_a_cannot_act_on_site_b(agent):
    site_b = await database_sync_to_async(make_site)("Site B")
    visitor_b = await database_sync_to_async(make_visitor)(site_b)
    customer, _ = await open_customer(token_for(visitor_b))
    ack = await send_message(customer, "hello from B")
    conversation_b = ack["conversation"]
    desk, _ = await open_agent(agent)
    attempts = [
        {"type": "subscribe", "conversation": conversation_b, "cursor": "0.0"},
        {
            "type": "message.send",
            "conversation": conversation_b,
            "client_id": "6f1c7f5e-4a7e-4a8e-9d1c-1b2c3d4e5f60",
            "body": "hi",
        },
        {"type": "conversation.assign", "conversation": conversation_b, "agent": agent.pk},
        {"type": "conversation.resolve", "conversation": conversation_b},
        {"type": "bot.pause", "conversation": conversation_b},
        {"type": "read", "conversation": conversation_b, "seq": 1},
        {"type": "typing", "conversation": conversation_b, "active": True},
    ]
    for frame in attempts:
        await desk.send_json_to(frame)
        error, _ = await receive_until(desk, "error")
        assert error["code"] == "not_found", frame
    missing = {"type": "conversation.resolve", "conversation": 999999}
    await desk.send_json_to(missing)
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "not_found"  # "not yours" and "does not exist" look the same
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=conversation_b)
    assert conversation.status == "open" and conversation.assignee_id is None and conversation.last_seq == 1
    await customer.disconnect()
    await desk.disconnect()


async def test_cannot_assign_to_an_agent_of_another_site(visitor, agent):
    site_b = await database_sync_to_async(make_site)("Site B")
    outsider = await database_sync_to_async(make_agent)("outsider", site_b)
    customer, _ = await open_customer(token_for(visitor))
    ack = await send_message(customer, "hello")
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "conversation.assign", "conversation": ack["conversation"], "agent": outsider.pk})
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "not_found"
    await customer.disconnect()
    await desk.disconnect()


async def test_agent_of_another_site_cannot_stop_a_reply(agent):
    site_b = await database_sync_to_async(make_site)("Site B")
    visitor_b = await database_sync_to_async(make_visitor)(site_b)
    customer, _ = await open_customer(token_for(visitor_b))
    ack = await send_message(customer, "hello from B")
    reply = await database_sync_to_async(_bot_message)(ack["conversation"])
    desk, _ = await open_agent(agent)
    await desk.send_json_to({"type": "reply.stop", "reply_id": reply.pk})
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "not_found"
    assert (await database_sync_to_async(Message.objects.get)(pk=reply.pk)).status == "streaming"
    await customer.disconnect()
    await desk.disconnect()
