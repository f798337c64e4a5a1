"""Liveness, readiness, metrics and the self-check page."""

import gc

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient, Client

from tests.conftest import make_agent, open_customer, receive_until, send_message, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_without_touching_anything():
    assert Client().get("/healthz").content == b"ok\n"


async def test_readyz_names_the_missing_ai_worker():
    from django.core.cache import cache

    await database_sync_to_async(cache.clear)()
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok" and body["checks"]["channel_layer"] == "ok"
    assert "runworker" in body["checks"]["ai_worker"]


async def test_readyz_is_ready_once_a_worker_announced_itself(visitor):
    customer, _ = await open_customer(token_for(visitor))  # the first connection starts the embedded worker
    await send_message(customer, "hello")
    from django.core.cache import cache

    from chat.transports.ai_worker import ALIVE_KEY

    while await database_sync_to_async(cache.get)(ALIVE_KEY) is None:
        await customer.send_json_to({"type": "ping"})  # yield to the worker's first announcement
        await receive_until(customer, "pong")
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200 and response.json()["ready"] is True
    await customer.disconnect()


def test_metrics_need_staff_or_the_token(site, settings):
    client = Client()
    assert client.get("/metrics").status_code == 403
    settings.PARLEY_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE parley_messages_total counter" in text and "parley_stop_latency_seconds" in text
    staff = make_agent("boss", staff=True)
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


def open_customer_sockets(text: str) -> int:
    for line in text.splitlines():
        if line.startswith('parley_open_sockets{process="web",kind="customer"}'):
            return int(line.rsplit(" ", 1)[1])
    return 0


async def test_metrics_count_open_sockets_and_messages(visitor):
    staff = await database_sync_to_async(make_agent)("boss", staff=True)
    client = AsyncClient()
    await database_sync_to_async(client.force_login)(staff)
    gc.collect()  # consumers of earlier tests, cancelled at their teardown, leave the registry when collected
    before = open_customer_sockets((await client.get("/metrics")).content.decode())
    customer, _ = await open_customer(token_for(visitor))
    await send_message(customer, "hello")
    text = (await client.get("/metrics")).content.decode()
    assert open_customer_sockets(text) == before + 1
    assert 'parley_messages_total{process="web"}' in text
    await customer.disconnect()


def test_selfcheck_is_for_staff_only(site):
    client = Client()
    assert client.get("/selfcheck/").status_code == 302  # to the login page
    client.force_login(make_agent("boss", staff=True))
    page = client.get("/selfcheck/")
    assert page.status_code == 200 and b"/ws/agent/" in page.content and b"/selfcheck/stream" in page.content
