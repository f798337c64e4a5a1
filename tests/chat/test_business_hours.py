"""Open or closed: weekly hours in the site's own time zone, overnight ranges, and bad data."""

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from chat.business_hours import BadHours, is_open, parse_hours, site_is_open

UTC = ZoneInfo("UTC")
WEEKDAYS = {str(day): ["09:00", "17:00"] for day in range(5)}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 2025-06-02 is a Monday.
@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2025, 6, 2, 8, 59), False),
        (utc(2025, 6, 2, 9, 0), True),
        (utc(2025, 6, 2, 16, 59), True),
        (utc(2025, 6, 2, 17, 0), False),  # the end is exclusive
        (utc(2025, 6, 6, 12, 0), True),  # Friday
        (utc(2025, 6, 7, 12, 0), False),  # Saturday has no hours
    ],
)
def test_weekday_hours_in_utc(moment, expected):
    assert is_open(WEEKDAYS, "UTC", moment) is expected


def test_hours_are_read_in_the_sites_time_zone():
    # 08:30 UTC on a Monday is 10:30 in Paris (summer time): open there, not yet open in New York (04:30).
    moment = utc(2025, 6, 2, 8, 30)
    assert is_open(WEEKDAYS, "Europe/Paris", moment) is True
    assert is_open(WEEKDAYS, "America/New_York", moment) is False


def test_a_local_friday_can_be_a_utc_saturday():
    # Saturday 02:00 UTC is Friday 16:00 in Honolulu.
    assert is_open(WEEKDAYS, "Pacific/Honolulu", utc(2025, 6, 7, 2, 0)) is True


def test_overnight_range_spills_into_the_next_day():
    hours = {"4": ["22:00", "02:00"]}  # Friday night
    assert is_open(hours, "UTC", utc(2025, 6, 6, 23, 0)) is True
    assert is_open(hours, "UTC", utc(2025, 6, 7, 1, 59)) is True  # Saturday small hours
    assert is_open(hours, "UTC", utc(2025, 6, 7, 2, 0)) is False
    assert is_open(hours, "UTC", utc(2025, 6, 6, 21, 59)) is False


def test_several_ranges_a_day_and_midnight_end():
    hours = {"0": [["09:00", "12:00"], ["13:00", "24:00"]]}
    assert is_open(hours, "UTC", utc(2025, 6, 2, 12, 30)) is False
    assert is_open(hours, "UTC", utc(2025, 6, 2, 23, 59)) is True


def test_no_hours_means_always_open_and_an_empty_day_means_closed():
    assert is_open({}, "UTC", utc(2025, 6, 7, 3, 0)) is True
    assert is_open({"0": []}, "UTC", utc(2025, 6, 2, 12, 0)) is False


@pytest.mark.parametrize(
    "hours",
    [
        {"7": ["09:00", "17:00"]},
        {"mon": ["09:00", "17:00"]},
        {"0": ["9am", "5pm"]},
        {"0": ["09:00", "25:00"]},
        {"0": ["09:00"]},
        {"0": "09:00-17:00"},
        ["09:00", "17:00"],
    ],
)
def test_malformed_hours_are_refused(hours):
    with pytest.raises(BadHours):
        parse_hours(hours)


def test_a_misconfigured_site_counts_as_open():
    broken = SimpleNamespace(pk=1, business_hours={"0": ["nine", "five"]}, time_zone="UTC")
    unknown_zone = SimpleNamespace(pk=2, business_hours={"0": ["09:00", "10:00"]}, time_zone="Mars/Olympus")
    assert site_is_open(broken, utc(2025, 6, 7, 3, 0)) is True
    assert site_is_open(unknown_zone, utc(2025, 6, 7, 3, 0)) is True


def test_a_site_uses_its_hours_and_zone():
    shop = SimpleNamespace(pk=3, business_hours=WEEKDAYS, time_zone="Asia/Shanghai")
    assert site_is_open(shop, utc(2025, 6, 2, 2, 0)) is True  # 10:00 in Shanghai
    assert site_is_open(shop, utc(2025, 6, 2, 12, 0)) is False  # 20:00 in Shanghai
