"""Scenario 3: concurrent bot replies streamed to a customer and an agent each; delay Parley adds per token."""

from __future__ import annotations

import sys

from bench import stats
from bench.streams import measure

TITLE = "Token streaming"
# 30 is below the size asked for: there Parley is not yet saturated, so the delay it adds can be read.
FULL = {
    "concurrency": [30, 100, 300, 1000],
    "tokens": 150,
    "rate": 50.0,
    "per_site": 10,
    "spread_s": 1.0,
    "slack_s": 15.0,
    "clients": 2,
    "connect_timeout_s": 300,
}
SMOKE = {
    "concurrency": [10],
    "tokens": 10,
    "rate": 50.0,
    "per_site": 5,
    "spread_s": 0.2,
    "slack_s": 8.0,
    "clients": 1,
    "connect_timeout_s": 60,
}
SYSTEMS = ["Parley", "per-token stream", "ack per token"]
COLUMNS = [
    "system",
    "transport",
    "replies",
    "ended",
    "provider_tokens",
    "delivered_tokens",
    "delivered_pct",
    "delay_p50_ms",
    "delay_p99_ms",
    "ttft_added_p50_ms",
    "ttft_added_p99_ms",
    "cpu_us_per_token",
    "saturated",
]


def compare(rows: list[dict], parley: str, baselines: list[str], metrics: list[tuple[str, str]]) -> list[dict]:
    """Parley's row against each baseline's row of the same size, metric by metric."""
    out = []
    for row in (r for r in rows if r["system"] == parley):
        for baseline in baselines:
            other = next((r for r in rows if r["system"] == baseline and r["replies"] == row["replies"]), None)
            if other is None:
                continue
            for key, label in metrics:
                out.append(
                    {
                        "what": f"{label}, {row['replies']} replies",
                        "parley": row.get(key),
                        "baseline": baseline,
                        "baseline_value": other.get(key),
                        "ratio": stats.ratio(row.get(key), other.get(key)),
                    }
                )
    return out


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    rows = []
    for concurrency in p["concurrency"]:
        for system in p.get("systems", SYSTEMS):
            try:
                rows.append(measure(system, context, p, concurrency))
                if system == "Parley":
                    context.shared[("parley-ws", concurrency, p["tokens"], p["rate"])] = rows[-1]
            except Exception as exc:
                rows.append({"system": system, "replies": concurrency, "saturated": f"failed: {exc!r}"[:200]})
            print(
                f"   {system} x{concurrency}: " + ", ".join(f"{k} {rows[-1].get(k)}" for k in COLUMNS[5:]), flush=True
            )
    metrics = [
        ("delay_p50_ms", "token delay p50 ms"),
        ("delay_p99_ms", "token delay p99 ms"),
        ("ttft_added_p50_ms", "first-token time added p50 ms"),
        ("cpu_us_per_token", "CPU µs per delivered token"),
    ]
    comparisons = compare(rows, "Parley", ["per-token stream", "ack per token"], metrics)
    notes = [
        f"Each reply: {p['tokens']} tokens at {p['rate']:g} tokens/s from the fake provider (bench/fake_llm.py), "
        f"questions spread over {p['spread_s']} s; watched by its customer (WebSocket) and one agent socket per "
        f"{p['per_site']} conversations. In-memory layer, embedded worker, database as stated.",
        "Token delay: viewer's receipt minus the provider's stamp in the token. First-token time added: customer's "
        "first delta minus its send, minus the provider's own wait. CPU: server process only (not the database).",
        "Saturated: under 99% of replies ended before the deadline (questions' ramp + reply length + slack), or "
        "under 99% of the provider's tokens reached their viewers as deltas (a full channel-layer queue drops "
        "them; the final reply.end still carries the whole text).",
    ]
    plots = [
        {
            "title": "Token delay p99 by concurrent replies",
            "xlabel": "concurrent replies",
            "ylabel": "p99 ms (log)",
            "logx": True,
            "logy": True,
            "series": {s: [[r["replies"], r.get("delay_p99_ms")] for r in rows if r["system"] == s] for s in SYSTEMS},
        },
        {
            "title": "Server CPU per delivered token",
            "xlabel": "concurrent replies",
            "ylabel": "µs per token",
            "logx": True,
            "series": {
                s: [[r["replies"], r.get("cpu_us_per_token")] for r in rows if r["system"] == s] for s in SYSTEMS
            },
        },
    ]
    return {"rows": rows, "columns": COLUMNS, "comparisons": comparisons, "notes": notes, "plots": plots}
