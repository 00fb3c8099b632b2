"""Business-time arithmetic for SLA clocks: pure functions, no database and no clock.

A Schedule says when the clock runs: working intervals per ISO weekday in a time zone, minus
holidays. Times go in as aware datetimes in any zone and come out in UTC. Differences are taken in
UTC, so days that are 23 or 25 hours long in zones with daylight saving count right too (Asia/Taipei
has none, which the tests pin down).
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

UTC = dt.UTC
# A calendar with no working time at all would make a deadline infinitely far: stop looking after this.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Schedule:
    """When an SLA clock runs. `hours[weekday]` holds (start, end) local times; end None means midnight."""

    tz: dt.tzinfo
    hours: Mapping[int, tuple[tuple[dt.time, dt.time | None], ...]]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, *, time_zone: str, hours: Mapping, holidays: Iterable[dt.date] = ()) -> "Schedule":
        """From a BusinessCalendar's fields: {"1": [["09:00", "18:00"]], ...} ("24:00" ends at midnight)."""
        parsed = {}
        for weekday, intervals in (hours or {}).items():
            parsed[int(weekday)] = tuple(
                (parse_time(start), None if end == "24:00" else parse_time(end)) for start, end in intervals
            )
        return cls(tz=ZoneInfo(time_zone), hours=parsed, holidays=frozenset(holidays))

    def intervals_on(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals of a local date, as UTC datetimes."""
        if day in self.holidays:
            return []
        intervals = []
        for start, end in self.hours.get(day.isoweekday(), ()):
            opens = dt.datetime.combine(day, start, tzinfo=self.tz)
            if end is None:
                closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz)
            else:
                closes = dt.datetime.combine(day, end, tzinfo=self.tz)
            opens, closes = opens.astimezone(UTC), closes.astimezone(UTC)
            if closes > opens:
                intervals.append((opens, closes))
        return intervals

    @property
    def has_working_time(self) -> bool:
        return any(self.hours.values())


ALWAYS_OPEN = Schedule(tz=UTC, hours={day: ((dt.time(0), None),) for day in range(1, 8)})


def parse_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _local_date(moment: dt.datetime, schedule: Schedule) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs aware datetimes")
    return moment.astimezone(schedule.tz).date()


def add_business_time(start: dt.datetime, seconds: float, schedule: Schedule) -> dt.datetime:
    """The moment `seconds` of working time after `start`.

    Starting outside working hours, the clock starts at the next opening. A deadline that uses up an
    interval exactly lands on its closing time (18:00), not on the next opening.
    """
    start = start.astimezone(UTC)
    remaining = max(0.0, float(seconds))
    if remaining == 0:
        return start
    day = _local_date(start, schedule) - dt.timedelta(days=1)  # an interval may still run past midnight
    for _step in range(MAX_DAYS):
        for opens, closes in schedule.intervals_on(day):
            if closes <= start:
                continue
            opens = max(opens, start)
            available = (closes - opens).total_seconds()
            if remaining <= available:
                return opens + dt.timedelta(seconds=remaining)
            remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError("The calendar has no working time to count")


def business_seconds_between(a: dt.datetime, b: dt.datetime, schedule: Schedule) -> int:
    """Working seconds from `a` to `b`; 0 when `b` is not after `a`."""
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if b <= a:
        return 0
    total = 0.0
    day = _local_date(a, schedule) - dt.timedelta(days=1)
    last = _local_date(b, schedule)
    while day <= last:
        for opens, closes in schedule.intervals_on(day):
            overlap = (min(closes, b) - max(opens, a)).total_seconds()
            if overlap > 0:
                total += overlap
        day += dt.timedelta(days=1)
    return int(round(total))


def is_working_time(moment: dt.datetime, schedule: Schedule) -> bool:
    moment = moment.astimezone(UTC)
    day = _local_date(moment, schedule)
    return any(
        opens <= moment < closes
        for check in (day - dt.timedelta(days=1), day)
        for opens, closes in schedule.intervals_on(check)
    )
