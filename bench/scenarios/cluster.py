"""Scenario: the chat relay's load on Parley as production runs it (nginx, two Daphnes, an AI worker) vs one Daphne."""

from __future__ import annotations

import os
import sys

from bench.databases import REDIS_URL
from bench.scenarios import relay
from bench.servers import ClusterServer
from deploy.cluster import NGINX

TITLE = "Production topology"
# Rates stop at 800: two Daphnes on this machine's two cores saturate long before, and the bound keeps a full
# run near 3 minutes (two ladders of at most 7 steps of 4.5 s, plus starting the servers and 550 sockets).
FULL = {
    "conversations": 500,
    "per_site": 10,
    "rates": [10, 25, 50, 100, 200, 400, 800],
    "step_s": 3.0,
    "drain_s": 1.5,
    "clients": 2,
    "p99_budget_ms": 50,
    "daphnes": 2,
    "workers": 1,
}
SMOKE = {
    "conversations": 20,
    "per_site": 10,
    "rates": [20],
    "step_s": 1.0,
    "drain_s": 0.3,
    "clients": 1,
    "p99_budget_ms": 50,
    "daphnes": 2,
    "workers": 1,
}
CLUSTER = ("Parley cluster", "redis")
ONE = ("Parley, one Daphne", "redis")  # relay.py's Parley on the Redis layer


def missing(context) -> str:
    """Why the cluster cannot run here, or "" when it can."""
    if not os.path.exists(NGINX):
        return f"nginx is not installed ({NGINX})"
    if not context.redis:
        return f"Redis does not answer at {REDIS_URL}"
    if context.engine != "postgres":
        return "needs PostgreSQL: the cluster's processes share one database"
    return ""


def _cluster(context, p: dict) -> ClusterServer:
    return ClusterServer(context.databases, fixture=relay.fixture(p), daphnes=p["daphnes"], workers=p["workers"])


def _one_daphne(context, p: dict):
    return relay.start_server(ONE[0], ONE[1], context, p)


def _ladders(context, p: dict) -> list[dict]:
    """The relay ladder on the cluster, then on one Daphne; a row saying why for one that could not run."""
    reason, rows = missing(context), []
    for (system, layer), start in ((CLUSTER, _cluster), (ONE, _one_daphne)):
        if reason:
            rows.append({"system": system, "layer": layer, "within_budget": f"skipped: {reason}"})
            continue
        try:
            with start(context, p) as server:
                rows += relay.ladder(server, system, layer, p)
        except Exception as exc:  # the cluster failing to start must not hide one Daphne's numbers
            print(f"   {system} failed: {exc}", flush=True)  # the row keeps 200 characters; this, the logs
            rows.append({"system": system, "layer": layer, "within_budget": f"failed: {exc!r}"[:200]})
    return rows


def _comparisons(rows: list[dict], p: dict) -> list[dict]:
    """The cluster ÷ one Daphne: capacity, latency at the first rate, CPU per message."""
    first, label = p["rates"][0], f"{ONE[0]} ({ONE[1]})"
    comparisons = [
        relay.compare_best(rows, f"highest msgs/s with p99 <= {p['p99_budget_ms']} ms", CLUSTER, ONE, label),
        relay.compare_at(rows, f"p50 ms at {first} msgs/s", "p50_ms", CLUSTER, ONE, first),
        relay.compare_at(rows, f"p99 ms at {first} msgs/s", "p99_ms", CLUSTER, ONE, first),
        *relay.cpu_comparisons(rows, CLUSTER, ONE, first, "all server processes"),
    ]
    return [{**c, "subject": CLUSTER[0]} for c in comparisons]  # printed in place of "Parley"


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    rows = _ladders(context, p)
    notes = [
        f"The relay scenario's load ({p['conversations']} conversations, customer and agent, rising rate) on "
        f"Parley as deploy/cluster.py runs it: nginx in front of {p['daphnes']} Daphne processes "
        f"(`--proxy-headers`, default verbosity and backlog) and {p['workers']} `runworker ai-reply` process; "
        "against one Daphne started as relay.py starts it (`-v 0`, backlog 1024, AI worker embedded). Both on "
        "PostgreSQL and the Redis channel layer; ratio = cluster ÷ one Daphne.",
        "Clients connect to nginx's port; nginx spreads sockets round-robin, so a customer and its agent are "
        "often on different Daphnes and their messages cross processes through Redis. The conversations are "
        "agent-owned: the AI worker idles, as it does between bot replies.",
        "The cluster's server CPU sums nginx (master and its worker), the Daphnes and the AI worker.",
        relay.CPU_NOTE,
        "Within budget, saturated and the ladder's end as in the relay scenario.",
    ]
    plots = [relay.p99_chart("Production topology: p99 latency by message rate", rows, p)]
    return {
        "rows": rows,
        "columns": relay.COLUMNS,
        "comparisons": _comparisons(rows, p),
        "notes": notes,
        "plots": plots,
    }
