"""The offline `kb` provider: answers from the best retrieved knowledge-base passage, typed out like a person."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from chat.ai.base import HANDOFF, Handoff, Passage, Provider, ReplyRequest
from chat.ai.retrieval import THRESHOLD, contains_cjk

# A body is quoted up to this many sentences: enough to answer, short enough to read in the widget.
SUMMARY_SENTENCES = 2

NO_ANSWER = {
    "en": "I couldn't find an answer to that in our help articles, so I'm connecting you with someone from our team.",
    "zh": "抱歉，我在帮助文章里没有找到答案，正在为您转接人工客服。",
}

# English sentences end in punctuation plus a space; Chinese ones end in full-width punctuation, with no space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
# Typing units: up to two Chinese characters, or one word with the spaces after it; together they rebuild the text.
_CHUNK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{1,2}|[^\s\u3400-\u9fff\uf900-\ufaff]+\s*|\s+")


def summarize(body: str, sentences: int = SUMMARY_SENTENCES) -> str:
    """The first sentences of an article body."""
    parts = [part.strip() for part in _SENTENCE_END.split(body.strip()) if part.strip()]
    joiner = "" if contains_cjk(body) else " "
    return joiner.join(parts[:sentences])


def compose_answer(passage: Passage, chinese: bool) -> str:
    """A short reply quoting the passage and naming its article, in the question's language."""
    summary = summarize(passage.body)
    if chinese:
        return f"根据我们的帮助文章《**{passage.title}**》：{summary}"
    return f"Here's what our **{passage.title}** article says: {summary}"


def split_chunks(text: str) -> list[str]:
    """Cut text into typing-sized chunks (a word, or two Chinese characters) that join back to the text."""
    return _CHUNK.findall(text)


class KnowledgeBaseProvider(Provider):
    """Answers from the knowledge base without any model; hands over to a human when nothing matches."""

    name = "kb"

    def __init__(self, chars_per_second: float = 200):
        if chars_per_second < 0:
            raise ValueError("chars_per_second must be 0 (no pacing) or positive")
        self.chars_per_second = chars_per_second

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str | Handoff]:
        """Yield the answer chunk by chunk; yield a handoff line and HANDOFF when no passage is good enough."""
        chinese = contains_cjk(request.question)
        best = max(request.passages, key=lambda passage: passage.score, default=None)
        answered = best is not None and best.score >= THRESHOLD
        text = compose_answer(best, chinese) if answered else NO_ANSWER["zh" if chinese else "en"]
        for position, chunk in enumerate(split_chunks(text)):
            # Pause before every chunk but the first, so the reply starts at once. No try/except here: a
            # cancellation raised inside sleep() must reach the caller untouched.
            if position and self.chars_per_second:
                await asyncio.sleep(len(chunk) / self.chars_per_second)
            yield chunk
        if not answered:
            yield HANDOFF
