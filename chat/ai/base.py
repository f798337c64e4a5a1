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
    url: str = ""  # the article's public help-center page
    language: str = "en"  # "en" or "zh-hans"


@dataclass(frozen=True)
class Turn:
    """One earlier line of the conversation: role is "user" (customer) or "assistant" (bot or agent)."""

    role: str
    text: str


@dataclass(frozen=True)
class ReplyRequest:
    """What a provider answers: the customer's question, the conversation so far, and retrieved passages.

    `language` is the customer's ("en" or "zh-hans"). The rest is the conversation's state the
    bot's policy needs: who owns it, how many questions in a row went unanswered, whether a
    person could answer now, and what the bot asked the customer for.
    """

    question: str
    history: list[Turn] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    language: str = "en"
    in_queue: bool = False  # handed to people already; no person has answered yet
    misses: int = 0  # questions in a row the bot could not answer before this one
    handoff_after: int = 2  # misses that hand over to a person (0: never by itself)
    team_available: bool = True  # within business hours and an agent online
    visitor_email: str = ""
    expects: str = ""  # "email" while the bot waits for an address


@dataclass(frozen=True)
class Source:
    """An article a reply is based on, linked to its help-center page."""

    article_id: int
    title: str
    url: str


@dataclass(frozen=True)
class Outcome:
    """Yielded last by a provider or the dialogue: what the reply did, for the policy, the widget and reports.

    kind is one of Message.Outcome's values; `actions` are quick replies for the widget
    ("rephrase", "human"); `options` are topics offered when the bot is unsure which one is meant.
    """

    kind: str = "answered"
    sources: tuple[Source, ...] = ()
    actions: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    handoff: bool = False  # hand the conversation to people when the reply ends
    email: str = ""  # an address the customer gave, to store on the visitor
    expects: str = ""  # what the bot now waits for from the customer ("email"), else nothing


# What a provider that cannot answer yields last; the dialogue turns it into the handoff policy's reply.
UNANSWERED = Outcome(kind="unanswered")


class ProviderError(Exception):
    """The provider failed; `reason` is for agents (never contains secrets), the customer gets a friendly line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Provider:
    """Produces the text of a reply as an async stream of chunks, and maybe an Outcome at the end."""

    name = "base"

    def stream(self, request: ReplyRequest) -> AsyncIterator[str | Outcome]:
        """Yield text chunks as they are produced; cancelling the iteration must close any upstream connection."""
        raise NotImplementedError
