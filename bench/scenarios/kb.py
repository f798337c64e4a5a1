"""The AI note: customer message → first `reply.delta` with the default offline `kb` provider.

Measured on the embedded default (`make run`: SQLite, in-memory layer, worker inside Daphne), one
question at a time, against the same path with the `openai` provider on a fake that answers at once.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from bench import parley_client, stats
from bench.databases import Databases
from bench.servers import FakeLLM, ParleyServer
from bench.wire import send_json

TITLE = "Time to first delta, kb provider"
FULL = {"messages": 60, "pause_s": 0.1, "timeout_s": 30}
SMOKE = {"messages": 5, "pause_s": 0.05, "timeout_s": 30}
QUESTIONS = [
    "How long does shipping take?",
    "How much does express shipping cost?",
    "Can I return shoes I wore once?",
    "When will I get my refund?",
    "Which payment methods do you accept?",
    "How do I track my order?",
    "I forgot my password",
    "Do gift cards expire?",
    "Do you ship internationally?",
    "How do I cancel my order?",
    "退货政策是什么？",
    "你们支持哪些付款方式？",
]


async def _ask_each(port: int, tokens: list[str], p: dict) -> tuple[list[float], int]:
    """One customer per question, one question at a time: send → first reply.delta."""
    times, missed, sockets = [], 0, []
    for number, token in enumerate(tokens):
        widget, _ = await parley_client.customer(port, token)
        sockets.append(widget)
        body = QUESTIONS[number % len(QUESTIONS)]
        started = time.perf_counter()
        await send_json(widget, {"type": "message.send", "client_id": str(uuid.uuid4()), "body": body})
        try:
            await parley_client.until(widget, "reply.delta", p["timeout_s"])
            times.append(time.perf_counter() - started)
        except (TimeoutError, RuntimeError):
            missed += 1
        await asyncio.sleep(p["pause_s"])
    for widget in sockets:
        await widget.close()
    return times, missed


def _measure(label: str, databases: Databases, p: dict, **settings: str) -> dict:
    with ParleyServer(databases, fixture={"demo": p["messages"]}, **settings) as server:
        times, missed = asyncio.run(_ask_each(server.port, server.fixture["demo"], p))
    summary = stats.summary_ms(times)
    return {
        "provider": label,
        "messages": len(times) + missed,
        "no_delta": missed,
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"],
    }


def run(context) -> dict:
    p = context.params(sys.modules[__name__])
    # The embedded default is SQLite, whatever database the other scenarios use.
    own = context.engine != "sqlite"
    databases = Databases("sqlite") if own else context.databases
    rows = []
    try:
        rows.append(_measure("kb (default)", databases, p))
        with FakeLLM(tokens=20, rate=0) as llm:
            rows.append(
                _measure(
                    "openai (fake provider, instant)",
                    databases,
                    p,
                    AI_PROVIDER="openai",
                    AI_BASE_URL=llm.base_url,
                    AI_API_KEY="bench",
                )
            )
    finally:
        if own:
            databases.close()
    kb, fake = rows
    comparisons = [
        {
            "what": f"message → first reply.delta {key[:3]}, {kb['messages']} messages",
            "parley": kb[key],
            "baseline": "openai provider on an instant fake",
            "baseline_value": fake[key],
            "ratio": stats.ratio(kb[key], fake[key]),
        }
        for key in ("p50_ms", "p99_ms")
    ]
    notes = [
        "Embedded default topology (SQLite, in-memory layer, worker in Daphne), AI_TYPING_CPS default. "
        "Questions match the demo knowledge base (English and Chinese); one at a time, each from a new visitor.",
        "The fake provider answers its first token at once, so the ratio shows what retrieval and the kb "
        "provider add to the shared path (store, job, claim, first delta).",
    ]
    plots = [
        {
            "title": "Message → first reply.delta",
            "xlabel": "percentile",
            "ylabel": "ms",
            "series": {r["provider"]: [[50, r["p50_ms"]], [99, r["p99_ms"]]] for r in rows},
        }
    ]
    return {
        "rows": rows,
        "columns": ["provider", "messages", "no_delta", "p50_ms", "p99_ms", "max_ms"],
        "comparisons": comparisons,
        "notes": notes,
        "plots": plots,
    }
