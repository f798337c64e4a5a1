"""Composing the bot's answers: the sentences of a passage that answer the question, and the citation."""

from __future__ import annotations

import re

from chat.ai.base import Source
from chat.ai.retrieval import analyze, contains_cjk


def _link(source: Source) -> str:
    # Brackets in a title would end the Markdown link text early.
    title = source.title.replace("[", "(").replace("]", ")")
    return f"[{title}]({source.url})" if source.url else title


def citation(sources: list[Source] | tuple[Source, ...], language: str) -> str:
    """The line naming the articles an answer came from, linked to their help-center pages ("" for none)."""
    if not sources:
        return ""
    links = ", ".join(_link(source) for source in sources)
    if language == "zh-hans":
        return f"\n\n来源：{links}"
    return f"\n\n{'Sources' if len(sources) > 1 else 'Source'}: {links}"


# English sentences end in punctuation plus a space; Chinese ones end in full-width punctuation, with no space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
# An answer quotes at most this many sentences: enough to answer, short enough to read in a chat bubble.
MAX_SENTENCES = 2
# A second sentence is kept only when it answers nearly as much of the question as the best one.
SECOND_SENTENCE_SHARE = 0.6


def sentences(body: str) -> list[str]:
    """An article body cut into sentences (lines count as sentence ends)."""
    return [part.strip() for part in _SENTENCE_END.split(body.strip()) if part.strip()]


def select_sentences(question: str, body: str, *, previous: str = "") -> list[str]:
    """The sentences of a body that answer the question best, in their original order (the first one if none does).

    A sentence scores by the question's terms it contains, each counted once; terms of the previous
    question count half, so "and to the UK?" still picks the sentence about delivery times abroad.
    """
    parts = sentences(body)
    if len(parts) <= 1:
        return parts
    wanted = {term: 1.0 for term in analyze(question)}
    for term in analyze(previous):
        wanted.setdefault(term, 0.5)
    scores = [sum(wanted.get(term, 0.0) for term in set(analyze(part))) for part in parts]
    best = max(scores)
    if not best:
        return parts[:1]
    ranked = sorted(range(len(parts)), key=lambda i: (-scores[i], i))
    chosen = [ranked[0]] + [i for i in ranked[1:MAX_SENTENCES] if scores[i] >= SECOND_SENTENCE_SHARE * best]
    return [parts[i] for i in sorted(chosen)]


def join_sentences(parts: list[str]) -> str:
    """Sentences joined back as prose (no spaces between Chinese sentences)."""
    return "".join(parts) if parts and contains_cjk(parts[0]) else " ".join(parts)
