"""What a schedule in a job's zone should fire, computed the plain way (every local day,
every scheduled wall time): the oracle both the crontab lines (test_cron_tz) and the daemon's
trigger (test_cron) are held to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from jobs.schedule.cron_tz import cron_matches, field_values

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc)
YEAR_END = NOW + timedelta(days=366)


def on_the_clock(schedule: str, job_tz: str, start: datetime, end: datetime) -> set[datetime]:
    """Every minute whose local wall time matches: what cron and the daemon do for a schedule
    that reads the same at every offset (a repeated hour fires again, a skipped one not)."""
    zone = ZoneInfo(job_tz)
    out, t = set(), start
    while t < end:
        if cron_matches(schedule, t.astimezone(zone)):
            out.add(t)
        t += timedelta(minutes=1)
    return out


def intended(schedule: str, job_tz: str, start: datetime, end: datetime) -> set[datetime]:
    """Each scheduled local time of each local day, as an instant (fold=0: a time in a gap
    takes the offset before the change, a repeated time its first occurrence)."""
    zone = ZoneInfo(job_tz)
    minute, hour, *_ = schedule.split()
    day_fields = " ".join(schedule.split()[2:])
    out = set()
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        if cron_matches(f"0 0 {day_fields}", datetime(day.year, day.month, day.day)):
            for h in field_values(hour, 0, 23):
                for m in field_values(minute, 0, 59):
                    instant = datetime(day.year, day.month, day.day, h, m, tzinfo=zone).astimezone(timezone.utc)
                    if start <= instant < end:
                        out.add(instant)
        day += timedelta(days=1)
    return out


CASES = [
    # (schedule, job zone, system zone): gaps and folds north and south, half-hour zones,
    # day-of-week and day-of-month across midnight, a system zone with its own DST.
    ("30 2 * * *", "Europe/Berlin", "Etc/UTC"),
    ("0 1-23 * * *", "Europe/Berlin", "Etc/UTC"),  # hourly but one: guarded, unlike hourly
    ("* 0-1,3-23 * * *", "Europe/Berlin", "Etc/UTC"),  # every minute but an hour, through both folds
    ("30 6 * * 1-5", "America/New_York", "Etc/UTC"),
    ("30 2 * * 0", "Australia/Sydney", "Etc/UTC"),
    ("0 0 1 * *", "Pacific/Auckland", "Etc/UTC"),
    ("15 2 * * *", "Australia/Lord_Howe", "Etc/UTC"),
    ("*/15 * * * *", "Asia/Kolkata", "Etc/UTC"),
    ("17 15 * * *", "Asia/Tokyo", "Etc/UTC"),
    ("0 9 * * *", "America/New_York", "Europe/London"),
    ("45 23 * * 6", "Europe/Paris", "America/Chicago"),
]


