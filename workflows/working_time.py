"""When someone (1C) is expected to be at work: daily hours on some weekdays, in a shop-local time zone.

Silence is only silence when a word was expected: 1C quiet at night is not 1C down. ``between`` counts the
expected time in an interval, so one working hour before closing and twenty minutes after opening the next
morning add up to eighty minutes, and a weekend in between adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALL_DAY = "00:00-24:00"


@dataclass(frozen=True)
class WorkingTime:
    """``hours`` as ``"HH:MM-HH:MM"`` (``None``: all day; an end at or before the start runs past midnight and
    belongs to the day it starts on), on ``days``, in ``timezone``. The default is always."""

    hours: str | None = None
    days: tuple[Weekday, ...] = WEEKDAYS
    timezone: str = "UTC"

    @property
    def always(self) -> bool:
        return self.hours in (None, ALL_DAY) and set(self.days) >= set(WEEKDAYS)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The expected time within ``[start, end)``."""
        if end <= start:
            return timedelta()
        if self.always:
            return end - start
        total = timedelta()
        for opens, closes in self._windows(start, end):
            earliest, latest = max(opens, start), min(closes, end)
            if latest > earliest:
                total += latest - earliest
        return total

    def covers(self, moment: datetime) -> bool:
        """Whether ``moment`` is expected time."""
        return self.always or any(opens <= moment < closes for opens, closes in self._windows(moment, moment))

    def _windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working windows (in UTC) of every local day that may touch ``[start, end]``."""
        zone = ZoneInfo(self.timezone)
        opens_at, closes_at = _span(self.hours or ALL_DAY)
        day = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's window may run past midnight
        last = end.astimezone(zone).date()
        while day <= last:
            if WEEKDAYS[day.weekday()] in self.days:
                closing_day = day + timedelta(days=1) if closes_at is None or closes_at <= opens_at else day
                yield _utc(day, opens_at, zone), _utc(closing_day, closes_at or time(0), zone)
            day += timedelta(days=1)


def _span(hours: str) -> tuple[time, time | None]:
    """``"08:00-22:00"`` as (start, end); an end of ``24:00`` is ``None``, midnight at the end of the day."""
    start, end = hours.split("-")
    return time.fromisoformat(start), None if end == "24:00" else time.fromisoformat(end)


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)
