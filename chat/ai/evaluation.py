"""Scoring the offline bot on a set of customer messages with known right answers, as a team would judge it.

Each item is a message, its language, and the article that answers it (or null when none does, or
"smalltalk" for a greeting, thanks and the like). The bot runs exactly as in production, through
the dialogue and the `kb` provider, against an index of the demo knowledge base; only the database
is left out. Every reply lands in one of four buckets: right (the right article, or small talk
handled), confidently wrong (an answer from the wrong article, or an answer where none exists),
not answered (it said it does not know, or asked which topic), and handed off.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chat.ai.base import ReplyRequest, Turn
from chat.ai.dialogue import respond
from chat.ai.kb import KnowledgeBaseProvider
from chat.ai.phrases import language_of
from chat.ai.retrieval import build_index, search

SMALLTALK = "smalltalk"
# The same article in both languages: either one is a right answer.
TWINS = {
    "配送时间": "Shipping times",
    "退货政策": "Returns policy",
    "付款方式": "Payment methods",
    "订单跟踪": "Tracking your order",
}


@dataclass
class Tally:
    """Counts of one language's replies by bucket, split by whether an answer existed."""

    answerable: Counter = field(default_factory=Counter)
    unanswerable: Counter = field(default_factory=Counter)
    smalltalk: Counter = field(default_factory=Counter)
    mistakes: list[str] = field(default_factory=list)

    def share(self, group: str, bucket: str) -> float | None:
        """Share of a group's items (answerable, unanswerable, smalltalk, all) that landed in a bucket."""
        counters = [self.answerable, self.unanswerable, self.smalltalk] if group == "all" else [getattr(self, group)]
        total = sum(sum(c.values()) for c in counters)
        return sum(c[bucket] for c in counters) / total if total else None


def _same(expected: str, got: str) -> bool:
    return got == expected or TWINS.get(got) == expected or TWINS.get(expected) == got


def _bucket(expected: str | None, outcome) -> str:
    if outcome.handoff:
        return "handed off"
    if expected == SMALLTALK:
        return "right" if outcome.kind == SMALLTALK else "wrong"
    if outcome.kind == "answered":
        got = outcome.sources[0].title if outcome.sources else ""
        return "right" if expected is not None and _same(expected, got) else "wrong"
    return "right" if expected is None else "not answered"


async def _outcome(index, item: dict):
    previous = item.get("after", "")
    request = ReplyRequest(
        question=item["q"],
        history=[Turn("user", previous)] if previous else [],
        passages=search(index, item["q"], previous=previous),
        language=language_of(item["q"], language_of(previous)),
        handoff_after=0,
    )
    outcome = None
    async for chunk in respond(request, KnowledgeBaseProvider(chars_per_second=0), chars_per_second=0):
        if not isinstance(chunk, str):
            outcome = chunk
    return outcome


def evaluate(items: list[dict], articles: list[tuple[str, str, str]]) -> dict[str, Tally]:
    """Run every item through the bot; tallies per language ("en", "zh-hans")."""
    index = build_index([(number, title, body, language) for number, (title, language, body) in enumerate(articles)])
    tallies: dict[str, Tally] = {}
    for item in items:
        outcome = asyncio.run(_outcome(index, item))
        tally = tallies.setdefault(item["lang"], Tally())
        expected = item.get("title")
        bucket = _bucket(expected, outcome)
        group = "smalltalk" if expected == SMALLTALK else "answerable" if expected else "unanswerable"
        getattr(tally, group)[bucket] += 1
        if bucket != "right":
            got = ", ".join(s.title for s in outcome.sources) or outcome.kind
            tally.mistakes.append(f"{bucket}: {item['q']!r} expected {expected!r}, got {got!r}")
    return tallies


def load(path: Path) -> list[dict]:
    """The items of an evaluation file."""
    return json.loads(path.read_text(encoding="utf-8"))["items"]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def table(tallies: dict[str, Tally]) -> str:
    """The evaluation as a Markdown table, one row per language."""
    rows = [
        "| language | questions | top-1 right (answerable) | confidently wrong (all) | not answered (answerable) "
        "| right to decline (unanswerable) | small talk handled |",
        "|---|---|---|---|---|---|---|",
    ]
    for language, tally in sorted(tallies.items()):
        count = sum(sum(c.values()) for c in (tally.answerable, tally.unanswerable, tally.smalltalk))
        rows.append(
            f"| {language} | {count} | {_percent(tally.share('answerable', 'right'))} "
            f"| {_percent(tally.share('all', 'wrong'))} | {_percent(tally.share('answerable', 'not answered'))} "
            f"| {_percent(tally.share('unanswerable', 'right'))} | {_percent(tally.share('smalltalk', 'right'))} |"
        )
    return "\n".join(rows)
