"""Schedule maths, pure: fire times of a cron schedule, the day a fire scores, catch-up days.

Time is always a parameter (as in APScheduler's ``get_next_fire_time(previous, now)``), so
all of this is tested with fixed instants, never by waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from jobs.schedule.days import RELATIVE_DAYS, local_today

_TICK = timedelta(microseconds=1)


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
        day_of_week=cron_day_of_week(day_of_week), timezone=tz,
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
    """APScheduler's trigger, never returning a fire that is not later than the previous one.

    APScheduler 3.x can return the same instant forever inside a daylight-saving fold
    (agronholm/apscheduler issue 1021); stepping from the instant after ``previous`` fixes it.
    """

    def get_next_fire_time(self, previous_fire_time, now):
        fire = super().get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is None:
            return fire
        # Timestamps, not datetimes: datetimes of one zone compare by wall time, ignoring fold.
        after = previous_fire_time.timestamp()
        probe = after + 1e-6
        for _ in range(2 * 3600):  # a fold lasts an hour or so; step through it a second at a time
            if fire is None or fire.timestamp() > after:
                return fire
            fire = super().get_next_fire_time(None, datetime.fromtimestamp(probe, self.timezone))
            probe += 1.0
        raise RuntimeError(f"cron trigger stuck at {fire} after {previous_fire_time}")


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
