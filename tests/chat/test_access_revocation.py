"""Desk access that ends, ends at once: an open desk socket hears of it without waiting for a ping.

Removed from a site, the socket leaves that site's inbox and conversations; logged out, deactivated,
deleted, or no longer an agent, it closes with 4403. Sockets of another login of the same user stay.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import AsyncClient

from chat.models import AgentProfile
from tests.conftest import (
    DASHBOARD_ORIGIN,
    CheckedCommunicator,
    application,
    close_code,
    drain,
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


async def logged_in(user) -> AsyncClient:
    """A browser logged in as `user`: its own session, as the desk's tab would have."""
    client = AsyncClient()
    await client.aforce_login(user)
    return client


async def open_desk(client: AsyncClient):
    """Open /ws/agent/ with the client's session cookie; return (communicator, welcome)."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    headers = [(b"origin", DASHBOARD_ORIGIN.encode()), (b"host", b"testserver"), (b"cookie", cookie.encode())]
    desk = CheckedCommunicator(application(), "/ws/agent/", headers=headers)
    connected, _ = await desk.connect()
    assert connected
    welcome, _ = await receive_until(desk, "welcome")
    return desk, welcome


async def still_open(desk) -> None:
    """The socket still answers a ping."""
    await desk.send_json_to({"type": "ping"})
    await receive_until(desk, "pong")


def about_site(frame: dict, site_id: int, conversation_id: int | None = None) -> bool:
    """Whether a desk frame tells of the site: its inbox, its queue, or the conversation of it."""
    conversation = frame.get("conversation")
    if isinstance(conversation, dict):
        return conversation["site"] == site_id
    if frame["type"] == "queue":
        return frame["site"] == site_id
    return conversation is not None and conversation == conversation_id


async def heard_within(desk, seconds: float = 0.3) -> list[dict]:
    """Every frame the desk gets within `seconds`."""
    await asyncio.sleep(seconds)
    return await drain(desk)


async def test_removed_from_a_site_the_open_desk_stops_hearing_it_at_once_and_keeps_the_other_site(site, visitor):
    other = await database_sync_to_async(make_site)("Other")
    other_visitor = await database_sync_to_async(make_visitor)(other, name="Olga", email="olga@example.com")
    sam = await database_sync_to_async(make_agent)("sam", site, other)
    customer, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(customer, "my address is 1 Main St"))["conversation"]
    desk, welcome = await open_agent(sam)
    assert set(welcome["sites"]) == {site.pk, other.pk}
    await desk.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "0.0"})
    await receive_until(desk, "subscribed")

    await database_sync_to_async(lambda: AgentProfile.objects.get(user=sam).sites.remove(site))()
    # No ping: the next message of the lost site, with the customer's name, email and text, does not arrive...
    await send_message(customer, "and my card ends 4242")
    other_customer, _ = await open_customer(token_for(other_visitor))
    other_conversation = (await send_message(other_customer, "hello from the other shop"))["conversation"]
    # ...while the other site's inbox still does.
    updated, before = await receive_until(
        desk, lambda f: f["type"] == "conversation.updated" and f["conversation"]["id"] == other_conversation
    )
    assert updated["conversation"]["site"] == other.pk
    heard = before + await heard_within(desk)
    assert not [frame for frame in heard if about_site(frame, site.pk, conversation_id)], heard

    await desk.send_json_to({"type": "ping"})
    pong, _ = await receive_until(desk, "pong")
    assert str(conversation_id) not in pong.get("heads", {})
    for communicator in (customer, other_customer, desk):
        await communicator.disconnect()


async def test_a_site_cleared_from_the_sites_side_is_left_at_once(site, visitor):
    sam = await database_sync_to_async(make_agent)("sam", site)
    customer, _ = await open_customer(token_for(visitor))
    desk, _ = await open_agent(sam)

    await database_sync_to_async(lambda: site.agents.clear())()
    await send_message(customer, "anyone?")
    heard = await heard_within(desk)
    assert not [frame for frame in heard if about_site(frame, site.pk)], heard
    await still_open(desk)  # a profile without sites may still open the desk; it hears nothing
    await customer.disconnect()
    await desk.disconnect()


async def test_a_site_added_is_heard_at_once(site):
    sam = await database_sync_to_async(make_agent)("sam", site)
    newer = await database_sync_to_async(make_site)("Newer")
    newer_visitor = await database_sync_to_async(make_visitor)(newer)
    desk, _ = await open_agent(sam)

    await database_sync_to_async(lambda: AgentProfile.objects.get(user=sam).sites.add(newer))()
    customer, _ = await open_customer(token_for(newer_visitor))
    await send_message(customer, "hi")
    updated, _ = await receive_until(desk, "conversation.updated")
    assert updated["conversation"]["site"] == newer.pk
    await customer.disconnect()
    await desk.disconnect()


async def test_a_deactivated_agents_open_desk_closes_at_once(site, agent):
    desk, _ = await open_agent(agent)

    def deactivate():
        agent.is_active = False
        agent.save()

    await database_sync_to_async(deactivate)()
    assert await close_code(desk) == 4403


async def test_logging_out_closes_the_desk_of_that_login_at_once_and_not_another_logins(site, agent):
    laptop, phone = await logged_in(agent), await logged_in(agent)
    laptop_desk, _ = await open_desk(laptop)
    phone_desk, _ = await open_desk(phone)

    response = await laptop.post("/accounts/logout/")
    assert response.status_code == 200  # the "logged out" page
    assert await close_code(laptop_desk) == 4403
    await still_open(phone_desk)
    await phone_desk.disconnect()


async def test_a_desk_whose_login_was_ended_elsewhere_closes_on_its_next_ping(site, agent):
    desk, _ = await open_desk(await logged_in(agent))
    await database_sync_to_async(lambda: Session.objects.all().delete())()  # "log out everywhere", clearsessions
    await desk.send_json_to({"type": "ping"})
    assert await close_code(desk) == 4403


async def test_a_new_password_closes_the_desks_of_older_logins_at_once(site, agent):
    desk, _ = await open_agent(agent)

    def change_password():
        agent.set_password("a new one")
        agent.save()

    await database_sync_to_async(change_password)()
    assert await close_code(desk) == 4403


async def test_the_staff_flag_removed_closes_a_staff_desk_at_once(site):
    boss = await database_sync_to_async(make_agent)("boss", staff=True)  # staff without a profile
    desk, welcome = await open_agent(boss)
    assert welcome["sites"] == [site.pk]

    def demote():
        boss.is_staff = False
        boss.save()

    await database_sync_to_async(demote)()
    assert await close_code(desk) == 4403


async def test_a_deleted_agent_profile_closes_the_desk_at_once(site, agent):
    desk, _ = await open_agent(agent)
    await database_sync_to_async(lambda: AgentProfile.objects.filter(user=agent).delete())()
    assert await close_code(desk) == 4403


async def test_a_deleted_user_closes_the_desk_at_once(site, agent):
    desk, _ = await open_agent(agent)
    await database_sync_to_async(lambda: get_user_model().objects.filter(pk=agent.pk).delete())()
    assert await close_code(desk) == 4403


async def test_a_change_rolled_back_tells_no_desk(site, agent):
    desk, _ = await open_agent(agent)

    def deactivate_then_roll_back():
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            agent.is_active = False
            agent.save()
            raise RuntimeError("rolled back")

    await database_sync_to_async(deactivate_then_roll_back)()
    await still_open(desk)
    await desk.disconnect()
