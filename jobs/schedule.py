"""Schedule maths, pure: fire times of a cron schedule, the day a fire scores, catch-up days.

Time is always a parameter (as in APScheduler's ``get_next_fire_time(previous, now)``), so
all of this is tested with fixed instants, never by waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from jobs.dates import RELATIVE_DAYS, local_today

_TICK = timedelta(microseconds=1)


def trigger(schedule: str, tz: tzinfo, second: str = "0") -> CronTrigger:
    """The APScheduler trigger of a 5-field cron ``schedule`` in ``tz``.

    ``second`` is the cron second field: ``"0"`` fires on the minute, as cron does; ``"*/5"``
    fires every 5 s within each scheduled minute (demos and tests of the daemon).
    """
    minute, hour, day, month, day_of_week = schedule.split()
    return CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=tz
    )


def next_fire(schedule: str, tz: tzinfo, now: datetime, second: str = "0") -> datetime | None:
    """The first fire at or after ``now``."""
    return trigger(schedule, tz, second).get_next_fire_time(None, now)


def fire_times(schedule: str, tz: tzinfo, after: datetime, until: datetime, second: str = "0") -> Iterator[datetime]:
    """Every fire in ``(after, until]``, oldest first."""
    trig = trigger(schedule, tz, second)
    fire = trig.get_next_fire_time(None, after + _TICK)
    while fire is not None and fire <= until:
        yield fire
        fire = trig.get_next_fire_time(fire, fire + _TICK)


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
