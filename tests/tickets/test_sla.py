"""Business-time arithmetic, no database: Taipei office hours 09:00-18:00 on weekdays with holidays."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from tickets import sla

from .conftest import taipei

HOUR = 3600
OFFICE = {str(day): [["09:00", "18:00"]] for day in range(1, 6)}
MID_AUTUMN_2026 = [dt.date(2026, 9, 25), dt.date(2026, 9, 28)]  # Friday Mid-Autumn, Monday Teachers' Day
LUNAR_NEW_YEAR_2026 = [dt.date(2026, 2, day) for day in range(16, 21)]


def office(holidays=()):
    return sla.Schedule.from_config(time_zone="Asia/Taipei", hours=OFFICE, holidays=holidays)


def test_friday_1730_plus_two_business_hours_lands_monday_1030():
    assert sla.add_business_time(taipei(2026, 11, 20, 17, 30), 2 * HOUR, office()) == taipei(
        2026, 11, 23, 10, 30
    )


def test_a_deadline_that_uses_up_the_day_lands_on_closing_time_not_next_morning():
    assert sla.add_business_time(taipei(2026, 11, 20, 17, 0), HOUR, office()) == taipei(2026, 11, 20, 18, 0)


def test_a_clock_started_outside_working_hours_starts_at_the_next_opening():
    saturday_noon = taipei(2026, 11, 21, 12, 0)
    assert sla.add_business_time(saturday_noon, 30 * 60, office()) == taipei(2026, 11, 23, 9, 30)
    early_monday = taipei(2026, 11, 23, 6, 0)
    assert sla.add_business_time(early_monday, HOUR, office()) == taipei(2026, 11, 23, 10, 0)


def test_the_mid_autumn_long_weekend_is_skipped():
    thursday_evening = taipei(2026, 9, 24, 17, 0)
    due = sla.add_business_time(thursday_evening, 2 * HOUR, office(MID_AUTUMN_2026))
    assert due == taipei(2026, 9, 29, 10, 0)  # Friday, the weekend and Monday are all off


def test_lunar_new_year_week_is_skipped():
    due = sla.add_business_time(taipei(2026, 2, 13, 17, 0), 2 * HOUR, office(LUNAR_NEW_YEAR_2026))
    assert due == taipei(2026, 2, 23, 10, 0)


def test_business_seconds_between_counts_only_working_time():
    schedule = office(MID_AUTUMN_2026)
    assert (
        sla.business_seconds_between(taipei(2026, 11, 20, 17, 0), taipei(2026, 11, 23, 10, 0), schedule)
        == 2 * HOUR
    )
    assert (
        sla.business_seconds_between(taipei(2026, 9, 24, 17, 0), taipei(2026, 9, 29, 9, 30), schedule) == 5400
    )
    assert (
        sla.business_seconds_between(taipei(2026, 11, 23, 12, 0), taipei(2026, 11, 23, 11, 0), schedule) == 0
    )


def test_times_in_other_zones_mean_the_same_instants():
    friday_1730_in_utc = taipei(2026, 11, 20, 17, 30).astimezone(dt.UTC)
    due = sla.add_business_time(friday_1730_in_utc, 2 * HOUR, office())
    assert due == taipei(2026, 11, 23, 10, 30) and due.tzinfo == dt.UTC


def test_split_shifts_and_round_the_clock_days():
    schedule = sla.Schedule.from_config(
        time_zone="Asia/Taipei",
        hours={"1": [["09:00", "12:00"], ["13:00", "18:00"]], "6": [["00:00", "24:00"]]},
    )
    assert sla.add_business_time(taipei(2026, 11, 23, 11, 30), HOUR, schedule) == taipei(2026, 11, 23, 13, 30)
    assert sla.add_business_time(taipei(2026, 11, 28, 23, 0), 2 * HOUR, schedule) == taipei(
        2026, 11, 30, 10, 0
    )


def test_taipei_keeps_no_daylight_saving_so_every_working_day_of_2026_counts_nine_hours():
    holidays = [
        dt.date(2026, 1, 1),
        *LUNAR_NEW_YEAR_2026,
        dt.date(2026, 2, 27),
        dt.date(2026, 4, 3),
        dt.date(2026, 4, 6),
        dt.date(2026, 5, 1),
        dt.date(2026, 6, 19),
        *MID_AUTUMN_2026,
        dt.date(2026, 10, 9),
        dt.date(2026, 10, 26),
        dt.date(2026, 12, 25),
    ]
    year = sla.business_seconds_between(taipei(2026, 1, 1), taipei(2027, 1, 1), office(holidays))
    assert year == (261 - 16) * 9 * HOUR  # 261 weekdays, 16 of them holidays
    # Midnight to midnight is 24 hours on every day of the year in Asia/Taipei.
    schedule = sla.Schedule.from_config(
        time_zone="Asia/Taipei", hours={str(d): [["00:00", "24:00"]] for d in range(1, 8)}
    )
    assert sla.business_seconds_between(taipei(2026, 1, 1), taipei(2027, 1, 1), schedule) == 365 * 24 * HOUR


def test_a_zone_with_daylight_saving_counts_the_short_day_right():
    london = ZoneInfo("Europe/London")
    schedule = sla.Schedule.from_config(time_zone="Europe/London", hours={"7": [["00:00", "24:00"]]})
    start = dt.datetime(2026, 3, 29, tzinfo=london)  # the clocks go forward at 01:00
    assert sla.business_seconds_between(start, start + dt.timedelta(days=2), schedule) == 23 * HOUR


def test_adding_then_measuring_gives_back_the_same_business_time():
    rng = random.Random(2026)
    schedule = office(MID_AUTUMN_2026 + LUNAR_NEW_YEAR_2026)
    for _ in range(300):
        start = taipei(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        seconds = rng.randrange(0, 40 * 9 * HOUR)
        due = sla.add_business_time(start, seconds, schedule)
        assert sla.business_seconds_between(start, due, schedule) == seconds
        assert due == start or sla.is_working_time(due - dt.timedelta(seconds=1), schedule)


def test_a_calendar_without_working_time_is_refused():
    schedule = sla.Schedule.from_config(time_zone="Asia/Taipei", hours={})
    with pytest.raises(ValueError):
        sla.add_business_time(taipei(2026, 1, 1), 60, schedule)
