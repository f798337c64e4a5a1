"""The offline `kb` provider: answers from the knowledge base with the sentences that fit the question."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from chat.ai import phrases
from chat.ai.answers import citation, join_sentences, select_sentences
from chat.ai.base import UNANSWERED, Outcome, Passage, Provider, ReplyRequest, Source
from chat.ai.pacing import split_chunks, type_out
from chat.ai.retrieval import THRESHOLD

__all__ = ["KnowledgeBaseProvider", "Decision", "decide", "split_chunks"]

# A second article scoring at least this share of the best one's is a tie the bot should ask about...
TIE_SHARE = 0.9
# ...unless the best one covers this much of the question: then it is the answer whatever the second scores.
CONFIDENT = 0.5


@dataclass(frozen=True)
class Decision:
    """What the knowledge base can do for a question: answer from `passages[0]`, ask between two, or nothing."""

    kind: str  # "answered" | "clarify" | "unanswered"
    passages: tuple[Passage, ...] = ()


def decide(passages: list[Passage]) -> Decision:
    """Answer only on good evidence: a clear best article, a question about which of two, or no answer."""
    ranked = sorted(passages, key=lambda passage: -passage.score)
    if not ranked or ranked[0].score < THRESHOLD:
        return Decision("unanswered")
    best = ranked[0]
    # The same article in the other language is not a rival: only articles in the best one's language are.
    rivals = [p for p in ranked[1:] if p.language == best.language and p.score >= THRESHOLD]
    if rivals and best.score < CONFIDENT and rivals[0].score >= TIE_SHARE * best.score:
        return Decision("clarify", (best, rivals[0]))
    return Decision("answered", (best,))


def _previous_question(request: ReplyRequest) -> str:
    return next((turn.text for turn in reversed(request.history) if turn.role == "user"), "")


def compose(request: ReplyRequest, decision: Decision) -> tuple[str, Outcome]:
    """The reply's text and outcome for a decision, in the customer's language."""
    language = request.language
    if decision.kind == "clarify":
        titles = tuple(passage.title for passage in decision.passages)
        return phrases.line("clarify", language), Outcome("clarify", options=titles)
    if decision.kind != "answered":
        return "", UNANSWERED
    passage = decision.passages[0]
    quoted = join_sentences(select_sentences(request.question, passage.body, previous=_previous_question(request)))
    source = Source(article_id=passage.article_id, title=passage.title, url=passage.url)
    if passage.language != language:
        # Say so rather than pass an English quote off as an answer in Chinese (or the other way round).
        quoted = f"{phrases.line('other_language', language)}\n\n{quoted}"
    return quoted + citation([source], language), Outcome("answered", sources=(source,))


class KnowledgeBaseProvider(Provider):
    """Answers from the knowledge base without any model; says when it has no answer (the dialogue takes it on)."""

    name = "kb"

    def __init__(self, chars_per_second: float = 200):
        if chars_per_second < 0:
            raise ValueError("chars_per_second must be 0 (no pacing) or positive")
        self.chars_per_second = chars_per_second

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str | Outcome]:
        """Type the answer out chunk by chunk, then yield its outcome."""
        text, outcome = compose(request, decide(request.passages))
        async for chunk in type_out(text, self.chars_per_second):
            yield chunk
        yield outcome
