"""Scenario 2: customer and agent chatting in many conversations at a rising message rate; p50/p99 latency."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from bench import parley_client, procstat, stats
from bench.pool import ClientPool, split
from bench.servers import BaselineServer, FloorServer, ParleyServer
from bench.wire import bounded, send_json, ws_open

TITLE = "Chat relay"
FULL = {
    "conversations": 500,
    "per_site": 10,
    "rates": [10, 25, 50, 100, 200, 400, 800, 1600, 3200],
    "step_s": 3.0,
    "drain_s": 1.5,
    "clients": 2,
    "p99_budget_ms": 50,
}
SMOKE = {
    "conversations": 20,
    "per_site": 10,
    "rates": [20],
    "step_s": 1.0,
    "drain_s": 0.3,
    "clients": 1,
    "p99_budget_ms": 50,
    "layers": ["memory"],
}
GIVE_UP_P99_MS = 1000  # past this a step is saturated beyond doubt: higher rates only queue more
COLUMNS = [
    "system",
    "layer",
    "rate_msgs_s",
    "deliveries_s",
    "sent",
    "lost",
    "errors",
    "p50_ms",
    "p99_ms",
    "cpu_ms_per_msg",
    "server_cpu_pct",
    "within_budget",
]
CPU_NOTE = (
    "Server CPU: user + system time of the server processes (each one's CPU-time clock, every thread; "
    "not the database, Redis or the clients) from the step's first send to the end of its drain; "
    "cpu_ms_per_msg divides it by the messages sent, server_cpu_pct by the wall time (% of one core). "
    "It is compared at the first rate, where every system idles, and at the highest rate both sides kept "
    "within budget: per-message cost falls as fixed work (pings, sweeps, wake-ups) spreads over more "
    "messages, so only the same step compares, and past its budget a server's backlog spills into the "
    "next step."
)


def _stamp(k: int) -> str:
    return f"{time.time():.6f} m{k}"


class Meter:
    """Latencies of messages received by the other side, and frames received overall."""

    def __init__(self):
        self.latencies: list[float] = []
        self.frames = 0
        self.errors = 0

    def reset(self) -> None:
        self.latencies, self.frames, self.errors = [], 0, 0

    async def read(self, connection, body_of) -> None:
        """Count each frame; time the ones `body_of` recognises as the other side's messages."""
        try:
            async for text in connection:
                now = time.time()
                self.frames += 1
                frame = json.loads(text)
                if frame.get("type") == "error":
                    self.errors += 1
                body = body_of(frame)
                if body:
                    self.latencies.append(now - float(body.split(" ", 1)[0]))
        except Exception:
            self.errors += 1  # a socket closed by a saturated server: its messages count as lost


def _from_customer(frame: dict) -> str | None:
    if frame.get("type") == "message.new" and frame["message"]["author"]["kind"] == "customer":
        return frame["message"]["body"]
    return None


def _from_agent(frame: dict) -> str | None:
    if frame.get("type") == "message.new" and frame["message"]["author"]["kind"] == "agent":
        return frame["message"]["body"]
    return None


async def _parley_pairs(share: dict, meter: Meter, tasks: list) -> list:
    port = share["port"]

    async def site_pairs(site: dict) -> list:
        desk = await parley_client.agent(port, site["cookie"], [c["id"] for c in site["conversations"]])
        tasks.append(asyncio.create_task(meter.read(desk, _from_customer)))
        pairs = []
        for conversation in site["conversations"]:
            widget, _ = await parley_client.customer(port, conversation["token"])
            tasks.append(asyncio.create_task(meter.read(widget, _from_agent)))

            def by_customer(body, widget=widget):
                return send_json(widget, {"type": "message.send", "client_id": str(uuid.uuid4()), "body": body})

            def by_agent(body, cid=conversation["id"]):
                return send_json(
                    desk, {"type": "message.send", "conversation": cid, "client_id": str(uuid.uuid4()), "body": body}
                )

            pairs.append((by_customer, by_agent))
        return pairs

    results = await bounded([site_pairs(site) for site in share["sites"]], 20)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    return [pair for r in results for pair in r]


async def _room_pairs(share: dict, meter: Meter, tasks: list) -> list:
    async def room(url: str):
        customer, agent = await ws_open(url, origin=None), await ws_open(url, origin=None)
        tasks.append(asyncio.create_task(meter.read(customer, lambda f: f["body"] if f.get("from") == "a" else None)))
        tasks.append(asyncio.create_task(meter.read(agent, lambda f: f["body"] if f.get("from") == "c" else None)))
        return (
            lambda body: send_json(customer, {"from": "c", "body": body}),
            lambda body: send_json(agent, {"from": "a", "body": body}),
        )

    results = await bounded([room(url) for url in share["urls"]], 50)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    return results


async def converse(share: dict, link) -> dict:
    """Client process: open the conversations, then send at each rate the coordinator names."""
    meter, tasks = Meter(), []
    pairs = await (_parley_pairs if share["kind"] == "parley" else _room_pairs)(share, meter, tasks)
    link.report({"ready": len(pairs)})
    loop = asyncio.get_running_loop()
    while True:
        command = await link.wait(600)
        if command["op"] == "close":
            break
        meter.reset()
        sent, started = 0, loop.time()
        rate, seconds = command["rate"], command["seconds"]
        while (elapsed := loop.time() - started) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                customer_side, agent_side = pairs[sent % len(pairs)]
                side = customer_side if (sent // len(pairs)) % 2 == 0 else agent_side
                try:
                    await side(_stamp(sent))
                except Exception:
                    meter.errors += 1
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.sleep(command["drain"])
        link.report({"sent": sent, "latencies": meter.latencies, "frames": meter.frames, "errors": meter.errors})
    for task in tasks:
        task.cancel()
    return {}


def _shares(system: str, server, p: dict) -> list[dict]:
    if system.startswith("Parley"):
        sites = [
            {"cookie": server.fixture["sites"][index]["cookie"], "conversations": conversations}
            for index, conversations in sorted(parley_client.by_site(server.fixture["conversations"]).items())
        ]
        return [{"kind": "parley", "port": server.port, "sites": part} for part in split(sites, p["clients"])]
    if system == "minimal relay":
        urls = [f"ws://127.0.0.1:{server.port}/ws/room/c{i}/" for i in range(p["conversations"])]
    else:
        urls = [f"ws://127.0.0.1:{server.port}/c{i}" for i in range(p["conversations"])]
    return [{"kind": "room", "urls": part} for part in split(urls, p["clients"])]


def start_server(system: str, layer: str, context, p: dict):
    """The server `system` names, on `layer`, with Parley's conversations made by bench/fixtures.py."""
    if system.startswith("Parley"):
        return ParleyServer(context.databases, layer=layer, fixture=fixture(p))
    if system == "minimal relay":
        return BaselineServer("bench.baselines.relay_asgi:application", layer=layer)
    return FloorServer()


def fixture(p: dict) -> dict:
    """The conversations every Parley server of this load gets, each with its agent."""
    return {"conversations": p["conversations"], "per_site": p["per_site"], "owner": "agent"}


def _step(pool: ClientPool, pids: list[int], rate: int, p: dict) -> dict:
    """One rate step: latencies and losses, and the server processes' CPU over the send window and drain."""
    cpu_before, started = procstat.cpu_seconds(*pids), time.monotonic()
    pool.tell({"op": "step", "rate": rate / p["clients"], "seconds": p["step_s"], "drain": p["drain_s"]})
    reports = pool.gather(p["step_s"] + p["drain_s"] + 120)
    cpu, wall = procstat.cpu_seconds(*pids) - cpu_before, time.monotonic() - started
    latencies = [x for r in reports for x in r["latencies"]]
    sent = sum(r["sent"] for r in reports)
    summary = stats.summary_ms(latencies)
    lost = max(0, sent - len(latencies))
    ok = summary["p99_ms"] is not None and summary["p99_ms"] <= p["p99_budget_ms"] and lost <= sent * 0.01
    return {
        "rate_msgs_s": rate,
        "deliveries_s": round(sum(r["frames"] for r in reports) / p["step_s"]),
        "sent": sent,
        "lost": lost,
        "errors": sum(r["errors"] for r in reports),
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "cpu_ms_per_msg": round(cpu * 1000 / sent, 3) if sent else None,
        "server_cpu_pct": round(cpu / wall * 100, 1),
        "within_budget": "yes" if ok else "no",
    }


def ladder(server, system: str, layer: str, p: dict) -> list[dict]:
    """Step a running server through the rates until it saturates; one row per step."""
    rows, misses = [], 0
    pids = server.pids  # once: the processes do not change, and listing nginx's workers scans /proc
    with ClientPool(converse, _shares(system, server, p)) as pool:
        pool.gather(300)
        for rate in p["rates"]:
            row = {"system": system, "layer": layer, **_step(pool, pids, rate, p), "alive": server.alive()}
            rows.append(row)
            print(
                f"   {system}/{layer} {rate} msg/s: p50 {row['p50_ms']} p99 {row['p99_ms']} ms, lost {row['lost']}, "
                f"CPU {row['cpu_ms_per_msg']} ms/msg ({row['server_cpu_pct']} %)",
                flush=True,
            )
            misses = 0 if row["within_budget"] == "yes" else misses + 1
            if (
                misses >= 2
                or (row["p99_ms"] or 1e9) > GIVE_UP_P99_MS
                or row["lost"] > row["sent"] * 0.1
                or not row["alive"]
            ):
                row["within_budget"] = "saturated"
                break
        pool.tell({"op": "close"})
        pool.results(60)
    return rows


def _run_system(system: str, layer: str, context, p: dict) -> list[dict]:
    """Start the system's server, climb its ladder, stop it."""
    with start_server(system, layer, context, p) as server:
        return ladder(server, system, layer, p)


def within(rows: list[dict], system: str, layer: str) -> list[int]:
    """The rates at which `system` on `layer` was within budget."""
    return [
        r["rate_msgs_s"] for r in rows if r["system"] == system and r["layer"] == layer and r["within_budget"] == "yes"
    ]


def best(rows: list[dict], system: str, layer: str) -> int | None:
    """The highest rate within budget, or None."""
    return max(within(rows, system, layer), default=None)


def row_at(rows: list[dict], system: str, layer: str, rate: int) -> dict:
    """The step of `system` on `layer` at `rate`; {} when its ladder ended before it."""
    return next((r for r in rows if r["system"] == system and r["layer"] == layer and r.get("rate_msgs_s") == rate), {})


def compare_best(rows: list[dict], what: str, mine: tuple, theirs: tuple, label: str) -> dict:
    """The highest rate within budget, `mine` ÷ `theirs` (below 1: `mine` carries less)."""
    value, other = best(rows, *mine), best(rows, *theirs)
    return {
        "what": what,
        "parley": value,
        "baseline": label,
        "baseline_value": other,
        "ratio": stats.ratio(value, other),
    }


def compare_at(rows: list[dict], what: str, key: str, mine: tuple, theirs: tuple, rate: int) -> dict:
    """One column at one rate step: `mine` ÷ `theirs`, each a (system, layer)."""
    value, other = row_at(rows, *mine, rate).get(key), row_at(rows, *theirs, rate).get(key)
    return {
        "what": what,
        "parley": value,
        "baseline": f"{theirs[0]} ({theirs[1]})",
        "baseline_value": other,
        "ratio": stats.ratio(value, other),
    }


def cpu_rates(rows: list[dict], mine: tuple, theirs: tuple, first: int) -> list[int]:
    """Where CPU per message is compared: the first rate, and the highest at which both were within budget.

    CPU per message falls as the rate rises (pings, sweeps and wake-ups are spread over more messages), so
    both sides are compared at the same step; past its budget a server's backlog spills into later steps.
    """
    shared = set(within(rows, *mine)) & set(within(rows, *theirs))
    return sorted({first, *([max(shared)] if shared else [])})


def cpu_comparisons(rows: list[dict], mine: tuple, theirs: tuple, first: int, scope: str) -> list[dict]:
    """Server CPU ms per message, `mine` ÷ `theirs`, at each rate cpu_rates() picks."""
    return [
        compare_at(rows, f"server CPU ms per message at {rate} msgs/s, {scope}", "cpu_ms_per_msg", mine, theirs, rate)
        for rate in cpu_rates(rows, mine, theirs, first)
    ]


def _comparisons(rows: list[dict], layers: list[str], p: dict) -> list[dict]:
    """Per layer: Parley against the minimal relay on that layer and the raw floor."""
    comparisons, first = [], p["rates"][0]
    for layer in layers:
        mine, baselines = ("Parley", layer), (("minimal relay", layer), ("raw floor", "none"))
        for theirs in baselines:
            label = f"{theirs[0]} ({layer})" if theirs[1] == layer else theirs[0]
            comparisons.append(
                compare_best(
                    rows, f"highest msgs/s with p99 <= {p['p99_budget_ms']} ms, {layer} layer", mine, theirs, label
                )
            )
        for theirs in baselines:
            comparisons.append(
                compare_at(rows, f"p99 ms at {first} msgs/s, {layer} layer", "p99_ms", mine, theirs, first)
            )
        for theirs in baselines:
            comparisons += cpu_comparisons(rows, mine, theirs, first, f"{layer} layer")
    return comparisons


def p99_chart(title: str, rows: list[dict], p: dict) -> dict:
    """A chart of p99 by rate, one line per system and layer, with the budget drawn across."""
    series = {f"{r['system']} ({r['layer']})": [] for r in rows}
    for r in rows:
        if r.get("rate_msgs_s"):
            series[f"{r['system']} ({r['layer']})"].append([r["rate_msgs_s"], r["p99_ms"]])
    return {
        "title": title,
        "xlabel": "messages per second",
        "ylabel": "p99 ms (log)",
        "logx": True,
        "logy": True,
        "hline": p["p99_budget_ms"],
        "series": series,
    }


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    # `--set layers=[...]` may also name "redis-pubsub" (channels-redis's pub/sub layer) to compare.
    layers = [
        layer
        for layer in p.get("layers", context.layers())
        if layer == "memory" or (context.redis and layer.startswith("redis"))
    ]
    runs = [(s, layer) for layer in layers for s in ("Parley", "minimal relay")] + [("raw floor", "none")]
    rows = []
    for system, layer in runs:
        try:
            rows += _run_system(system, layer, context, p)
        except Exception as exc:  # one system failing to start must not hide the others' numbers
            rows.append({"system": system, "layer": layer, "within_budget": f"failed: {exc!r}"[:200]})
    comparisons = _comparisons(rows, layers, p)
    notes = [
        f"{p['conversations']} conversations; Parley: one widget socket each and one desk socket per site of "
        f"{p['per_site']} conversations (subscribed to them); baselines: two sockets per room. Messages alternate "
        "customer/agent; latency is send → the other side's receipt (wall clock in the body).",
        "Parley stores every message (PostgreSQL unless stated) and sends it to the visitor, the conversation "
        "and the site inbox; the baselines store nothing.",
        "A step is within budget when p99 <= budget and under 1% is lost; two misses in a row, or p99 over "
        f"{GIVE_UP_P99_MS} ms, end the ladder (saturated).",
        CPU_NOTE,
    ]
    plots = [p99_chart("Chat relay: p99 latency by message rate", rows, p)]
    return {"rows": rows, "columns": COLUMNS, "comparisons": comparisons, "notes": notes, "plots": plots}
