"""A real `runworker ai-reply` process on the real Redis layer, streaming to a customer on Daphne."""

import asyncio
import signal
import time

import pytest

from tests.fake_openai import FakeOpenAI
from tests.integration.clients import customer_socket, visitor_token
from tests.integration.conftest import SHOP_ORIGIN
from tests.integration.processes import start_daphne, start_worker, wait_for_row

pytestmark = pytest.mark.integration
TOKENS = ["Orders ", "placed ", "before ", "2 pm ", "ship ", "the ", "same ", "day."]
INTERRUPTED_WITHIN = 30  # seconds: the protocol's promise for a reply whose worker died


@pytest.fixture(scope="module")
def provider():
    with FakeOpenAI(tokens=TOKENS) as server:
        yield server


@pytest.fixture(scope="module")
def ai_cluster(cluster_env, provider):
    env = {**cluster_env, "AI_PROVIDER": "openai", "AI_BASE_URL": provider.base_url, "AI_API_KEY": "sk-it"}
    daphne, port = start_daphne(env, "daphne")
    yield env, port
    daphne.stop()


async def test_reply_streams_from_a_worker_process_and_survives_its_sigkill(ai_cluster, provider):
    env, port = ai_cluster
    worker = start_worker(env)
    try:
        provider.configure(pause_after=3)
        token = await visitor_token(f"http://127.0.0.1:{port}", SHOP_ORIGIN)
        customer, _ = await customer_socket(port, token, SHOP_ORIGIN)
        await customer.send_message("When do orders ship?")
        start = await customer.until("reply.start")
        delta = await customer.until("reply.delta")
        assert delta["reply_id"] == start["reply_id"] and delta["index"] == 0
        assert await asyncio.to_thread(provider.wait_sent, 3)
        # Kill it only once a checkpoint holds text, so "partial text kept" has something to keep.
        await asyncio.to_thread(
            wait_for_row,
            env["DATABASE_URL"],
            "select body from chat_message where id = %s",
            (start["reply_id"],),
            lambda row: bool(row[0]),
        )

        killed_at = time.monotonic()
        worker.signal(signal.SIGKILL)
        end = await customer.until("reply.end", timeout=INTERRUPTED_WITHIN + 5)
        elapsed = time.monotonic() - killed_at
        print(f"reply interrupted {elapsed:.1f} s after its worker was killed")
        assert end["status"] == "interrupted" and elapsed < INTERRUPTED_WITHIN
        assert end["body"].startswith("Orders ")  # the checkpointed partial text is kept
    finally:
        worker.stop()

    provider.configure(pause_after=None)
    restarted = start_worker(env, "worker-2")
    try:
        await customer.send_message("And do you ship abroad?")
        second = await customer.until(lambda f: f["type"] == "reply.end" and f["reply_id"] != start["reply_id"])
        assert second["status"] == "complete" and second["body"] == "".join(TOKENS)
    finally:
        restarted.stop()
        await customer.close()
