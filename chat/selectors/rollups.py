"""The reports' per-day numbers: read from the stored rollups where they are still true, else counted from rows.

A stored day (`DailyStats`) is true while none of its conversations changed after it was computed and none was
added to it since (an import dated in the past): every change a report counts stamps `updated_at` (a rating
stamps `rated_at`), both are indexed, and newer conversations are a primary-key range, so the check reads only
what changed recently. Any other day, the current one included, is counted from the conversations themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef

from chat.models import Conversation, DailyStats, Message

# Ratings per assignee: the key is the assignee's id as text, "" for none; the value counts each score 1 to 5.
NO_ASSIGNEE = ""


@dataclass
class DayNumbers:
    """What one site's day adds to a report."""

    conversations: int = 0
    bot_alone: int = 0
    first_responses: list[float] = field(default_factory=list)  # seconds
    resolutions: list[float] = field(default_factory=list)  # seconds
    ratings: dict[str, list[int]] = field(default_factory=dict)


def tz_name(tz: tzinfo) -> str:
    """The name a rollup's time zone is stored under."""
    return getattr(tz, "key", None) or str(tz)


def tz_of(name: str) -> tzinfo:
    """The time zone a stored name stands for."""
    return UTC if name == "UTC" else ZoneInfo(name)


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


def counted_days(*, site_ids: list[int], days: list[date], tz: tzinfo) -> dict[tuple[int, date], DayNumbers]:
    """Each (site, day) of `days` counted from its conversations: one query per run of consecutive days.

    "Bot only": the bot still owns the conversation and no human ever wrote to the customer.
    """
    numbers: dict[tuple[int, date], DayNumbers] = {(site_id, day): DayNumbers() for site_id in site_ids for day in days}
    human_wrote = Message.objects.filter(
        conversation=OuterRef("pk"), author_kind=Message.AuthorKind.AGENT, internal=False
    )
    for first, last in _runs(sorted(set(days))):
        since = datetime.combine(first, time.min, tzinfo=tz)
        until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        rows = (
            Conversation.objects.filter(site_id__in=site_ids, created_at__gte=since, created_at__lt=until)
            .annotate(human_wrote=Exists(human_wrote))
            .only(
                "site_id",
                "created_at",
                "owner",
                "status",
                "queued_at",
                "first_human_reply_at",
                "resolved_at",
                "rating",
                "assignee_id",
            )
        )
        for conversation in rows.iterator():
            day = numbers[(conversation.site_id, conversation.created_at.astimezone(tz).date())]
            day.conversations += 1
            if conversation.owner == Conversation.Owner.BOT and not conversation.human_wrote:
                day.bot_alone += 1
            response = first_response_seconds(conversation)
            if response is not None:
                day.first_responses.append(response)
            resolution = resolution_seconds(conversation)
            if resolution is not None:
                day.resolutions.append(resolution)
            if conversation.rating is not None:
                key = NO_ASSIGNEE if conversation.assignee_id is None else str(conversation.assignee_id)
                day.ratings.setdefault(key, [0, 0, 0, 0, 0])[conversation.rating - 1] += 1
    return numbers


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def stored_days(*, site_ids: list[int], start: date, end: date, tz: tzinfo) -> dict[tuple[int, date], DayNumbers]:
    """The period's stored days that are still true (see the module's docstring)."""
    stored = {
        (row.site_id, row.day): row
        for row in DailyStats.objects.filter(site_id__in=site_ids, time_zone=tz_name(tz), day__gte=start, day__lte=end)
    }
    if not stored:
        return {}
    oldest = min(row.computed_at for row in stored.values())
    since = datetime.combine(start, time.min, tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    in_period = Conversation.objects.filter(site_id__in=site_ids, created_at__gte=since, created_at__lt=until)
    # Three queries, not one OR: each seeks its own index (the last the primary key) and reads only what is new.
    fields = ("pk", "site_id", "created_at", "updated_at", "rated_at")
    newest_counted = min(row.last_conversation_id for row in stored.values())
    changed = {
        *in_period.filter(updated_at__gte=oldest).values_list(*fields),
        *in_period.filter(rated_at__gte=oldest).values_list(*fields),
        *in_period.filter(pk__gt=newest_counted).values_list(*fields),
    }
    for pk, site_id, created_at, updated_at, rated_at in changed:
        key = (site_id, created_at.astimezone(tz).date())
        row = stored.get(key)
        if row is not None and (
            updated_at >= row.computed_at
            or (rated_at and rated_at >= row.computed_at)
            or pk > row.last_conversation_id  # created after the day was counted, dated in it
        ):
            del stored[key]
    return {
        key: DayNumbers(
            conversations=row.conversations,
            bot_alone=row.bot_alone,
            first_responses=list(row.first_responses),
            resolutions=list(row.resolutions),
            ratings={name: list(counts) for name, counts in row.ratings.items()},
        )
        for key, row in stored.items()
    }


def period_numbers(*, site_ids: list[int], days: list[date], tz: tzinfo) -> dict[tuple[int, date], DayNumbers]:
    """Every (site, day) of the period: stored where still true, else counted from its conversations."""
    if not days:
        return {}
    numbers = stored_days(site_ids=site_ids, start=days[0], end=days[-1], tz=tz)
    missing = sorted({day for day in days for site_id in site_ids if (site_id, day) not in numbers})
    counted = counted_days(site_ids=site_ids, days=missing, tz=tz) if missing else {}
    numbers.update({key: value for key, value in counted.items() if key not in numbers})
    return numbers


def days_to_store(*, site_ids: list[int], start: date, end: date, tz: tzinfo, today: date) -> list[tuple[int, date]]:
    """The (site, day) pairs of the period before `today` that have no true stored rollup."""
    fresh = stored_days(site_ids=site_ids, start=start, end=end, tz=tz)
    last = min(end, today - timedelta(days=1))
    days = [start + timedelta(days=n) for n in range((last - start).days + 1)]
    return [(site_id, day) for site_id in site_ids for day in days if (site_id, day) not in fresh]


def merged_ratings(numbers: list[DayNumbers]) -> dict[str, list[int]]:
    """The days' ratings added up per assignee."""
    merged: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for day in numbers:
        for assignee, counts in day.ratings.items():
            merged[assignee] = [a + b for a, b in zip(merged[assignee], counts)]
    return dict(merged)
