"""Faults on the production shape: nginx in front of two Daphne processes, an AI worker, PostgreSQL and Redis.

Every customer here is a `TranscriptClient` (the widget's bookkeeping: seq, delta index, prev_seq
gaps, resume, reconnect with its cursor), and every check ends by comparing what each client shows
with the database's rows (seq, body, status): nothing missing, nothing twice.
"""

import asyncio
import json
import os
import signal
import time
import uuid

import httpx
import psycopg
import pytest
import websockets

from tests.fake_openai import FakeOpenAI
from tests.integration.clients import login_cookie, visitor_token
from tests.integration.cluster_support import (
    SHOP_ORIGIN,
    TranscriptClient,
    agent_on,
    agent_send_many,
    close_all,
    customer_on,
    running_cluster,
    wait_upstream,
)
from tests.integration.processes import wait_for_row
from tests.services import postgres_server_url

pytestmark = pytest.mark.integration

TOKENS = ["Orders ", "placed ", "before ", "2 pm ", "ship ", "the ", "same ", "business ", "day, ", "tracked."]
FULL = "".join(TOKENS)
INTERRUPTED_WITHIN = 30  # seconds: the protocol's promise for a reply whose worker died
CROWD = 50  # customers on the Daphne process that is killed
REDIS_CUSTOMERS = 12  # customers over both Daphne processes when Redis restarts


@pytest.fixture(scope="module")
def provider():
    with FakeOpenAI(tokens=TOKENS) as server:
        yield server


@pytest.fixture(autouse=True)
def provider_script(provider):
    """Every test starts with a provider that streams at once and ends with nothing left paused."""
    provider.configure(tokens=TOKENS, pause_after=None, delay=0.0)
    yield
    provider.release()


def cluster_env(provider, **extra) -> dict:
    return {
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": provider.base_url,
        "AI_API_KEY": "sk-faults",
        "PARLEY_SEND_RATE_COUNT": "10000",
        **extra,
    }


@pytest.fixture(scope="module")
def cluster(provider):
    """One cluster for the faults it recovers from in place: nginx, Daphne kills, the worker, the database."""
    with running_cluster("main", env=cluster_env(provider)) as running:
        yield running


def report(what: str, since: float, **details) -> None:
    extra = "".join(f", {key}={value}" for key, value in details.items())
    print(f"\n[faults] {what}: {time.monotonic() - since:.2f} s{extra}")


async def reply_status(cluster, reply_id: int, done=lambda status: status != "streaming", timeout: float = 30):
    row = await asyncio.to_thread(
        wait_for_row,
        cluster.database.url,
        "select status, body, worker from chat_message where id = %s",
        (reply_id,),
        lambda row: done(row[0]),
        timeout,
    )
    return row


def bot_reply(client: TranscriptClient, after_seq: int):
    """The bot reply the client holds after a given seq, or None yet."""
    for seq in sorted(client.messages):
        entry = client.messages[seq]
        if seq > after_seq and entry.kind == "bot":
            return entry
    return None


def assert_clean(*clients: TranscriptClient) -> None:
    for client in clients:
        assert not client.shown_twice(), f"{client.name} showed {client.shown_twice()} twice"
        assert not client.problems, f"{client.name}: {client.problems}"


# --- 1. through nginx ---------------------------------------------------------------------------


async def test_through_nginx_stream_stop_and_sse_with_customer_and_agent_on_different_daphnes(cluster, provider):
    started = time.monotonic()
    cookie = await login_cookie(cluster.url, "agent", "parley-agent")
    agent, _, agent_port = await agent_on(cluster, cookie)
    clients: list = []
    try:
        token = await visitor_token(cluster.url, SHOP_ORIGIN)
        customer = await customer_on(cluster, token, avoid=agent_port, registry=clients)
        assert {customer.upstream, agent_port} == set(cluster.cluster.daphnes), "not one socket on each Daphne"

        # A streamed reply, seen by the customer on one Daphne and the agent on the other.
        provider.configure(pause_after=3)
        ack = await customer.wait_ack(await customer.send_message("When do orders ship?"))
        conversation = ack["conversation"]
        await agent.send({"type": "subscribe", "conversation": conversation, "cursor": "0.0"})
        await agent.until("subscribed")
        assert await asyncio.to_thread(provider.wait_sent, 3, 10)
        first_three = "".join(TOKENS[:3]).rstrip()  # a trailing space waits for the next token
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.body == first_three,
            10,
            "the first three tokens while the provider waits",
        )
        reply = bot_reply(customer, ack["seq"])
        assert reply.status == "streaming"
        provider.release()
        end = await agent.until(lambda f: f["type"] == "reply.end" and f["reply_id"] == reply.id)
        assert end["status"] == "complete" and end["body"] == FULL
        assert any(f["type"] == "reply.delta" and f["reply_id"] == reply.id for f in agent.frames), (
            "the agent's Daphne relayed no live delta of the worker's reply"
        )
        await customer.wait_transcript(cluster.transcript(conversation))
        assert customer.transcript()[-1] == (reply.seq, FULL, "complete")
        report("streamed reply across two Daphnes", started, customer=customer.upstream, agent=agent_port)

        # Stop: the reply ends `stopped` with its partial text and the provider's stream is closed.
        provider.configure(pause_after=2)
        ack = await customer.wait_ack(await customer.send_message("Can I still change my order?"))
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.index >= 0,
            10,
            "the stopped reply's first delta",
        )
        assert await asyncio.to_thread(provider.wait_sent, 2, 10)
        reply = bot_reply(customer, ack["seq"])
        stop_at = time.monotonic()
        await customer.send({"type": "reply.stop", "reply_id": reply.id})
        await customer.wait_until(lambda c: c.messages[reply.seq].status != "streaming", 10, "the stopped reply's end")
        closed_after = await asyncio.to_thread(provider.wait_closed, 10, stop_at)
        assert closed_after is not None, "the provider never saw its connection closed"
        assert provider.streams[-1].sent == 2 and provider.streams[-1].closed_early.is_set()
        status, body, _ = await reply_status(cluster, reply.id)
        assert (status, body) == ("stopped", "".join(TOKENS[:2]).rstrip())
        await customer.wait_transcript(cluster.transcript(conversation))
        stopped = await agent.until(lambda f: f["type"] == "reply.end" and f["reply_id"] == reply.id)
        assert stopped["status"] == "stopped"
        report("stop", stop_at, provider_closed_after=f"{closed_after:.3f} s")

        # Server-Sent Events through the proxy: the first chunk arrives while the provider is still paused.
        provider.configure(pause_after=2)
        sse_token = await visitor_token(cluster.url, SHOP_ORIGIN)
        headers = {"Authorization": f"Bearer {sse_token}", "Accept": "text/event-stream"}
        client_id = str(uuid.uuid4())
        sse_started = time.monotonic()
        texts, finish, first_at = [], None, None
        async with asyncio.timeout(30), httpx.AsyncClient(timeout=20) as http:
            async with http.stream(
                "POST",
                f"{cluster.url}/api/widget/messages",
                headers=headers,
                json={"client_id": client_id, "body": "Do you ship the same day?"},
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers.get("X-Parley-Upstream"), "the answer did not come through nginx"
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[len("data: ") :]
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    content = chunk["choices"][0]["delta"].get("content")
                    if chunk["choices"][0]["finish_reason"]:
                        finish = chunk
                    elif content:
                        if first_at is None:
                            first_at = time.monotonic() - sse_started
                            assert not provider.streams[-1].finished.is_set(), (
                                "the first chunk waited for the provider to finish: the proxy buffers"
                            )
                            assert provider.streams[-1].sent <= 2
                            provider.release()
                        texts.append(content)
        assert finish is not None and finish["choices"][0]["finish_reason"] == "stop"
        [(sse_body, sse_status)] = cluster.rows(
            "select r.body, r.status from chat_message r join chat_message t on r.trigger_id = t.id "
            "where t.client_id = %s",
            (client_id,),
        )
        assert "".join(texts) == sse_body == FULL and sse_status == "complete"
        report("SSE through nginx", sse_started, first_chunk_after=f"{first_at:.3f} s")
        assert_clean(customer)
    finally:
        await close_all(*clients, agent)


# --- 3. a Daphne process killed under 50 customers -----------------------------------------------


RESTARTING = {1012, 4012}  # the contract's "server restarting", and the 4012 Parley sends (Daphne cannot send 1012)


async def crowd_away_and_back(cluster, crowd, *, victim: int, survivor: int, signum: int, while_away) -> list[int]:
    """Kill Daphne `victim` under the crowd; run `while_away()` while they are offline; let them back through
    nginx; return the close codes they saw. Every client must come back on `survivor`."""
    closes = [len(client.close_codes) for client in crowd]
    connections = [client.connections for client in crowd]
    for client in crowd:
        client.may_reconnect.clear()  # offline until the test lets them back
    killed_at = time.monotonic()
    await asyncio.to_thread(cluster.cluster.stop_daphne, victim, signum)
    await asyncio.gather(
        *(client.wait_until(lambda c, n=n: len(c.close_codes) > n, 15, "the close") for client, n in zip(crowd, closes))
    )
    codes = sorted({int(client.close_codes[-1]) for client in crowd})
    report(f"{signal.Signals(signum).name} on Daphne {victim}: {len(crowd)} sockets closed", killed_at, codes=codes)
    await while_away()
    back_at = time.monotonic()
    for client in crowd:
        client.may_reconnect.set()
    await asyncio.gather(
        *(
            client.wait_until(lambda c, n=n: c.connected and c.connections > n, 30, "its return")
            for client, n in zip(crowd, connections)
        )
    )
    assert {client.upstream for client in crowd} == {survivor}
    report(f"{len(crowd)} customers back on Daphne {survivor}", back_at)
    return codes


async def test_daphne_killed_with_sigterm_then_sigkill_under_fifty_customers(cluster, provider):
    first, second = sorted(cluster.cluster.daphnes)
    cookie = await login_cookie(cluster.url, "agent", "parley-agent")
    agent, _, _ = await agent_on(cluster, cookie, want=second)
    desk = {"agent": agent}  # the agent's socket dies with the second kill and is reopened
    clients: list = []
    try:
        started = time.monotonic()
        tokens = await asyncio.gather(*(visitor_token(cluster.url, SHOP_ORIGIN) for _ in range(CROWD)))
        crowd = await asyncio.gather(
            *(
                customer_on(cluster, token, want=first, name=f"customer-{i}", registry=clients)
                for i, token in enumerate(tokens)
            )
        )
        # Each asks a question; the bot's replies are mid-stream (the provider pauses) when the process dies.
        provider.configure(pause_after=2)
        client_ids = [
            await client.send_message(f"Question {i}: when does my order ship?") for i, client in enumerate(crowd)
        ]
        acks = await asyncio.gather(*(client.wait_ack(cid) for client, cid in zip(crowd, client_ids)))
        conversations = [ack["conversation"] for ack in acks]
        await asyncio.gather(
            *(
                client.wait_until(
                    lambda c, s=ack["seq"]: (r := bot_reply(c, s)) is not None and r.index >= 0,
                    30,
                    "its reply's first delta",
                )
                for client, ack in zip(crowd, acks)
            )
        )
        report(f"{CROWD} customers on Daphne {first}, replies streaming", started)

        async def answer(text: str) -> None:
            await agent_send_many(desk["agent"], [(c, f"{text} (customer {i})") for i, c in enumerate(conversations)])

        async def replies_finish_then_answer():  # while they are away
            provider.release()
            await asyncio.to_thread(
                wait_for_row,
                cluster.database.url,
                "select count(*) from chat_message where conversation_id = any(%s) and status = 'streaming'",
                (conversations,),
                lambda row: row[0] == 0,
                30,
            )
            await answer("While you were away: it ships today.")

        async def check(when: str, since: float):
            expected = [cluster.transcript(c) for c in conversations]
            await asyncio.gather(*(client.wait_transcript(rows) for client, rows in zip(crowd, expected)))
            assert_clean(*crowd)
            assert all(status == "complete" for rows in expected for _, _, status in rows)
            report(
                f"{when}: {CROWD} transcripts equal the database's",
                since,
                rows=len(expected[0]),
                resumes=sum(c.resumes for c in crowd),
                duplicates_dropped=sum(c.duplicates for c in crowd),
            )

        # SIGTERM: a planned restart; the sockets close with "server restarting".
        round_at = time.monotonic()
        codes = await crowd_away_and_back(
            cluster, crowd, victim=first, survivor=second, signum=signal.SIGTERM, while_away=replies_finish_then_answer
        )
        assert set(codes) <= RESTARTING, f"SIGTERM closed the sockets with {codes}, not 'server restarting'"
        await answer("Anything else?")
        await check("after SIGTERM", round_at)
        await asyncio.to_thread(cluster.cluster.start_daphne, first)
        await asyncio.to_thread(wait_upstream, cluster, first)

        # SIGKILL: the process that took everyone in (the agent's too) dies without a word.
        async def desk_reconnects_then_answers():
            desk["agent"], _, _ = await agent_on(cluster, cookie, want=first)
            await answer("While you were away again: here is your tracking number.")

        round_at = time.monotonic()
        codes = await crowd_away_and_back(
            cluster,
            crowd,
            victim=second,
            survivor=first,
            signum=signal.SIGKILL,
            while_away=desk_reconnects_then_answers,
        )
        assert codes == [1006], f"SIGKILL closed the sockets with {codes}"
        await answer("Anything else, after all that?")
        await check("after SIGKILL", round_at)
    finally:
        await close_all(*clients, desk["agent"], agent)
        for port in (first, second):
            if port not in cluster.cluster.daphnes:
                await asyncio.to_thread(cluster.cluster.start_daphne, port)


# --- 4. the AI worker killed mid-reply -----------------------------------------------------------


async def test_ai_worker_killed_mid_reply_is_interrupted_and_a_restarted_worker_answers_next(cluster, provider):
    token = await visitor_token(cluster.url, SHOP_ORIGIN)
    customer = await TranscriptClient(cluster.port, token).start()
    try:
        provider.configure(pause_after=3)
        ack = await customer.wait_ack(await customer.send_message("Where is my parcel?"))
        conversation = ack["conversation"]
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.index >= 0, 10, "the reply's first delta"
        )
        assert await asyncio.to_thread(provider.wait_sent, 3, 10)
        reply = bot_reply(customer, ack["seq"])
        # Kill it once a checkpoint holds text, so "partial text kept" has something to keep.
        await asyncio.to_thread(
            wait_for_row,
            cluster.database.url,
            "select body from chat_message where id = %s",
            (reply.id,),
            lambda row: bool(row[0]),
        )
        [worker] = [w for w in cluster.cluster.workers if w.poll() is None]
        killed_at = time.monotonic()
        os.killpg(worker.pid, signal.SIGKILL)
        await asyncio.to_thread(worker.wait, 10)
        await customer.wait_until(
            lambda c: c.messages[reply.seq].status != "streaming", INTERRUPTED_WITHIN + 5, "the interrupted end"
        )
        elapsed = time.monotonic() - killed_at
        entry = customer.messages[reply.seq]
        assert entry.status == "interrupted" and elapsed < INTERRUPTED_WITHIN
        assert entry.body.startswith(TOKENS[0])
        await customer.wait_transcript(cluster.transcript(conversation))
        report("worker SIGKILL -> interrupted", killed_at)

        provider.configure(pause_after=None)
        restarted_at = time.monotonic()
        restarted = cluster.cluster.start_worker()
        ack = await customer.wait_ack(await customer.send_message("And do you ship abroad?"))
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.status != "streaming",
            30,
            "the restarted worker's reply",
        )
        second = bot_reply(customer, ack["seq"])
        assert (second.status, second.body) == ("complete", FULL)
        status, _, worker_name = await reply_status(cluster, second.id)
        assert status == "complete" and f":{restarted.pid}:" in worker_name
        await customer.wait_transcript(cluster.transcript(conversation))
        assert_clean(customer)
        report("restarted worker answered", restarted_at)
    finally:
        await close_all(customer)


# --- 5. the database unavailable for a moment ----------------------------------------------------


async def test_database_outage_send_is_refused_unacked_and_the_retry_stores_once(cluster, provider):
    token = await visitor_token(cluster.url, SHOP_ORIGIN)
    customer = await TranscriptClient(cluster.port, token).start()
    try:
        ack = await customer.wait_ack(await customer.send_message("Hello, is anyone there?"))
        conversation = ack["conversation"]
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.status != "streaming", 20, "the first reply"
        )

        client_id, body = str(uuid.uuid4()), "Has my order left the warehouse?"
        name = cluster.database_name
        outage_at = time.monotonic()
        with psycopg.connect(
            postgres_server_url().replace("postgres://", "postgresql://", 1), autocommit=True
        ) as admin:
            try:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = %s and pid <> pg_backend_pid()",
                    (name,),
                )
                await customer.send_message(body, client_id)
                await customer.wait_until(lambda c: any(e.get("ref") == client_id for e in c.errors), 15, "the refusal")
                [error] = [e for e in customer.errors if e.get("ref") == client_id]
                assert error["code"] == "unavailable"
                assert client_id not in customer.acks
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        report("database outage (send refused)", outage_at)

        await customer.send_message(body, client_id)  # the client's retry, same client_id
        first = await customer.wait_ack(client_id)
        del customer.acks[client_id]
        await customer.send_message(body, client_id)  # and once more: still one row, the same ack
        again = await customer.wait_ack(client_id)
        assert (again["id"], again["seq"]) == (first["id"], first["seq"])
        assert cluster.rows("select count(*) from chat_message where client_id = %s", (client_id,)) == [(1,)]
        await customer.wait_until(
            lambda c: (r := bot_reply(c, first["seq"])) is not None and r.status != "streaming",
            20,
            "the reply to the retried message",
        )
        await customer.wait_transcript(cluster.transcript(conversation))
        assert_clean(customer)
        report("database back, retry stored once", outage_at)
    finally:
        await close_all(customer)


# --- 2. Redis restarted while a reply streams ------------------------------------------------------


@pytest.fixture
def redis_cluster(provider):
    """Its own cluster: a Redis restart forgets every group, which would leave the shared one unfit."""
    with running_cluster("redis", env=cluster_env(provider)) as running:
        yield running


class RedisRestartLoss(AssertionError):
    """Something was lost, or stopped flowing, when Redis restarted."""


async def test_redis_restart_while_replies_stream(redis_cluster, provider):
    cluster = redis_cluster
    cookie = await login_cookie(cluster.url, "agent", "parley-agent")
    agent, _, _ = await agent_on(cluster, cookie)
    customers: list = []
    try:
        tokens = await asyncio.gather(*(visitor_token(cluster.url, SHOP_ORIGIN) for _ in range(REDIS_CUSTOMERS)))
        for i, token in enumerate(tokens):  # nginx spreads them over both Daphne processes
            # The widget pings every 25 s and a ping re-joins the socket's groups; 1 s here, so the
            # product gets that chance without the test waiting 25 s.
            customers.append(TranscriptClient(cluster.port, token, name=f"customer-{i}", heartbeat=1.0))
            await customers[-1].start()
        provider.configure(pause_after=3)  # every customer's reply is mid-stream when Redis restarts
        client_ids = [await c.send_message(f"Question {i}: when do orders ship?") for i, c in enumerate(customers)]
        acks = await asyncio.gather(*(c.wait_ack(cid) for c, cid in zip(customers, client_ids)))
        await asyncio.gather(
            *(
                c.wait_until(
                    lambda c, s=a["seq"]: (r := bot_reply(c, s)) is not None and r.index >= 0,
                    15,
                    "its reply's first delta",
                )
                for c, a in zip(customers, acks)
            )
        )
        replies = [bot_reply(c, a["seq"]) for c, a in zip(customers, acks)]
        conversation = acks[0]["conversation"]
        await agent.send({"type": "subscribe", "conversation": conversation, "cursor": "0.0"})
        await agent.until("subscribed")

        # Killed and started again while the application processes are frozen, so the restart is over before
        # any of them polls again: the race every quick restart runs, made deterministic.
        frozen = [*cluster.cluster.daphnes.values(), *cluster.cluster.workers]
        restarted_at = time.monotonic()
        for process in frozen:
            os.killpg(process.pid, signal.SIGSTOP)
        try:
            await asyncio.to_thread(cluster.redis.restart)
        finally:
            for process in frozen:
                os.killpg(process.pid, signal.SIGCONT)
        report("redis-server killed and started again", restarted_at)
        provider.release()
        findings = []
        await asyncio.to_thread(
            wait_for_row,
            cluster.database.url,
            "select count(*) from chat_message where id = any(%s) and status = 'streaming'",
            ([r.id for r in replies],),
            lambda row: row[0] == 0,
            30,
        )
        ended = cluster.rows("select status, body from chat_message where id = any(%s)", ([r.id for r in replies],))
        if any(row != ("complete", FULL) for row in ended):
            findings.append(f"replies in flight ended {sorted({status for status, _ in ended})}, not all complete")

        # Every client ends with the database's transcript ...
        outcomes = await asyncio.gather(
            *(c.wait_transcript(cluster.transcript(c.conversation_id), 8) for c in customers), return_exceptions=True
        )
        behind = [c for c, outcome in zip(customers, outcomes) if isinstance(outcome, Exception)]
        if behind:
            shown = sorted({c.reply(r.seq).status for c, r in zip(customers, replies) if c in behind})
            findings.append(
                f"{len(behind)} of {len(customers)} customers never reached the database's transcript "
                f"(their reply still shows {shown})"
            )
        report("after the restart: transcripts", restarted_at, behind=[c.name for c in behind])

        # The desk: did it get the end of the reply it follows? Then its heartbeat (a ping every 25 s in
        # static/desk/socket.js, which re-joins its groups) - or, if its socket died, a reconnect and re-subscribe.
        agent_closed = None
        try:
            # As the desk does on its heartbeat: the pong names the head of each followed conversation;
            # behind it, subscribe again from the cursor held, and the replay brings what was lost.
            await agent.send({"type": "ping"})
            pong = await agent.until("pong", timeout=5)
            if str(conversation) not in pong.get("heads", {}):
                findings.append("the agent's pong did not name the head of the conversation it follows")
            ended = any(f.get("type") == "reply.end" and f.get("reply_id") == replies[0].id for f in agent.frames)
            if not ended:
                await agent.send({"type": "subscribe", "conversation": conversation, "cursor": "0.0"})
                replay = await agent.until("subscribed", timeout=5)
                ended = any(
                    e["type"] == "message.new"
                    and e["message"]["id"] == replies[0].id
                    and e["message"]["status"] == "complete"
                    for e in replay["events"]
                )
            if not ended:
                findings.append("the agent never got the end of the reply it follows, even after its heartbeat")
        except websockets.ConnectionClosed:
            agent_closed = agent.connection.close_code
            agent, _, _ = await agent_on(cluster, cookie)
            await agent.send({"type": "subscribe", "conversation": conversation, "cursor": "0.0"})
            await agent.until("subscribed")

        # ... and new live events reach everyone afterwards, both ways.
        answers = await agent_send_many(
            agent, [(c.conversation_id, f"Thanks for waiting, {c.name}.") for c in customers]
        )
        outcomes = await asyncio.gather(
            *(
                c.wait_until(lambda c, s=a["seq"]: s in c.messages, 10, "the answer")
                for c, a in zip(customers, answers)
            ),
            return_exceptions=True,
        )
        deaf = [c.name for c, outcome in zip(customers, outcomes) if isinstance(outcome, Exception)]
        if deaf:
            findings.append(
                f"{len(deaf)} of {len(customers)} customers never got an agent's answer sent after the restart: {deaf}"
            )
        question = await customers[0].wait_ack(await customers[0].send_message("Thank you!"))
        try:
            await agent.until(
                lambda f: f["type"] == "message.new" and f["message"]["seq"] == question["seq"], timeout=10
            )
        except TimeoutError:
            findings.append("the agent's socket never got the customer's message sent after the restart")
        if any(worker.poll() is not None for worker in cluster.cluster.workers):
            findings.append("the AI worker process exited when Redis went away")
        for customer in customers:
            assert not customer.shown_twice() and not customer.problems, customer.describe()
        report(
            "after the restart: live events",
            restarted_at,
            agent_socket_closed=agent_closed,
            reconnected=[c.name for c in customers if c.close_codes],
            close_codes=sorted({int(code) for c in customers for code in c.close_codes}),
        )
        if findings:
            print(f"\n[faults] lost or stuck after the Redis restart: {findings}")
            raise RedisRestartLoss("; ".join(findings))
    finally:
        await close_all(*customers, agent)


# --- 6. a slow consumer with a small channel layer --------------------------------------------------


@pytest.fixture
def small_layer_cluster(provider):
    """Its own cluster: every channel holds at most 20 messages."""
    with running_cluster("capacity", env=cluster_env(provider, CHANNEL_LAYER_CAPACITY="20")) as running:
        yield running


async def test_slow_consumer_loses_live_events_and_catches_up_by_resume(small_layer_cluster, provider):
    cluster = small_layer_cluster
    burst = 500
    cookie = await login_cookie(cluster.url, "agent", "parley-agent")
    agent, _, agent_port = await agent_on(cluster, cookie)
    clients: list = []
    try:
        token = await visitor_token(cluster.url, SHOP_ORIGIN)
        customer = await customer_on(cluster, token, avoid=agent_port, registry=clients)
        ack = await customer.wait_ack(await customer.send_message("I would like to talk to someone."))
        conversation = ack["conversation"]
        await customer.wait_until(
            lambda c: (r := bot_reply(c, ack["seq"])) is not None and r.status != "streaming", 20, "the bot's reply"
        )
        held_before = len(customer.messages)

        # The customer's Daphne stalls (SIGSTOP: the slowest consumer there is, like a long GC pause or a starved
        # host) while the agent sends a burst. Its process channel in Redis, shared by all its sockets, takes 20
        # messages; channels_redis silently skips a full channel on group_send, so the rest never reach it.
        slow = cluster.cluster.daphnes[customer.upstream]
        burst_at = time.monotonic()
        os.killpg(slow.pid, signal.SIGSTOP)
        try:
            await agent_send_many(agent, [(conversation, f"Line {i} of the answer.") for i in range(burst)], 120)
        finally:
            os.killpg(slow.pid, signal.SIGCONT)
        stored = cluster.rows(
            "select count(*) from chat_message where conversation_id = %s and author_kind = 'agent'", (conversation,)
        )
        assert stored == [(burst,)]
        report(f"burst of {burst} stored while the customer's Daphne was stalled", burst_at)

        # The next live event shows the customer what it missed (prev_seq), and it resumes. (Without one the
        # client could not know: nothing tells it the burst went on past what it got.)
        tail = (await agent_send_many(agent, [(conversation, "That is everything.")]))[0]
        expected = cluster.transcript(conversation)
        assert len(expected) == held_before + 1 + burst + 1  # "Sam joined the conversation", the burst, the tail
        await customer.wait_transcript(expected, timeout=30)
        live = sum(1 for f in customer.frames if f.get("type") == "message.new")
        # Noticed by prev_seq on a later message, or by the head cursor of its heartbeat's pong, whichever first.
        assert customer.resumes >= 1, "the loss was never noticed: the layer dropped nothing?"
        assert live < len(expected), "every message arrived live: the small layer dropped nothing"
        assert customer.connections == 1, "the customer had to reconnect"
        assert_clean(customer)
        report(
            "customer caught up by resume",
            burst_at,
            live_messages_received=live,
            gaps=customer.gaps,
            resumes=customer.resumes,
            duplicates_dropped=customer.duplicates,
            tail_seq=tail["seq"],
        )
    finally:
        await close_all(*clients, agent)
