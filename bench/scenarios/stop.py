"""Scenario 4: stops under streaming load: reply.stop → provider connection closed, and → reply.end received."""

from __future__ import annotations

import sys

from bench.scenarios.streaming import compare
from bench.streams import measure

TITLE = "Stop under load"
# Scenario 3's smallest load: at larger ones Parley (and the baselines) saturate before most replies start.
FULL = {
    "concurrency": 100,
    "stops": 60,
    "stop_after_s": [0.3, 1.5],
    "tokens": 150,
    "rate": 50.0,
    "per_site": 10,
    "spread_s": 1.0,
    "slack_s": 15.0,
    "clients": 2,
    "connect_timeout_s": 300,
}
SMOKE = {
    "concurrency": 10,
    "stops": 5,
    "stop_after_s": [0.05, 0.15],
    "tokens": 25,
    "rate": 50.0,
    "per_site": 5,
    "spread_s": 0.2,
    "slack_s": 8.0,
    "clients": 1,
    "connect_timeout_s": 60,
    "systems": ["Parley", "ack per token"],
}
SYSTEMS = ["Parley", "per-token stream", "ack per token"]
COLUMNS = [
    "system",
    "replies",
    "stops",
    "stop_closed",
    "stop_to_close_p50_ms",
    "stop_to_close_p99_ms",
    "stop_to_end_p50_ms",
    "stop_to_end_p99_ms",
    "delay_p99_ms",
    "saturated",
]


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    rows = []
    for system in p.get("systems", SYSTEMS):
        try:
            rows.append(measure(system, context, p, p["concurrency"], stops=p["stops"]))
        except Exception as exc:
            rows.append({"system": system, "replies": p["concurrency"], "saturated": f"failed: {exc!r}"[:200]})
        print(f"   {system}: " + ", ".join(f"{k} {rows[-1].get(k)}" for k in COLUMNS[2:]), flush=True)
    metrics = [
        ("stop_to_close_p50_ms", "stop → provider closed p50 ms"),
        ("stop_to_close_p99_ms", "stop → provider closed p99 ms"),
        ("stop_to_end_p50_ms", "stop → reply.end p50 ms"),
        ("stop_to_end_p99_ms", "stop → reply.end p99 ms"),
    ]
    comparisons = compare(rows, "Parley", ["per-token stream", "ack per token"], metrics)
    notes = [
        f"{p['stops']} of {p['concurrency']} concurrent replies (scenario 3's load) get a stop "
        f"{p['stop_after_s'][0]}–{p['stop_after_s'][1]} s after their first token. Closed: the fake provider "
        "saw the connection end (wall clock), minus the moment the customer sent the stop.",
        "The protocol promises stop → provider closed p99 <= 200 ms.",
    ]
    plots = [
        {
            "title": "Stop latency (p50, p99)",
            "xlabel": "percentile",
            "ylabel": "ms",
            "series": {
                f"{r['system']} → closed": [[50, r.get("stop_to_close_p50_ms")], [99, r.get("stop_to_close_p99_ms")]]
                for r in rows
            }
            | {
                f"{r['system']} → end": [[50, r.get("stop_to_end_p50_ms")], [99, r.get("stop_to_end_p99_ms")]]
                for r in rows
            },
            "hline": 200,
        }
    ]
    return {"rows": rows, "columns": COLUMNS, "comparisons": comparisons, "notes": notes, "plots": plots}
