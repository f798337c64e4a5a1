"""Scenario 1: idle widget sockets that said hello: memory per socket and idle CPU, against the raw floor."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

from bench import procstat, stats
from bench.pool import ClientPool, split
from bench.servers import BaselineServer, FloorServer, ParleyServer
from bench.wire import bounded, ws_open

TITLE = "Idle connections"
# step_timeout_s bounds each step's connecting; sockets not opened by then are reported as not tried.
FULL = {
    "sizes": [2000, 5000, 10000],
    "warm": 20,
    "settle_s": 2.0,
    "idle_window_s": 10.0,
    "clients": 2,
    "connect_limit": 50,
    "step_timeout_s": 60,
}
SMOKE = {
    "sizes": [20],
    "warm": 2,
    "settle_s": 0.2,
    "idle_window_s": 0.5,
    "clients": 1,
    "connect_limit": 20,
    "step_timeout_s": 60,
}
SYSTEMS = ["Parley", "minimal relay", "raw floor"]
FD_RESERVE = 300  # descriptors a process needs besides the sockets (files, pipes, database, layer)


async def _open(url: str, hello: str, expect: str | None, deadline: float):
    """Open and say hello, retrying like the widget (a busy server drops handshakes); None past the deadline."""
    for attempt in range(6):
        if time.time() > deadline:
            return None
        try:
            connection = await ws_open(url, attempts=1)
            await connection.send(hello)
            first = json.loads(await asyncio.wait_for(connection.recv(), 60))
            if expect and first.get("type") != expect:
                await connection.close()
                raise RuntimeError(f"expected {expect}, got {str(first)[:120]}")
            return connection
        except Exception:
            if attempt == 5:
                raise
            await asyncio.sleep(random.uniform(0, 0.5 * 2**attempt))
    return None


async def hold(share: dict, link) -> dict:
    """Client process: open the sockets each command lists (until its deadline), hold them; close on request."""
    held = []
    while True:
        command = await link.wait(share["timeout"])
        if command["op"] == "close":
            break
        started = time.monotonic()
        opened = await bounded([_open(*item, command["deadline"]) for item in command["items"]], share["limit"])
        good = [c for c in opened if c is not None and not isinstance(c, BaseException)]
        bad = [repr(c)[:200] for c in opened if isinstance(c, BaseException)]
        held += good
        link.report(
            {
                "ok": len(good),
                "failed": len(bad),
                "skipped": opened.count(None),
                "errors": bad[:3],
                "seconds": time.monotonic() - started,
            }
        )
    for connection in held:
        connection.transport.abort()  # the server is stopped next; a polite close of thousands only costs time
    return {"held": len(held)}


def _targets(system: str, server, count: int) -> list[tuple[str, str, str | None]]:
    if system.startswith("Parley"):
        url = f"ws://127.0.0.1:{server.port}/ws/widget/"
        return [
            (url, json.dumps({"type": "hello", "token": token, "cursor": "0.0"}), "welcome")
            for token in server.fixture["visitors"][:count]
        ]
    if system == "minimal relay":
        return [(f"ws://127.0.0.1:{server.port}/ws/room/idle-{i}/", '{"type":"hello"}', "hello") for i in range(count)]
    return [(f"ws://127.0.0.1:{server.port}/idle-{i}", '{"type":"hello"}', "hello") for i in range(count)]


def _server(system: str, context, count: int):
    if system == "Parley":
        return ParleyServer(context.databases, fixture={"visitors": count})
    if system == "minimal relay":
        return BaselineServer("bench.baselines.relay_asgi:application")
    return FloorServer()


def _measure(system: str, context, p: dict, increments: list[int]) -> list[dict]:
    rows = []
    total = sum(increments) + p["warm"]  # each step adds sockets to those already held
    with _server(system, context, total) as server:
        targets = _targets(system, server, total)
        shares = [{"timeout": p["step_timeout_s"] + 60, "limit": p["connect_limit"]} for _ in range(p["clients"])]
        with ClientPool(hold, shares) as pool:

            def grow(items) -> dict:
                deadline = time.time() + p["step_timeout_s"]
                for link, part in zip(pool.links, split(items, p["clients"])):
                    link.send({"op": "open", "items": part, "deadline": deadline})
                reports = pool.gather(p["step_timeout_s"] + 120)
                return {
                    "ok": sum(r["ok"] for r in reports),
                    "failed": sum(r["failed"] for r in reports),
                    "skipped": sum(r["skipped"] for r in reports),
                    "errors": [e for r in reports for e in r["errors"]][:3],
                    "seconds": max(r["seconds"] for r in reports),
                }

            warm = grow(targets[: p["warm"]])
            time.sleep(p["settle_s"])
            base_rss = procstat.rss_kib(server.pid)
            held, done = warm["ok"], p["warm"]
            for size in increments:
                step = grow(targets[done : done + size])
                done += size
                held += step["ok"]
                time.sleep(p["settle_s"])
                rss = procstat.rss_kib(server.pid)
                cpu0 = procstat.cpu_seconds(server.pid)
                time.sleep(p["idle_window_s"])
                idle_cpu = (procstat.cpu_seconds(server.pid) - cpu0) / p["idle_window_s"] * 100
                sockets = held - warm["ok"]
                rows.append(
                    {
                        "system": system,
                        "sockets": sockets,
                        "failed": step["failed"],
                        "not_tried": step["skipped"],
                        "rss_mib": round(rss / 1024, 1),
                        "kib_per_socket": round((rss - base_rss) / sockets, 1) if sockets else None,
                        "idle_cpu_pct": round(idle_cpu, 2),
                        "connects_per_s": round(step["ok"] / step["seconds"]) if step["seconds"] else None,
                        "errors": "; ".join(step["errors"])[:200] or None,
                    }
                )
                print(
                    f"   {system}: {sockets} sockets, {rows[-1]['kib_per_socket']} KiB each, "
                    f"idle CPU {rows[-1]['idle_cpu_pct']}%",
                    flush=True,
                )
                if step["failed"] > step["ok"] or step["skipped"]:
                    rows[-1]["saturated"] = "yes"
                    break  # more sockets would only fail, or wait, longer
            pool.tell({"op": "close"})
            pool.results(60)
    return rows


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    limit = context.fd_limit - FD_RESERVE
    # Each size adds sockets on top of the previous ones: the last size is the total held.
    totals = [min(s, limit) for s in p["sizes"]]
    increments = [b - a for a, b in zip([0] + totals, totals) if b > a]
    notes = []
    if totals != p["sizes"]:
        notes.append(f"open-files limit {context.fd_limit}: sizes capped at {limit} sockets")
    rows = []
    for system in p.get("systems", SYSTEMS):
        rows += _measure(system, context, p, increments)
    comparisons = []
    for metric, label in (("kib_per_socket", "KiB per idle socket"), ("idle_cpu_pct", "idle CPU % of a core")):
        for row in rows:
            if row["system"] != "Parley":
                continue
            for baseline in ("raw floor", "minimal relay"):
                other = next((r for r in rows if r["system"] == baseline and r["sockets"] == row["sockets"]), None)
                if other:
                    comparisons.append(
                        {
                            "what": f"{label} at {row['sockets']:,} sockets",
                            "parley": row[metric],
                            "baseline": baseline,
                            "baseline_value": other[metric],
                            "ratio": stats.ratio(row[metric], other[metric]),
                        }
                    )
    notes.append(
        "Sockets open 50 at a time per client process and retry like the widget; each step is bounded in "
        "time, and a step that fails or runs out of time ends that system's series (saturated)."
    )
    notes.append(
        "RSS of the server process (VmRSS) after all sockets said hello, minus RSS with the warm-up "
        "sockets only, divided by the sockets added; idle CPU over the idle window, keep-alive pings "
        "(every 20 s on both servers) included."
    )
    plots = [
        {
            "title": "Memory per idle socket",
            "xlabel": "sockets",
            "ylabel": "KiB per socket",
            "series": {s: [[r["sockets"], r["kib_per_socket"]] for r in rows if r["system"] == s] for s in SYSTEMS},
        },
        {
            "title": "Idle CPU",
            "xlabel": "sockets",
            "ylabel": "% of one core",
            "series": {s: [[r["sockets"], r["idle_cpu_pct"]] for r in rows if r["system"] == s] for s in SYSTEMS},
        },
    ]
    columns = [
        "system",
        "sockets",
        "failed",
        "not_tried",
        "rss_mib",
        "kib_per_socket",
        "idle_cpu_pct",
        "connects_per_s",
        "saturated",
        "errors",
    ]
    return {"rows": rows, "columns": columns, "comparisons": comparisons, "notes": notes, "plots": plots}
