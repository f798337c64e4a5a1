"""Whether a site is open right now, from its weekly business hours in its own time zone."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

logger = logging.getLogger("parley.business_hours")

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
MINUTES_PER_DAY = 24 * 60


class BadHours(ValueError):
    """The business_hours JSON is not {"<weekday 0-6>": ["HH:MM", "HH:MM"] or a list of such pairs}."""


def _minutes(clock: object) -> int:
    """Minutes since midnight of "HH:MM"; "24:00" is the end of the day."""
    match = _CLOCK.match(clock) if isinstance(clock, str) else None
    if not match:
        raise BadHours(f"{clock!r} is not HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise BadHours(f"{clock!r} is not a time of day")
    return hours * 60 + minutes


def _ranges(value: object) -> list[tuple[int, int]]:
    """One day's ranges: a single ["09:00", "17:00"] pair, or a list of pairs; [] or null means closed."""
    if not value:
        return []
    if not isinstance(value, list):
        raise BadHours(f"{value!r} is not a list")
    pairs = [value] if len(value) == 2 and all(isinstance(item, str) for item in value) else value
    ranges = []
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2:
            raise BadHours(f"{pair!r} is not a [start, end] pair")
        ranges.append((_minutes(pair[0]), _minutes(pair[1])))
    return ranges


def parse_hours(hours: object) -> dict[int, list[tuple[int, int]]]:
    """Weekday (0 = Monday) → [(start minute, end minute)]; an end at or before its start runs past midnight."""
    if not isinstance(hours, dict):
        raise BadHours("business hours must be an object keyed by weekday")
    week: dict[int, list[tuple[int, int]]] = {}
    for key, value in hours.items():
        if not (isinstance(key, str) and key.isdigit() and 0 <= int(key) <= 6):
            raise BadHours(f"{key!r} is not a weekday 0-6")
        week[int(key)] = _ranges(value)
    return week


def is_open(hours: object, time_zone: str, at: datetime) -> bool:
    """True when `at` falls inside the weekly hours, read in `time_zone`.

    No hours at all means always open: a site that never set hours should not greet
    every customer with its away message.
    """
    if not hours:
        return True
    week = parse_hours(hours)
    local = at.astimezone(ZoneInfo(time_zone))
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    for start, end in week.get(day, []):
        if start < end and start <= minute < end:
            return True
        if end <= start and minute >= start:  # an overnight range, before midnight
            return True
    yesterday = (day - 1) % 7
    return any(end <= start and minute < end for start, end in week.get(yesterday, []))


def site_is_open(site, at: datetime | None = None) -> bool:
    """The server's answer for a site; misconfigured hours or zones count as open, and are logged."""
    try:
        return is_open(site.business_hours, site.time_zone or "UTC", at or timezone.now())
    except (BadHours, ZoneInfoNotFoundError, ValueError) as exc:
        logger.warning("site %s has unusable business hours (%s); treating it as open", site.pk, exc)
        return True
