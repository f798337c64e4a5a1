"""Streamed bot replies under load, shared by the streaming, stop and SSE scenarios.

Each conversation's customer asks once; the fake provider streams stamped tokens; the customer and one
agent socket watch. Delay of a token = its arrival at a viewer minus the provider's stamp.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid

from bench import parley_client, procstat, stats
from bench.pool import ClientPool, split
from bench.servers import BaselineServer, FakeLLM, ParleyServer
from bench.wire import bounded, send_json, sse_post, ws_open

STAMP = re.compile(r"t(\d+\.\d+)")
ARRIVAL = re.compile(r"r(\d+\.\d+) t(\d+\.\d+)")
SYSTEMS = {
    "Parley": "chatsite.asgi:application",
    "per-token stream": "bench.baselines.per_token_asgi:application",
    "ack per token": "bench.baselines.ack_asgi:application",
    "Parley, persistent DB connections": "chatsite.asgi:application",
}


class Reply:
    """What one customer saw of its reply."""

    def __init__(self, qid: str):
        self.qid = qid
        self.asked = self.first = self.ended = self.stop_sent = None
        self.reply_id = None
        self.status = None
        self.provider_wait = None  # provider's own time to first token (arrival -> stamp of token 0)


class Watch:
    """Samples collected in one client process."""

    def __init__(self):
        self.delays: list[float] = []
        self.tokens = 0
        self.agent_ends = 0

    def text(self, text: str, now: float, reply: Reply | None) -> None:
        """Record the stamped tokens in a piece of reply text."""
        stamps = STAMP.findall(text)
        self.tokens += len(stamps)
        self.delays += [now - float(s) for s in stamps]
        if reply is not None and reply.first is None:
            reply.first = now
            match = ARRIVAL.search(text)
            if match:
                reply.provider_wait = float(match.group(2)) - float(match.group(1))


async def _stop_later(reply: Reply, delay: float, send) -> None:
    await asyncio.sleep(delay)
    if reply.ended is None:
        reply.stop_sent = time.time()
        await send()


async def _parley_customer(share, conversation, watch: Watch, reply: Reply, stops: dict, tasks: list):
    widget, _ = await parley_client.customer(share["port"], conversation["token"])

    async def read():
        async for raw in widget:
            now, frame = time.time(), json.loads(raw)
            kind = frame.get("type")
            if kind == "reply.start":
                reply.reply_id = frame["reply_id"]
            elif kind == "reply.delta":
                first = reply.first is None
                watch.text(frame["text"], now, reply)
                if first and reply.qid in stops:
                    tasks.append(
                        asyncio.create_task(
                            _stop_later(
                                reply,
                                stops[reply.qid],
                                lambda: send_json(widget, {"type": "reply.stop", "reply_id": reply.reply_id}),
                            )
                        )
                    )
            elif kind == "reply.end":
                reply.ended, reply.status = now, frame["status"]
                return

    async def ask():
        reply.asked = time.time()
        await send_json(widget, {"type": "message.send", "client_id": str(uuid.uuid4()), "body": f"{reply.qid} hi"})

    tasks.append(asyncio.create_task(read()))
    return ask


async def _sse_customer(share, conversation, watch: Watch, reply: Reply, stops: dict, tasks: list):
    async def ask():
        reply.asked = time.time()
        headers = {"Authorization": f"Bearer {conversation['token']}", "Accept": "text/event-stream"}
        async for data in sse_post(
            share["port"], "/api/widget/messages", {"client_id": str(uuid.uuid4()), "body": f"{reply.qid} hi"}, headers
        ):
            now = time.time()
            if data == "[DONE]":
                reply.ended = reply.ended or now
                return
            chunk = json.loads(data)
            choice = chunk["choices"][0]
            if choice["delta"].get("content"):
                watch.text(choice["delta"]["content"], now, reply)
            if choice.get("finish_reason"):
                reply.ended, reply.status = now, chunk.get("parley_status", "complete")

    return lambda: tasks.append(asyncio.create_task(ask()))


async def _parley_agent(share, site, watch: Watch, tasks: list) -> None:
    desk = await parley_client.agent(share["port"], site["cookie"], [c["id"] for c in site["conversations"]])

    async def read():
        async for raw in desk:
            now, frame = time.time(), json.loads(raw)
            if frame.get("type") == "reply.delta":
                watch.text(frame["text"], now, None)
            elif frame.get("type") == "reply.end":
                watch.agent_ends += 1

    tasks.append(asyncio.create_task(read()))


async def _ack_customer(share, conversation, watch: Watch, reply: Reply, stops: dict, tasks: list):
    socket = await ws_open(f"ws://127.0.0.1:{share['port']}/ws/ack/?rooms={conversation['id']}", origin=None)

    async def read():
        async for raw in socket:
            now, frame = time.time(), json.loads(raw)
            if frame["type"] == "token":
                first = reply.first is None
                watch.text(frame["text"], now, reply)
                await send_json(socket, {"type": "ack", "i": frame["i"]})
                if first and reply.qid in stops:
                    tasks.append(
                        asyncio.create_task(
                            _stop_later(reply, stops[reply.qid], lambda: send_json(socket, {"type": "stop"}))
                        )
                    )
            elif frame["type"] == "end":
                reply.ended, reply.status = now, frame["status"]
                return

    async def ask():
        reply.asked = time.time()
        await send_json(socket, {"type": "ask", "q": f"{reply.qid} hi"})

    tasks.append(asyncio.create_task(read()))
    return ask


async def _ack_agent(share, site, watch: Watch, tasks: list) -> None:
    rooms = ",".join(str(c["id"]) for c in site["conversations"])
    socket = await ws_open(f"ws://127.0.0.1:{share['port']}/ws/ack/?rooms={rooms}", origin=None)

    async def read():
        async for raw in socket:
            now, frame = time.time(), json.loads(raw)
            if frame["type"] == "token":
                watch.text(frame["text"], now, None)
            elif frame["type"] == "end":
                watch.agent_ends += 1

    tasks.append(asyncio.create_task(read()))


async def watch_replies(share: dict, link) -> dict:
    """Client process: open the viewers, ask on the coordinator's word, report what each viewer saw."""
    watch, tasks, replies, asks = Watch(), [], [], []
    customer = {"ws": _parley_customer, "sse": _sse_customer, "ack": _ack_customer}[share["mode"]]
    agent = _ack_agent if share["mode"] == "ack" else _parley_agent
    stops = share.get("stops", {})

    async def open_site(site):
        await agent(share, site, watch, tasks)
        for conversation in site["conversations"]:
            reply = Reply(f"q{conversation['id']}")
            replies.append(reply)
            asks.append((conversation["order"], await customer(share, conversation, watch, reply, stops, tasks)))

    failed = [r for r in await bounded([open_site(s) for s in share["sites"]], 20) if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    link.report({"ready": len(replies)})
    command = await link.wait(600)
    loop = asyncio.get_running_loop()
    base = loop.time() + command["start_at"] - time.time()
    for order, ask in sorted(asks, key=lambda pair: pair[0]):
        # Spread the questions evenly over the ramp, by each conversation's global order.
        target = base + command["spread"] * order / command["total"]
        if target > loop.time():
            await asyncio.sleep(target - loop.time())
        result = ask()
        if asyncio.iscoroutine(result):
            await result
    deadline = loop.time() + max(0.0, command["deadline"] - time.time())
    agents_expected = len(replies)
    while loop.time() < deadline and not (all(r.ended for r in replies) and watch.agent_ends >= agents_expected):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the last agent frames trail the customer's end by a hop
    for task in tasks:
        task.cancel()
    return {
        "delays": watch.delays,
        "tokens": watch.tokens,
        "agent_ends": watch.agent_ends,
        "replies": [
            {
                "qid": r.qid,
                "asked": r.asked,
                "first": r.first,
                "ended": r.ended,
                "status": r.status,
                "stop_sent": r.stop_sent,
                "provider_wait": r.provider_wait,
            }
            for r in replies
        ],
    }


def _sites(server_fixture: dict) -> list[dict]:
    grouped = parley_client.by_site(server_fixture["conversations"])
    return [
        {"cookie": server_fixture["sites"][index]["cookie"], "conversations": conversations}
        for index, conversations in sorted(grouped.items())
    ]


def _ack_sites(count: int, per_site: int) -> list[dict]:
    conversations = [{"id": i + 1} for i in range(count)]
    return [{"cookie": None, "conversations": conversations[i : i + per_site]} for i in range(0, count, per_site)]


def start(system: str, context, *, concurrency: int, per_site: int, llm: FakeLLM, layer: str = "memory"):
    """The server for one run: Parley or the per-token variant (on a fresh database), or the ack baseline."""
    if system == "ack per token":
        return BaselineServer(SYSTEMS[system], layer=layer, BENCH_AI_BASE_URL=llm.base_url)
    return ParleyServer(
        context.databases,
        layer=layer,
        app=SYSTEMS[system],
        fixture={"conversations": concurrency, "per_site": per_site, "owner": "bot"},
        AI_PROVIDER="openai",
        AI_BASE_URL=llm.base_url,
        AI_API_KEY="bench",
        AI_MAX_TOKENS="100000",
    )


def measure(
    system: str, context, p: dict, concurrency: int, *, mode: str = "ws", stops: int = 0, layer: str = "memory"
) -> dict:
    """Run `concurrency` replies at once; a row of delays, TTFT added, CPU per token, and stop timings."""
    with (
        FakeLLM(tokens=p["tokens"], rate=p["rate"]) as llm,
        start(system, context, concurrency=concurrency, per_site=p["per_site"], llm=llm, layer=layer) as server,
    ):
        sites = _ack_sites(concurrency, p["per_site"]) if system == "ack per token" else _sites(server.fixture)
        order = 0
        for site in sites:
            for conversation in site["conversations"]:
                conversation["order"], order = order, order + 1
        chosen = _stop_plan(sites, stops, p)
        shares = [
            {"mode": "ack" if system == "ack per token" else mode, "port": server.port, "sites": part, "stops": chosen}
            for part in split(sites, p["clients"])
        ]
        with ClientPool(watch_replies, shares) as pool:
            pool.gather(p["connect_timeout_s"])
            start_at = time.time() + 1.0
            budget = p["spread_s"] + p["tokens"] / p["rate"] + p["slack_s"]
            cpu_before = procstat.cpu_seconds(*server.pids)
            pool.tell(
                {
                    "op": "go",
                    "start_at": start_at,
                    "spread": p["spread_s"],
                    "total": concurrency,
                    "deadline": start_at + budget,
                }
            )
            results = pool.results(budget + 90)
            cpu = procstat.cpu_seconds(*server.pids) - cpu_before
        provider = llm.stats()
        alive = server.alive()
    return _row(system, mode, layer, concurrency, results, provider, cpu, alive)


def _stop_plan(sites: list[dict], stops: int, p: dict) -> dict:
    """Which replies get a stop, and how long after their first token (spread so stops do not bunch)."""
    if not stops:
        return {}
    everyone = [c for site in sites for c in site["conversations"]]
    step = max(1, len(everyone) // stops)
    rng = random.Random(7)
    return {f"q{c['id']}": rng.uniform(*p["stop_after_s"]) for c in everyone[::step][:stops]}


def _row(
    system: str, mode: str, layer: str, concurrency: int, results: list[dict], provider: dict, cpu: float, alive: bool
) -> dict:
    delays = [d for r in results for d in r["delays"]]
    replies = [x for r in results for x in r["replies"]]
    tokens = sum(r["tokens"] for r in results)
    ended = [x for x in replies if x["ended"]]
    ttft_added = [x["first"] - x["asked"] - (x["provider_wait"] or 0.0) for x in replies if x["first"] and x["asked"]]
    stopped = [x for x in replies if x["stop_sent"]]
    to_end = [x["ended"] - x["stop_sent"] for x in stopped if x["ended"]]
    to_close = [
        provider[x["qid"]]["closed"] - x["stop_sent"]
        for x in stopped
        if x["qid"] in provider and provider[x["qid"]]["closed"]
    ]
    sent = sum(v["sent"] for v in provider.values())
    delay, ttft = stats.summary_ms(delays), stats.summary_ms(ttft_added)
    wanted = 2 * sent  # every token the provider wrote should reach the customer and the agent
    complete = len(ended) >= 0.99 * len(replies) and tokens >= 0.99 * wanted
    return {
        "system": system,
        "transport": mode if system != "ack per token" else "ws",
        "layer": layer,
        "replies": concurrency,
        "ended": len(ended),
        "provider_tokens": sent,
        "delivered_tokens": tokens,
        "delivered_pct": round(100 * tokens / wanted, 1) if wanted else None,
        "delay_p50_ms": delay["p50_ms"],
        "delay_p99_ms": delay["p99_ms"],
        "ttft_added_p50_ms": ttft["p50_ms"],
        "ttft_added_p99_ms": ttft["p99_ms"],
        "cpu_s": round(cpu, 2),
        "cpu_us_per_token": round(cpu / tokens * 1e6, 1) if tokens else None,
        "stops": len(stopped),
        "stop_to_close_p50_ms": stats.summary_ms(to_close)["p50_ms"],
        "stop_to_close_p99_ms": stats.summary_ms(to_close)["p99_ms"],
        "stop_closed": len(to_close),
        "stop_to_end_p50_ms": stats.summary_ms(to_end)["p50_ms"],
        "stop_to_end_p99_ms": stats.summary_ms(to_end)["p99_ms"],
        "saturated": "no" if complete and alive else "yes",
    }
