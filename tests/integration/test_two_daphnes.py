"""Two real Daphne processes on the real Redis layer: customer on one, agent on the other."""

import pytest

from tests.integration.clients import agent_socket, customer_socket, login_cookie, visitor_token
from tests.integration.conftest import SHOP_ORIGIN
from tests.integration.processes import start_daphne

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_daphnes(cluster_env):
    first, first_port = start_daphne(cluster_env, "daphne-1")
    second, second_port = start_daphne(cluster_env, "daphne-2")
    yield first_port, second_port
    first.stop()
    second.stop()


async def test_conversation_both_ways_across_processes_with_presence(two_daphnes):
    customer_port, agent_port = two_daphnes
    token = await visitor_token(f"http://127.0.0.1:{customer_port}", SHOP_ORIGIN)
    agent_cookie = await login_cookie(f"http://127.0.0.1:{agent_port}", "agent", "parley-agent")
    admin_cookie = await login_cookie(f"http://127.0.0.1:{customer_port}", "admin", "parley-admin")

    observer, _ = await agent_socket(customer_port, admin_cookie)  # the admin watches from process one
    desk, welcome = await agent_socket(agent_port, agent_cookie)
    agent_id = welcome["agent"]["id"]
    online = await observer.until(lambda f: f["type"] == "presence" and f["agent"]["id"] == agent_id)
    assert online["status"] == "online"

    customer, _ = await customer_socket(customer_port, token, SHOP_ORIGIN)
    await customer.send({"type": "handoff.request"})
    queued = await desk.until(lambda f: f["type"] == "conversation.updated" and f["conversation"]["owner"] == "queue")
    conversation_id = queued["conversation"]["id"]
    await desk.until(lambda f: f["type"] == "queue" and f["count"] >= 1)

    await desk.send({"type": "subscribe", "conversation": conversation_id, "cursor": "0.0"})
    await desk.until("subscribed")
    sent = await customer.send_message("My parcel has not arrived")
    seen = await desk.until(lambda f: f["type"] == "message.new" and f["message"]["seq"] == sent["seq"])
    assert seen["message"]["body"] == "My parcel has not arrived"

    answer = await desk.send_message("Let me check that for you.", conversation=conversation_id)
    received = await customer.until(lambda f: f["type"] == "message.new" and f["message"]["seq"] == answer["seq"])
    assert received["message"]["author"]["kind"] == "agent"

    await desk.send({"type": "presence", "status": "away"})
    away = await observer.until(lambda f: f["type"] == "presence" and f["agent"]["id"] == agent_id)
    assert away["status"] == "away"
    await desk.close()
    offline = await observer.until(lambda f: f["type"] == "presence" and f["agent"]["id"] == agent_id)
    assert offline["status"] == "offline"
    await customer.close()
    await observer.close()
