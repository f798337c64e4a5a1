"""Storing the reports' daily rollups: a past day is counted once and read as one row per site after that.

The reports page queues `rollups_refresh` for the days it had to count from rows; running it again for a day
that is already stored and true does nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from chat.models import Conversation, DailyStats
from chat.selectors import rollups

# A change whose `updated_at` was taken just before a day was counted may commit just after; a stored day
# counts as computed this much earlier, so such a change still marks it for recounting.
COMPUTED_SLACK = timedelta(minutes=1)


def rollups_store(*, site_ids: list[int], start: date, end: date, tz_name: str) -> int:
    """Count and store every day of the period before today (in the zone) without a true rollup; how many stored."""
    tz = rollups.tz_of(tz_name)
    today = timezone.now().astimezone(tz).date()
    pending = rollups.days_to_store(site_ids=site_ids, start=start, end=end, tz=tz, today=today)
    if not pending:
        return 0
    computed_at = timezone.now() - COMPUTED_SLACK
    last_conversation_id = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    numbers = rollups.counted_days(
        site_ids=sorted({site_id for site_id, _day in pending}), days=sorted({day for _site, day in pending}), tz=tz
    )
    with transaction.atomic():
        for site_id, day in pending:
            counted = numbers[(site_id, day)]
            DailyStats.objects.update_or_create(
                site_id=site_id,
                time_zone=tz_name,
                day=day,
                defaults={
                    "conversations": counted.conversations,
                    "bot_alone": counted.bot_alone,
                    "first_responses": counted.first_responses,
                    "resolutions": counted.resolutions,
                    "ratings": counted.ratings,
                    "computed_at": computed_at,
                    "last_conversation_id": last_conversation_id,
                },
            )
    return len(pending)


@task()
def rollups_refresh(site_ids: list[int], start: str, end: str, tz_name: str) -> int:
    """Store the rollups of a period's past days (ISO dates); the task form of `rollups_store`."""
    return rollups_store(
        site_ids=site_ids, start=date.fromisoformat(start), end=date.fromisoformat(end), tz_name=tz_name
    )
