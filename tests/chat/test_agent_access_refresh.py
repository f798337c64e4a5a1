"""The agent socket caches the sites it may see, and a ping re-reads them: access that ends, ends there."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from chat.models import AgentProfile
from tests.conftest import (
    close_code,
    make_agent,
    make_site,
    make_visitor,
    new_client_id,
    open_agent,
    open_customer,
    receive_until,
    send_message,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_removed_from_a_site_the_socket_stops_hearing_it_after_a_ping(site, visitor):
    other = await database_sync_to_async(make_site)("Other")
    sam = await database_sync_to_async(make_agent)("sam", site, other)
    customer, _ = await open_customer(token_for(visitor))
    conversation_id = (await send_message(customer, "hello"))["conversation"]
    desk, welcome = await open_agent(sam)
    assert set(welcome["sites"]) == {site.pk, other.pk}
    await desk.send_json_to({"type": "subscribe", "conversation": conversation_id, "cursor": "0.0"})
    await receive_until(desk, "subscribed")

    await database_sync_to_async(lambda: AgentProfile.objects.get(user=sam).sites.remove(site))()
    await desk.send_json_to({"type": "ping"})
    pong, _ = await receive_until(desk, "pong")
    assert str(conversation_id) not in pong.get("heads", {})

    await send_message(customer, "are you there?")
    assert await desk.receive_nothing(timeout=0.3)  # neither the message nor the inbox update
    await desk.send_json_to(
        {
            "type": "message.send",
            "conversation": conversation_id,
            "client_id": new_client_id(),
            "body": "still here",
            "internal": True,
        }
    )
    error, _ = await receive_until(desk, "error")
    assert error["code"] == "not_found"
    await customer.disconnect()
    await desk.disconnect()


async def test_a_deactivated_agents_socket_closes_on_its_next_ping(site, agent):
    desk, _ = await open_agent(agent)
    await database_sync_to_async(lambda: get_user_model().objects.filter(pk=agent.pk).update(is_active=False))()
    await desk.send_json_to({"type": "ping"})
    assert await close_code(desk) == 4403


async def test_a_site_added_is_heard_after_a_ping(site):
    sam = await database_sync_to_async(make_agent)("sam", site)
    newer = await database_sync_to_async(make_site)("Newer")
    newer_visitor = await database_sync_to_async(make_visitor)(newer)
    desk, _ = await open_agent(sam)
    await database_sync_to_async(lambda: AgentProfile.objects.get(user=sam).sites.add(newer))()
    await desk.send_json_to({"type": "ping"})
    await receive_until(desk, "pong")
    customer, _ = await open_customer(token_for(newer_visitor))
    await send_message(customer, "hi")
    updated, _ = await receive_until(desk, "conversation.updated")
    assert updated["conversation"]["site"] == newer.pk
    await customer.disconnect()
    await desk.disconnect()
