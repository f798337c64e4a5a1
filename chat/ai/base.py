"""The small async interface every reply provider implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A knowledge-base article retrieved for a question, with its relevance score (0..1)."""

    article_id: int
    title: str
    body: str
    score: float


@dataclass(frozen=True)
class Turn:
    """One earlier line of the conversation: role is "user" (customer) or "assistant" (bot or agent)."""

    role: str
    text: str


@dataclass(frozen=True)
class ReplyRequest:
    """What a provider answers: the customer's question, the conversation so far, and retrieved passages."""

    question: str
    history: list[Turn] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    language: str = "en"


class Handoff:
    """Yielded last by a provider that cannot answer: the conversation goes to the human queue."""

    def __repr__(self) -> str:
        return "Handoff()"


HANDOFF = Handoff()


class ProviderError(Exception):
    """The provider failed; `reason` is for agents (never contains secrets), the customer gets a friendly line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Provider:
    """Produces the text of a reply as an async stream of chunks (and maybe HANDOFF at the end)."""

    name = "base"

    def stream(self, request: ReplyRequest) -> AsyncIterator[str | Handoff]:
        """Yield text chunks as they are produced; cancelling the iteration must close any upstream connection."""
        raise NotImplementedError
