"""Liveness, readiness, metrics and the self-check page."""

import gc
import json
import time

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient, Client
from prometheus_client.parser import text_string_to_metric_families

from chat import metrics
from chat.models import Message
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


def scrape(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a /metrics page, by name and labels, read with prometheus_client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def open_customer_sockets(text: str) -> float:
    return scrape(text).get(("parley_open_sockets", frozenset({"process": "web", "kind": "customer"}.items())), 0)


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


def test_metrics_export_each_counter_under_its_own_label_name(site):
    metrics.BOT_OUTCOMES.inc("smalltalk")
    metrics.REPLIES_ENDED.inc(Message.Status.STOPPED)
    client = Client()
    client.force_login(make_agent("boss", staff=True))
    samples = scrape(client.get("/metrics").content.decode())
    outcomes = samples[("parley_bot_outcomes_total", frozenset({"process": "web", "outcome": "smalltalk"}.items()))]
    assert outcomes == metrics.BOT_OUTCOMES.value("smalltalk") >= 1
    assert samples[("parley_replies_total", frozenset({"process": "web", "status": "stopped"}.items()))] >= 1


@pytest.fixture
def publish_worker_metrics():
    """Put AI workers' metrics into the cache as `announce_alive_forever` does; removed after the test."""
    from django.core.cache import cache

    from chat.transports.ai_worker import WORKER_METRICS_KEY

    def publish(name: str, snapshot: dict) -> None:
        cache.set(WORKER_METRICS_KEY, {name: {"at": time.time(), "metrics": snapshot}})

    yield publish
    cache.delete(WORKER_METRICS_KEY)


def test_metrics_export_the_workers_snapshots_from_the_cache_as_histograms(site, publish_worker_metrics):
    metrics.FIRST_TOKEN.observe(0.3)
    metrics.STOP_LATENCY.observe(0.02)
    published = json.loads(json.dumps(metrics.snapshot()))  # what a worker on another host publishes
    publish_worker_metrics("host:7:abc", published)
    client = Client()
    client.force_login(make_agent("boss", staff=True))
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert (
        "# TYPE parley_first_token_seconds histogram" in text and "# TYPE parley_stop_latency_seconds histogram" in text
    )
    samples = scrape(text)
    for family in published.values():
        for name, labels, value in family:
            assert samples[(name, frozenset({**labels, "process": "host:7:abc"}.items()))] == value
    worker = ("process", "host:7:abc")
    below, above = (
        samples[("parley_first_token_seconds_bucket", frozenset({worker, ("le", le)}))] for le in ("0.25", "0.5")
    )
    assert above >= below + 1  # the 0.3 s observed above
    assert {name for name, _, _ in published["parley_stop_latency_seconds"]} == {
        "parley_stop_latency_seconds_bucket",
        "parley_stop_latency_seconds_count",
        "parley_stop_latency_seconds_sum",
    }


def test_a_worker_snapshot_of_another_version_is_skipped_not_an_error(site, publish_worker_metrics):
    publish_worker_metrics("host:8:old", {"counters": {"parley_messages_total": [["", 3]]}, "summaries": {}})
    client = Client()
    client.force_login(make_agent("boss", staff=True))
    response = client.get("/metrics")
    assert response.status_code == 200 and 'process="web"' in response.content.decode()
    assert "host:8:old" not in response.content.decode()


def test_selfcheck_is_for_staff_only(site):
    client = Client()
    assert client.get("/selfcheck/").status_code == 302  # to the login page
    client.force_login(make_agent("boss", staff=True))
    page = client.get("/selfcheck/")
    assert page.status_code == 200 and b"/ws/agent/" in page.content and b"/selfcheck/stream" in page.content
