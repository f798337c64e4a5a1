"""Desk reports: volume per day, what the bot answered alone, and how fast humans answer and resolve."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone

from django.db.models import Exists, OuterRef

from chat.models import Conversation, Message

# Longest period one report covers: a year of daily bars is still readable, and bounds the work.
MAX_DAYS = 366
# First-response buckets (upper bounds in seconds), for the distribution chart.
RESPONSE_BUCKETS = [(60, "< 1 min"), (5 * 60, "1–5 min"), (15 * 60, "5–15 min"), (60 * 60, "15–60 min"),
                    (None, "> 1 hour")]


@dataclass(frozen=True)
class DayStats:
    """One day of the period."""

    day: date
    conversations: int = 0
    bot_alone: int = 0
    median_first_response: float | None = None  # seconds

    @property
    def with_humans(self) -> int:
        """Conversations a human took part in (or that wait for one)."""
        return self.conversations - self.bot_alone


@dataclass(frozen=True)
class Report:
    """Everything the reports page shows for one period."""

    start: date
    end: date
    days: list[DayStats]
    conversations: int
    bot_alone: int
    median_first_response: float | None  # seconds
    median_resolution: float | None  # seconds
    first_responses: int
    resolutions: int
    response_buckets: list[tuple[str, int]] = field(default_factory=list)

    @property
    def bot_alone_share(self) -> float | None:
        """Share of conversations the bot answered alone, 0..1 (None without conversations)."""
        return self.bot_alone / self.conversations if self.conversations else None


def period_days(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def first_response_seconds(conversation: Conversation) -> float | None:
    """Seconds from when the customer started waiting for a human (else from the start) to the first human answer.

    A conversation requeued after its first answer has a later `queued_at`; the start is used then.
    """
    answered = conversation.first_human_reply_at
    if answered is None:
        return None
    waited_from = conversation.queued_at
    if waited_from is None or waited_from > answered:
        waited_from = conversation.created_at
    return max(0.0, (answered - waited_from).total_seconds())


def resolution_seconds(conversation: Conversation) -> float | None:
    """Seconds from the first message to the resolve, for resolved conversations."""
    if conversation.status != Conversation.Status.RESOLVED or conversation.resolved_at is None:
        return None
    return max(0.0, (conversation.resolved_at - conversation.created_at).total_seconds())


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _bucket(seconds: float) -> int:
    for position, (limit, _label) in enumerate(RESPONSE_BUCKETS):
        if limit is None or seconds < limit:
            return position
    return len(RESPONSE_BUCKETS) - 1


def report_build(*, site_ids: list[int], start: date, end: date, tz: tzinfo = dt_timezone.utc) -> Report:
    """The report of conversations started from `start` to `end` (days in `tz`, both included).

    "Answered by the bot alone": the bot still owns the conversation (resolved or not) and no human
    ever wrote to the customer. Handed-off conversations count as with humans, answered or not.
    """
    if end < start:
        start, end = end, start
    end = min(end, start + timedelta(days=MAX_DAYS - 1))
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    human_wrote = Message.objects.filter(conversation=OuterRef("pk"), author_kind=Message.AuthorKind.AGENT,
                                         internal=False)
    rows = (
        Conversation.objects.filter(site_id__in=site_ids, created_at__gte=since, created_at__lt=until)
        .annotate(human_wrote=Exists(human_wrote))
        .only("created_at", "owner", "status", "queued_at", "first_human_reply_at", "resolved_at")
    )

    per_day = {day: {"conversations": 0, "bot_alone": 0, "responses": []} for day in period_days(start, end)}
    responses, resolutions = [], []
    buckets = [0] * len(RESPONSE_BUCKETS)
    for conversation in rows.iterator():
        day = per_day[conversation.created_at.astimezone(tz).date()]
        day["conversations"] += 1
        if conversation.owner == Conversation.Owner.BOT and not conversation.human_wrote:
            day["bot_alone"] += 1
        response = first_response_seconds(conversation)
        if response is not None:
            responses.append(response)
            day["responses"].append(response)
            buckets[_bucket(response)] += 1
        resolution = resolution_seconds(conversation)
        if resolution is not None:
            resolutions.append(resolution)

    days = [DayStats(day=day, conversations=data["conversations"], bot_alone=data["bot_alone"],
                     median_first_response=_median(data["responses"])) for day, data in per_day.items()]
    return Report(
        start=start, end=end, days=days,
        conversations=sum(d.conversations for d in days),
        bot_alone=sum(d.bot_alone for d in days),
        median_first_response=_median(responses),
        median_resolution=_median(resolutions),
        first_responses=len(responses),
        resolutions=len(resolutions),
        response_buckets=[(label, count) for (_limit, label), count in zip(RESPONSE_BUCKETS, buckets)],
    )
