"""The bot's side of a conversation: small talk, contact capture, and the handoff policy around any provider.

The provider answers questions (from the knowledge base or a model). Everything else a good
support agent does is decided here, the same for every provider: greet and thank briefly,
hand over when asked, offer a person instead of forcing one after a miss, hand over after
`handoff_after` misses in a row, keep answering while the team is on its way, and ask for an
email address when nobody can answer now.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from chat.ai import acts, phrases
from chat.ai.base import Outcome, Provider, ReplyRequest
from chat.ai.pacing import type_out

# Something that is meant as an email address: text around an "@".
_ADDRESS = re.compile(r"[^\s<>()\"',;:]+@[^\s<>()\"',;:]*")
MAX_EMAIL_LENGTH = 254  # Visitor.email's limit, and the RFC's


def _away(request: ReplyRequest) -> tuple[str, str]:
    """The line for handing over while nobody can answer, and what the bot then waits for."""
    if request.visitor_email:
        return phrases.line("away_known", request.language, email=request.visitor_email), ""
    return phrases.line("away_ask", request.language), "email"


def _handoff(request: ReplyRequest, key: str, kind: str) -> tuple[str, Outcome]:
    text = phrases.line(key, request.language)
    expects = ""
    if not request.team_available:
        away, expects = _away(request)
        text = f"{text} {away}"
    return text, Outcome(kind, handoff=True, expects=expects)


def _contact(request: ReplyRequest) -> tuple[str, Outcome] | None:
    """The customer's answer to "leave your email": stored when valid, asked again when not, None when not one."""
    language = request.language
    found = _ADDRESS.search(request.question)
    if found is None:
        if acts.detect(request.question) is acts.Act.NO:
            return phrases.line("email_skipped", language), Outcome("contact")
        return None
    address = found.group(0).rstrip(".!?。")
    try:
        if len(address) > MAX_EMAIL_LENGTH:
            raise ValidationError("too long")
        validate_email(address)
    except ValidationError:
        return phrases.line("email_invalid", language), Outcome("contact", expects="email")
    return phrases.line("email_thanks", language, email=address), Outcome("contact", email=address)


def _small_talk(request: ReplyRequest, act: acts.Act) -> tuple[str, Outcome]:
    if act is acts.Act.HUMAN:
        if request.in_queue:
            return phrases.line("already_queued", request.language), Outcome("smalltalk")
        return _handoff(request, "handoff_asked", "handoff")
    offer = ("human",) if act is acts.Act.NOT_HELPING and not request.in_queue else ()
    return acts.answer(act, request.language), Outcome("smalltalk", actions=offer)


def policy(request: ReplyRequest, outcome: Outcome) -> tuple[str, Outcome]:
    """What the bot adds after the provider's answer, and the final outcome: the handoff policy."""
    language = request.language
    if outcome.kind == "answered":
        return (phrases.line("queued_note", language) if request.in_queue else ""), outcome
    if outcome.kind != "unanswered":
        return "", outcome
    unanswered = phrases.line("unanswered", language)
    if request.in_queue:
        return f"{unanswered} {phrases.line('queued_unanswered', language)}", outcome
    misses = request.misses + 1
    if request.handoff_after and misses >= request.handoff_after:
        text, handed = _handoff(request, "handoff", "unanswered")
        return f"{unanswered} {text}", handed
    return f"{unanswered} {phrases.line('offer', language)}", replace(outcome, actions=("rephrase", "human"))


def _joined(before: str, after: str) -> str:
    """Text the dialogue adds after the provider's, as its own paragraph."""
    return f"\n\n{after}" if before.strip() and after else after


def _still_expecting(request: ReplyRequest, outcome: Outcome) -> Outcome:
    """Keep waiting for what the bot asked for, unless this reply was the answer to it."""
    if request.expects and not outcome.expects and outcome.kind != "contact":
        return replace(outcome, expects=request.expects)
    return outcome


async def respond(
    request: ReplyRequest, provider: Provider, *, chars_per_second: float
) -> AsyncIterator[str | Outcome]:
    """The bot's reply to one customer message: text chunks, then exactly one Outcome."""
    handled = _contact(request) if request.expects == "email" else None
    act = acts.detect(request.question) if handled is None else None
    if handled is None and act is not None:
        handled = _small_talk(request, act)
    if handled is not None:
        text, outcome = handled
        outcome = _still_expecting(request, outcome)  # "thanks!" before the address: still waiting for it
        async for chunk in type_out(text, chars_per_second):
            yield chunk
        yield outcome
        return
    said, outcome = "", None
    async for chunk in provider.stream(request):
        if isinstance(chunk, Outcome):
            outcome = chunk
        else:
            said += chunk
            yield chunk
    text, outcome = policy(request, outcome or Outcome("answered"))
    outcome = _still_expecting(request, outcome)  # a question in between: still waiting for the address
    async for chunk in type_out(_joined(said, text), chars_per_second, started=bool(said)):
        yield chunk
    yield outcome
