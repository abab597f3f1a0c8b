"""Clocks on complaint files: when something is due, in calendar or business days. Pure.

Business days skip weekends and the statutory holidays of the configured
country and province (the ``holidays`` package). A clock is due at the end
of its last day, local time.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = ["DayKind", "due_at", "is_business_day"]

DayKind = Literal["business", "calendar"]


@lru_cache(maxsize=16)
def _calendar(country: str, subdiv: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdiv or None)


def is_business_day(day: dt.date, country: str = "CA", subdiv: str = "AB") -> bool:
    return day.weekday() < 5 and day not in _calendar(country, subdiv)


def due_at(
    received: dt.datetime,
    days: int,
    kind: DayKind,
    *,
    tz: str = "America/Edmonton",
    country: str = "CA",
    subdiv: str = "AB",
) -> dt.datetime:
    """The end (local time) of the ``days``-th calendar or business day after the day received.

    A file received on a Saturday with 2 business days is due at the end of
    Tuesday: Monday is day one."""
    zone = ZoneInfo(tz)
    day = received.astimezone(zone).date()
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if kind == "calendar" or is_business_day(day, country, subdiv):
            left -= 1
    end = dt.datetime.combine(day, dt.time(23, 59, 59, 999000), tzinfo=zone)
    return end
