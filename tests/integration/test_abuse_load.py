"""Abuse through the production shape: nginx in front of two Daphne processes, an AI worker, PostgreSQL, Redis.

Clients speak from addresses of their own on loopback (Linux routes all of 127/8 to `lo`), so nginx and
Parley see several clients: nginx keys its limits by `$binary_remote_addr`, Parley by the X-Forwarded-For
entry nginx wrote (BEHIND_PROXY=1, as deploy/cluster.py runs it).

- nginx: `limit_req` on the session and message endpoints, `limit_conn` on /ws/, per address; its
  refusals are 429 with Retry-After and Parley's JSON error, marked `X-Parley-Limit: nginx`.
- Under load: one address mints sessions at 50 a second and opens 20 sockets for one visitor; both are
  cut off (the socket cap holds across the two Daphne processes), while customers on other addresses,
  each at a person's pace and within Parley's default limits, keep being served; their ack p99 is printed
  against the 100 ms target.

The cluster raises Parley's own cap on sockets per address above nginx's, so that what nginx refuses
there is nginx's doing; every other limit is Parley's default. (Each limit alone, and the bot's budget,
are tested through the ASGI application in tests/chat/test_abuse_limits.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import httpx
import pytest
import websockets

from tests.integration.cluster_support import SHOP_ORIGIN, running_cluster

pytestmark = pytest.mark.integration

SITE = "demo-shop"
NGINX_SOCKETS_PER_ADDRESS = 300  # deploy/nginx.conf.template: limit_conn parley_sockets 300
NGINX_BURST = 60  # ... limit_req burst=60 (and one more for the rate itself)
NGINX_RATE = 10  # ... rate=10r/s
SESSIONS_PER_ADDRESS = 60  # Parley's default PARLEY_SESSION_IP_RATE: 60 in any 60 s
SOCKETS_PER_VISITOR = 10  # Parley's default PARLEY_CONNECTIONS_PER_VISITOR
# The target for other customers' acks under this attack is a p99 of 100 ms: printed against it here, not
# asserted (a timing target on a shared machine is a benchmark's, not a test's). What the test holds is that
# they are still served: nobody starved behind the attacker.
ACK_P99_TARGET = 0.100  # seconds
ACK_P99_STARVED = 1.0  # seconds
CUSTOMERS = 8  # on addresses of their own
QUIET_SECONDS = 6  # the customers alone first, for the comparison the printout makes
METRICS_TOKEN = "abuse-load-metrics"
CUSTOMER_PAUSE = 0.55  # seconds between a customer's ack and its next message: under 20 in any 10 s


@pytest.fixture(scope="module")
def cluster():
    env = {
        "PARLEY_CONNECTIONS_PER_IP": "1000",  # above nginx's limit_conn, which the first test reaches
        "PARLEY_HELLO_TIMEOUT": "60",  # sockets held open without hello while nginx counts them
        "PARLEY_METRICS_TOKEN": METRICS_TOKEN,  # each Daphne's own ack histogram, read before and after
    }
    with running_cluster("abuse", daphnes=2, workers=1, env=env) as running:
        yield running


def client_from(address: str, **options) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from `address`."""
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), timeout=15, **options)


async def start_session(client: httpx.AsyncClient, base: str) -> httpx.Response:
    return await client.post(f"{base}/api/widget/{SITE}/session", json={}, headers={"Origin": SHOP_ORIGIN})


async def open_socket(port: int, address: str):
    """/ws/widget/ through nginx from `address`."""
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/widget/", origin=SHOP_ORIGIN, local_addr=(address, 0), open_timeout=15
    )


def nginx_refusal(response: httpx.Response) -> bool:
    """A 429 of nginx's own, in Parley's shape."""
    if response.status_code != 429 or response.headers.get("X-Parley-Limit") != "nginx":
        return False
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["retry_after"] >= 1
    return True


async def first_frame(connection) -> dict:
    return json.loads(await asyncio.wait_for(connection.recv(), 15))


async def hello(connection, token: str) -> dict:
    await connection.send(json.dumps({"type": "hello", "token": token, "cursor": "0.0"}))
    return await first_frame(connection)


async def closed_with(connection) -> int:
    """Read until the server closes the socket; its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(connection.recv(), 15)
    return connection.close_code


# --- nginx ------------------------------------------------------------------------------------------


def through_nginx_at_most(started: float) -> int:
    """What limit_req lets through since `started`: the burst, and the rate for the time that passed."""
    return NGINX_BURST + 1 + math.ceil(NGINX_RATE * (time.monotonic() - started))


async def test_nginx_limits_sessions_messages_and_sockets_per_address(cluster):
    base, port = cluster.url, cluster.port
    # Sessions: of a burst from one address nginx lets its burst through (part of it paced), refuses the rest.
    async with client_from("127.0.0.3") as flood, client_from("127.0.0.4") as neighbour:
        started = time.monotonic()
        answers = await asyncio.gather(*(start_session(flood, base) for _ in range(150)))
        passed = [a for a in answers if not nginx_refusal(a)]
        assert len(passed) <= through_nginx_at_most(started), f"{len(passed)} of 150 passed nginx"
        assert (await start_session(neighbour, base)).status_code == 200  # another address is untouched

        # Messages over HTTP: the same, per address (what passes meets Parley's own limits).
        token = next(a for a in passed if a.status_code == 200).json()["visitor_token"]
        headers = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        sends = await asyncio.gather(
            *(
                flood.post(
                    f"{base}/api/widget/messages", json={"client_id": str(uuid.uuid4()), "body": "x"}, headers=headers
                )
                for _ in range(150)
            )
        )
        passed = [s for s in sends if not nginx_refusal(s)]
        assert len(passed) <= through_nginx_at_most(started), f"{len(passed)} of 150 passed nginx"
        assert {s.status_code for s in passed} <= {200, 429}

    # Sockets: nginx holds at most its cap open per address; a socket from another address still opens.
    held = await asyncio.gather(*(open_socket(port, "127.0.0.5") for _ in range(NGINX_SOCKETS_PER_ADDRESS)))
    try:
        with pytest.raises(websockets.InvalidStatus) as refusal:
            await open_socket(port, "127.0.0.5")
        assert refusal.value.response.status_code == 429
        assert refusal.value.response.headers.get("X-Parley-Limit") == "nginx"
        other = await open_socket(port, "127.0.0.6")
        await other.close()
    finally:
        await asyncio.gather(*(connection.close() for connection in held))


# --- under load -----------------------------------------------------------------------------------------


class Customer:
    """A customer on an address of its own, in a conversation: messages one after another, each one's ack timed."""

    def __init__(self, address: str):
        self.address = address
        self.latencies: list[float] = []
        self.connection = None

    async def start(self, base: str, port: int) -> None:
        """A session, a socket, and a first message: the conversation exists before anything is measured."""
        async with client_from(self.address) as client:
            response = await start_session(client, base)
            response.raise_for_status()
        self.connection = await open_socket(port, self.address)
        welcome = await hello(self.connection, response.json()["visitor_token"])
        assert welcome["type"] == "welcome", welcome
        await self.send("Hello?")

    async def send(self, body: str) -> float:
        """Send a message; the seconds until its ack."""
        client_id = str(uuid.uuid4())
        sent = time.monotonic()
        await self.connection.send(json.dumps({"type": "message.send", "client_id": client_id, "body": body}))
        while True:
            frame = await first_frame(self.connection)
            if frame.get("client_id") == client_id or frame.get("ref") == client_id:
                break
        assert frame["type"] == "message.ack", frame
        return time.monotonic() - sent

    async def chat(self, until: float, pause: float) -> None:
        """Send until `until`; each send waits for its ack, and the next goes `pause` seconds later."""
        n = 0
        while time.monotonic() < until:
            self.latencies.append(await self.send(f"Q{n}"))
            n += 1
            await asyncio.sleep(pause)  # pacing a person's typing, not waiting for anything


async def mint_sessions(base: str, address: str, per_second: int, seconds: float) -> list[int]:
    """`per_second` session calls a second from one address, each without waiting for the last; their statuses."""
    async with client_from(address, limits=httpx.Limits(max_connections=200)) as client:
        calls = []
        for _ in range(int(per_second * seconds)):
            calls.append(asyncio.create_task(start_session(client, base)))
            await asyncio.sleep(1 / per_second)  # the attack's own pace
        return [response.status_code for response in await asyncio.gather(*calls)]


async def many_tabs(base: str, port: int, address: str, tabs: int) -> tuple[list[dict], list[int]]:
    """One visitor opens `tabs` sockets at once: what each hello got, and how the refused ones closed."""
    async with client_from(address) as client:
        token = (await start_session(client, base)).json()["visitor_token"]
    connections = await asyncio.gather(*(open_socket(port, address) for _ in range(tabs)))
    try:
        answers = await asyncio.gather(*(hello(connection, token) for connection in connections))
        refused = [c for c, a in zip(connections, answers) if a["type"] == "error"]
        codes = await asyncio.gather(*(closed_with(connection) for connection in refused))
        return answers, codes
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))


def server_acks(cluster) -> dict[float, float]:
    """Every Daphne's `parley_message_ack_seconds` buckets, summed: upper bound -> acks at or under it."""
    buckets: dict[float, float] = {}
    for port in cluster.cluster.daphnes:
        response = httpx.get(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
        response.raise_for_status()
        for line in response.text.splitlines():
            if line.startswith("parley_message_ack_seconds_bucket{"):
                bound = float(line.split('le="', 1)[1].split('"', 1)[0])
                buckets[bound] = buckets.get(bound, 0) + float(line.rsplit(" ", 1)[1])
    return buckets


def over(after: dict[float, float], before: dict[float, float], seconds: float) -> str:
    """How many acks between two readings took longer than `seconds` in the server, of how many."""
    total = after[math.inf] - before.get(math.inf, 0)
    within = after[seconds] - before.get(seconds, 0)
    return f"{total - within:.0f} of {total:.0f}"


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def abuser_ready() -> bool:
    """Run first in the abuser's process: importing this module there is paid for before the measurement."""
    return True


def attack(base: str, port: int):
    """The abuser, run in a process of its own (as it would be): its client work takes no time from the customers'."""

    async def both():
        return await asyncio.gather(
            mint_sessions(base, "127.0.2.1", per_second=50, seconds=5), many_tabs(base, port, "127.0.2.2", tabs=20)
        )

    return asyncio.run(both())


async def test_one_address_minting_sessions_and_tabs_is_cut_off_while_other_customers_stay_fast(cluster):
    base, port = cluster.url, cluster.port
    # People answer this site (the bot's replies, and its budget, are tested in tests/chat): the acks measured
    # are the customers', not the bot's work competing with them for these few cores.
    cluster.rows("update chat_site set bot_enabled = false where key = %s returning id", (SITE,))
    customers = [Customer(f"127.0.1.{n}") for n in range(1, CUSTOMERS + 1)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as abuser:
        await loop.run_in_executor(abuser, abuser_ready)  # started and imported before anything is measured
        await asyncio.gather(*(customer.start(base, port) for customer in customers))
        started = server_acks(cluster)
        try:
            # A quiet spell first: the same customers without the attack, so the printout compares like with like.
            quiet_until = time.monotonic() + QUIET_SECONDS
            await asyncio.gather(*(customer.chat(quiet_until, pause=CUSTOMER_PAUSE) for customer in customers))
            quiet = sorted(latency for customer in customers for latency in customer.latencies)
            quieted = server_acks(cluster)
            for customer in customers:
                customer.latencies.clear()
            until = time.monotonic() + 12
            chatting = asyncio.gather(*(customer.chat(until, pause=CUSTOMER_PAUSE) for customer in customers))
            statuses, (answers, codes) = await loop.run_in_executor(abuser, attack, base, port)
            await chatting
        finally:
            await asyncio.gather(*(customer.connection.close() for customer in customers if customer.connection))
    attacked = server_acks(cluster)

    minted = statuses.count(200)
    assert minted <= SESSIONS_PER_ADDRESS, f"{minted} of {len(statuses)} sessions minted from one address"
    assert statuses.count(429) == len(statuses) - minted

    welcomed = [a for a in answers if a["type"] == "welcome"]
    refused = [a for a in answers if a["type"] == "error"]
    assert len(welcomed) == SOCKETS_PER_VISITOR, "the cap on a visitor's sockets must hold across both Daphnes"
    assert all(a["code"] == "rate_limited" and a["retry_after"] >= 1 for a in refused)
    assert codes == [4429] * (20 - SOCKETS_PER_VISITOR)

    latencies = sorted(latency for customer in customers for latency in customer.latencies)
    p99 = percentile(latencies, 0.99)
    print(
        f"\n[abuse] {len(statuses)} session calls, {minted} minted; 20 tabs, {len(welcomed)} welcomed; "
        f"{len(latencies)} acks elsewhere: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
        f"(target {ACK_P99_TARGET * 1000:.0f} ms: {'met' if p99 < ACK_P99_TARGET else 'MISSED'}); "
        f"without the attack, {len(quiet)} acks: p50 {statistics.median(quiet) * 1000:.1f} ms, "
        f"p99 {percentile(quiet, 0.99) * 1000:.1f} ms. Inside Parley (socket to ack), over 100 ms: "
        f"{over(attacked, quieted, ACK_P99_TARGET)} under the attack, {over(quieted, started, ACK_P99_TARGET)} without"
    )
    assert len(latencies) >= 100
    assert p99 < ACK_P99_STARVED
