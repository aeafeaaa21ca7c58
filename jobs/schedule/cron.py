"""Schedule maths, pure: fire times of a cron schedule, the day a fire scores, catch-up days.

Time is always a parameter (as in APScheduler's ``get_next_fire_time(previous, now)``), so
all of this is tested with fixed instants, never by waiting.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from jobs.schedule.cron_tz import cron_matches, field_values
from jobs.schedule.days import RELATIVE_DAYS, local_today

_TICK = timedelta(microseconds=1)
DAY_S = 24 * 3600
KEEP_DAYS = 4  # local days whose fire instants a trigger keeps
MAX_YEARS = 8  # a schedule with no fire in this long never fires (29 February fires every 4 years)


def trigger(schedule: str, tz: tzinfo, second: str = "0") -> CronTrigger:
    """The APScheduler trigger of a 5-field cron ``schedule`` in ``tz``, with cron's meaning.

    ``second`` is the cron second field: ``"0"`` fires on the minute, as cron does; ``"*/5"``
    fires every 5 s within each scheduled minute (demos and tests of the daemon). Raises
    ``ValueError`` for what cron and APScheduler would read differently.
    """
    minute, hour, day, month, day_of_week = schedule.split()
    if day != "*" and day_of_week != "*":
        # cron runs when EITHER matches, APScheduler only when both do.
        raise ValueError("restrict day of month or day of week, not both (cron and APScheduler disagree on it)")
    return _CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month,
        day_of_week=cron_day_of_week(day_of_week), timezone=tz, cron_day_of_week_field=day_of_week,
    )


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_day_of_week(field: str) -> str:
    """A cron day-of-week field (0 or 7 = Sunday; names; ranges, lists, steps) as APScheduler
    3.x names (its numbers start at Monday = 0, cron's at Sunday = 0)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low, high = (_cron_day(x) for x in span.split("-", 1))
        else:
            low = _cron_day(span)
            high = 7 if step_text else low  # cron reads "a/n" as a-last/n
        if step < 1 or high < low:
            raise ValueError(f"day of week {part!r}: empty range")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def _cron_day(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in _CRON_DAYS:
        return _CRON_DAYS.index(token)
    raise ValueError(f"day of week {token!r}: use 0-7 (0 and 7 are Sunday) or sun..sat")


class _CronTrigger(CronTrigger):
    """APScheduler's cron trigger (its field syntax and errors), with fire times computed from
    the local wall times the schedule names, by the rules the crontab lines keep
    (``jobs.schedule.cron_tz``), so the daemon and cron fire at the same instants:

    - a local time skipped by a spring-forward gap fires at the instant it has with the offset
      before the change (``fold=0``: 02:30 becomes 03:30), once even if 03:30 is scheduled too;
    - a local time repeated by a fall-back fold fires once, at its first occurrence, unless the
      schedule reads the same at both offsets (every minute, hourly, ``*/15``): that fires on
      the clock, the repeated hour again.

    APScheduler 3.x alone gets both wrong: it returns one instant forever inside a fold
    (agronholm/apscheduler issue 1021), and from before a spring-forward it can skip a fire
    after it (``0 0 1 * *`` in Pacific/Auckland: from 1 September 2027 its next fire is
    1 November, never 1 October).
    """

    def __init__(self, *, second: str, minute: str, hour: str, day: str, month: str, day_of_week: str,
                 timezone: tzinfo, cron_day_of_week_field: str) -> None:
        super().__init__(second=second, minute=minute, hour=hour, day=day, month=month,
                         day_of_week=day_of_week, timezone=timezone)
        self.zone = timezone
        self.day_fields = f"0 0 {day} {month} {cron_day_of_week_field}"
        self.every_day = day == month == cron_day_of_week_field == "*"
        self.times = sorted(  # seconds of the local day
            h * 3600 + m * 60 + s
            for h in field_values(hour, 0, 23) for m in field_values(minute, 0, 59) for s in field_values(second, 0, 59)
        )
        self.time_set = frozenset(self.times)
        self._days: dict[date, list[float]] = {}  # _fires_on's: a tick asks for the same day again and again
        self._clock: dict[int, bool] = {}  # _on_the_clock's, by shift

    def get_next_fire_time(self, previous_fire_time, now):
        """The first fire at or after ``now`` or, given the previous fire, the first after it
        (even if that is before ``now``: the caller decides what a late fire does)."""
        start = now.timestamp() if previous_fire_time is None else previous_fire_time.timestamp() + 1e-6
        # Every instant of local day D comes before every instant of D + 1 (a repeated hour
        # repeats D's own wall times), but a repeat can put D - 1's last fires after ``start``.
        day = datetime.fromtimestamp(start, self.zone).date() - timedelta(days=1)
        for _ in range(MAX_YEARS * 366):
            fires = self._fires_on(day)
            i = bisect_left(fires, start)
            if i < len(fires):
                return datetime.fromtimestamp(fires[i], self.zone)
            day += timedelta(days=1)
        return None

    def _fires_on(self, day: date) -> list[float]:
        """The instants (POSIX seconds, sorted) of local ``day``'s fires; the last few days' kept."""
        fires = self._days.get(day)
        if fires is None:
            fires = []
            if cron_matches(self.day_fields, datetime(day.year, day.month, day.day)):
                midnight = datetime(day.year, day.month, day.day)
                fires = sorted({t for wall in self.times for t in self._instants(midnight + timedelta(seconds=wall))})
            if len(self._days) >= KEEP_DAYS:
                self._days.pop(next(iter(self._days)))
            self._days[day] = fires
        return fires

    def _instants(self, wall: datetime) -> list[float]:
        """The instants a scheduled wall time stands for: its first occurrence (``fold=0``;
        in a gap, the offset before the change) and, in a fold, its repeat if the schedule
        fires on the clock there."""
        first = wall.replace(tzinfo=self.zone, fold=0)
        instants = [first.timestamp()]
        repeat = wall.replace(tzinfo=self.zone, fold=1)
        shift = int((first.utcoffset() - repeat.utcoffset()).total_seconds())
        in_fold = shift > 0 and datetime.fromtimestamp(repeat.timestamp(), self.zone).replace(tzinfo=None) == wall
        if in_fold and self._on_the_clock(shift):
            instants.append(repeat.timestamp())
        return instants

    def _on_the_clock(self, shift: int) -> bool:
        """Whether the schedule reads the same at two offsets ``shift`` seconds apart."""
        if shift not in self._clock:
            self._clock[shift] = self.every_day and all((t + shift) % DAY_S in self.time_set for t in self.times)
        return self._clock[shift]


def next_fire(schedule: str, tz: tzinfo, now: datetime, second: str = "0") -> datetime | None:
    """The first fire at or after ``now``."""
    return trigger(schedule, tz, second).get_next_fire_time(None, now)


def fire_times(schedule: str, tz: tzinfo, after: datetime, until: datetime, second: str = "0") -> Iterator[datetime]:
    """Every fire in ``(after, until]``, oldest first."""
    trig = trigger(schedule, tz, second)
    fire = trig.get_next_fire_time(None, after + _TICK)
    while fire is not None and fire <= until:
        yield fire
        fire = trig.get_next_fire_time(fire, fire)


def last_fire(schedule: str, tz: tzinfo, now: datetime, lookback: timedelta, second: str = "0") -> datetime | None:
    """The newest fire at or before ``now`` (within ``lookback``): the one a late run stands for."""
    last = None
    for last in fire_times(schedule, tz, now - lookback, now, second):
        pass
    return last


def scored_day(fire: datetime, tz: tzinfo, score_date: str) -> date:
    """The day a fire at ``fire`` scores: ``today`` or ``yesterday`` of the fire, in ``tz``."""
    return local_today(fire, tz) + timedelta(days=RELATIVE_DAYS[score_date])


def catchup_days(
    schedule: str,
    tz: tzinfo,
    score_date: str,
    now: datetime,
    max_days: int,
    succeeded: Iterable[date],
    second: str = "0",
) -> list[date]:
    """Days of every fire in the last ``max_days`` days (up to ``now``) with no succeeded run,
    oldest first: what a daemon that was down has to score."""
    trig = trigger(schedule, tz, second)
    days: set[date] = set()
    fire = trig.get_next_fire_time(None, now - timedelta(days=max_days) + _TICK)
    while fire is not None and fire <= now:
        days.add(scored_day(fire, tz, score_date))
        # Every later fire of the same local day scores the same day: jump to the next one.
        fire = trig.get_next_fire_time(None, _next_midnight(fire, tz))
    return sorted(days - set(succeeded))


def _next_midnight(instant: datetime, tz: tzinfo) -> datetime:
    local = instant.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
