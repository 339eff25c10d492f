"""When 1C is expected to talk: working minutes between two moments, past midnight, over days off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.topology import OneC
from workflows.working_time import WorkingTime

MSK = "Europe/Moscow"  # UTC+3 all year


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of December 2026 in Moscow time (December 7 is a Monday), in UTC as the clock gives it."""
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(MSK)).astimezone(UTC)


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def test_always_is_the_plain_difference() -> None:
    always = WorkingTime(timezone=MSK)
    assert always.always and always.covers(msk(8, 3))
    assert minutes(always.between(msk(7, 21, 50), msk(8, 8, 25))) == 635
    assert always.between(msk(8, 9), msk(8, 8)) == timedelta()


def test_a_night_off_is_not_counted() -> None:
    day = WorkingTime("08:00-22:00", timezone=MSK)
    assert minutes(day.between(msk(7, 21, 50), msk(8, 8, 25))) == 35  # 10 before closing, 25 after opening
    assert minutes(day.between(msk(7, 22, 30), msk(8, 7, 59))) == 0
    assert minutes(day.between(msk(7, 21, 50), msk(9, 8, 0))) == 10 + 14 * 60  # a whole day in between
    assert day.covers(msk(8, 8)) and day.covers(msk(8, 21, 59))
    assert not day.covers(msk(8, 22)) and not day.covers(msk(8, 7, 59)) and not day.covers(msk(8, 2))


def test_days_off_are_not_counted() -> None:
    weekdays = WorkingTime("09:00-18:00", ("Mon", "Tue", "Wed", "Thu", "Fri"), MSK)
    friday_evening, monday_morning = msk(11, 17, 45), msk(14, 9, 20)
    assert minutes(weekdays.between(friday_evening, monday_morning)) == 35
    assert not weekdays.covers(msk(12, 12))  # Saturday noon
    whole_days = WorkingTime(None, ("Mon",), MSK)
    assert not whole_days.always
    assert minutes(whole_days.between(msk(13, 23), msk(14, 1))) == 60  # from Monday's midnight


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    night = WorkingTime("22:00-02:00", ("Mon",), MSK)
    assert night.covers(msk(15, 1))  # Tuesday 01:00, in Monday's shift
    assert not night.covers(msk(14, 1))  # Monday 01:00 is Sunday's shift: none
    assert minutes(night.between(msk(14, 0), msk(16, 0))) == 4 * 60


def test_the_topology_gives_the_schedule_and_refuses_a_bad_one() -> None:
    onec = OneC(working_hours="08:00-22:00", working_days=("Mon", "Sat"))
    assert onec.working_time == WorkingTime("08:00-22:00", ("Mon", "Sat"), MSK)
    assert OneC().working_time.always
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        OneC(working_hours="8-22")
    with pytest.raises(ValueError, match="working_days"):
        OneC.model_validate({"working_days": ["Mon", "Funday"]})
    with pytest.raises(ValueError, match="working_days"):
        OneC(working_days=())
