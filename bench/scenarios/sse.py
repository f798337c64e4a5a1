"""Scenario 6: scenario 3 with the customer on SSE (POST /api/widget/messages, text/event-stream) vs WebSocket."""

from __future__ import annotations

import sys

from bench import stats
from bench.streams import measure

TITLE = "SSE vs WebSocket"
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
COLUMNS = [
    "system",
    "transport",
    "replies",
    "ended",
    "delivered_tokens",
    "delivered_pct",
    "delay_p50_ms",
    "delay_p99_ms",
    "ttft_added_p50_ms",
    "ttft_added_p99_ms",
    "cpu_us_per_token",
    "saturated",
]


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    rows = []
    for concurrency in p["concurrency"]:
        for transport in ("sse", "ws"):
            # Scenario 3 in the same run has measured WebSocket at this size already: no need to repeat it.
            earlier = context.shared.get(("parley-ws", concurrency, p["tokens"], p["rate"]))
            if transport == "ws" and earlier:
                rows.append(dict(earlier, reused="from scenario 3"))
                continue
            try:
                rows.append(measure("Parley", context, p, concurrency, mode=transport))
            except Exception as exc:
                rows.append(
                    {
                        "system": "Parley",
                        "transport": transport,
                        "replies": concurrency,
                        "saturated": f"failed: {exc!r}"[:200],
                    }
                )
            print(
                f"   {transport} x{concurrency}: " + ", ".join(f"{k} {rows[-1].get(k)}" for k in COLUMNS[3:]),
                flush=True,
            )
    comparisons = []
    for sse in (r for r in rows if r.get("transport") == "sse"):
        ws = next((r for r in rows if r.get("transport") == "ws" and r["replies"] == sse["replies"]), {})
        for key, label in (
            ("delay_p50_ms", "token delay p50 ms"),
            ("delay_p99_ms", "token delay p99 ms"),
            ("ttft_added_p50_ms", "first-token time added p50 ms"),
            ("cpu_us_per_token", "CPU µs per delivered token"),
        ):
            comparisons.append(
                {
                    "what": f"{label}, {sse['replies']} replies (SSE customer)",
                    "parley": sse.get(key),
                    "baseline": "Parley over WebSocket",
                    "baseline_value": ws.get(key),
                    "ratio": stats.ratio(sse.get(key), ws.get(key)),
                }
            )
    notes = [
        "Same load as scenario 3; the customer either POSTs its question with Accept: text/event-stream and reads "
        "the reply as chat-completion chunks, or uses the widget WebSocket. The agent watches over WebSocket in "
        "both. Ratio = SSE / WebSocket."
    ]
    plots = [
        {
            "title": "SSE vs WebSocket: token delay p99",
            "xlabel": "concurrent replies",
            "ylabel": "p99 ms",
            "logx": True,
            "series": {
                t: [[r["replies"], r.get("delay_p99_ms")] for r in rows if r.get("transport") == t]
                for t in ("sse", "ws")
            },
        }
    ]
    return {"rows": rows, "columns": COLUMNS, "comparisons": comparisons, "notes": notes, "plots": plots}
