"""Schedule maths with fixed instants: fire times, the day a fire scores, catch-up days."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

import pytest

from jobs.schedule.cron import catchup_days, cron_day_of_week, fire_times, last_fire, next_fire, scored_day, trigger

from .local_times import CASES, NOW, YEAR_END, intended, on_the_clock

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def at(*args, tz=timezone.utc) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_fire_times_are_the_schedule_in_its_time_zone_within_the_window_oldest_first():
    fires = list(fire_times("0 2 * * *", PARIS, at(2026, 11, 25, 12), at(2026, 11, 28, 12)))
    assert [f.astimezone(timezone.utc) for f in fires] == [at(2026, 11, 26, 1), at(2026, 11, 27, 1), at(2026, 11, 28, 1)]


def test_fire_times_window_excludes_its_start_and_includes_its_end():
    fires = list(fire_times("0 2 * * *", UTC, at(2026, 11, 26, 2), at(2026, 11, 27, 2)))
    assert fires == [at(2026, 11, 27, 2)]


def test_fire_times_follow_daylight_saving_changes():
    # Paris leaves summer time on 2026-10-25 at 03:00: 02:00 local is 00:00 UTC before, 01:00
    # UTC after; on the day itself 02:00 happens twice and fires once, at its first occurrence
    # (APScheduler 3.x alone fired it twice: 00:00 and 01:00 UTC).
    fires = list(fire_times("0 2 * * *", PARIS, at(2026, 10, 23, 12), at(2026, 10, 26, 12)))
    assert [f.astimezone(timezone.utc) for f in fires] == [at(2026, 10, 24, 0), at(2026, 10, 25, 0), at(2026, 10, 26, 1)]


def test_a_fire_scores_yesterday_or_today_of_the_fire_in_the_job_time_zone():
    fire = at(2026, 11, 28, 1, 30)  # 20:30 on the 27th in New York, 02:30 on the 28th in Paris
    assert scored_day(fire, NEW_YORK, "yesterday") == date(2026, 11, 26)
    assert scored_day(fire, NEW_YORK, "today") == date(2026, 11, 27)
    assert scored_day(fire, PARIS, "yesterday") == date(2026, 11, 27)
    assert scored_day(fire, PARIS, "today") == date(2026, 11, 28)


def test_next_fire_is_the_first_fire_at_or_after_now():
    assert next_fire("0 2 * * *", UTC, at(2026, 11, 28, 12)) == at(2026, 11, 29, 2)
    assert next_fire("0 2 * * *", UTC, at(2026, 11, 29, 2)) == at(2026, 11, 29, 2)


def test_second_field_makes_a_minute_schedule_fire_every_few_seconds():
    fires = list(fire_times("* * * * *", UTC, at(2026, 11, 28, 12), at(2026, 11, 28, 12, 0, 10), second="*/5"))
    assert fires == [at(2026, 11, 28, 12, 0, 5), at(2026, 11, 28, 12, 0, 10)]


def test_last_fire_is_the_newest_fire_not_after_now_within_the_lookback():
    now = at(2026, 11, 28, 2, 0, 30)
    assert last_fire("0 2 * * *", UTC, now, timedelta(minutes=10)) == at(2026, 11, 28, 2)
    assert last_fire("0 2 * * *", UTC, at(2026, 11, 28, 3), timedelta(minutes=10)) is None


def test_catchup_days_are_every_missed_fire_day_oldest_first_without_succeeded_days():
    now = at(2026, 11, 28, 12)
    succeeded = [date(2026, 11, 24), date(2026, 11, 26)]
    days = catchup_days("0 2 * * *", UTC, "yesterday", now, 7, succeeded)
    assert days == [date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 27)]


def test_catchup_days_of_a_job_that_never_succeeded_cover_the_whole_window():
    now = at(2026, 11, 28, 1)  # before today's 02:00 fire: the newest fire scored the 26th
    days = catchup_days("0 2 * * *", UTC, "yesterday", now, 3, [])
    assert days == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)]


def test_catchup_days_follow_weekday_schedules():
    now = at(2026, 11, 30, 12)  # a Monday; weekdays only: the weekend has no fires
    days = catchup_days("0 6 * * 1-5", UTC, "today", now, 7, [])
    assert days == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30)]


def test_catchup_of_a_frequent_schedule_gives_each_day_once():
    now = at(2026, 11, 28, 12)
    days = catchup_days("*/5 * * * *", NEW_YORK, "today", now, 2, [], second="*/10")
    assert days == [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)]


def test_the_trigger_accepts_every_schedule_config_accepts():
    for schedule in ("0 2 * * *", "*/15 8-18 * * mon-fri", "30 1 1,15 * *"):
        CronTrigger.from_crontab(schedule)
        assert next_fire(schedule, UTC, at(2026, 11, 28)) is not None


def test_fires_inside_a_daylight_saving_fold_always_move_forward():
    # APScheduler 3.x alone repeats one instant forever here (its issue 1021).
    fires = list(fire_times("*/30 * * * *", PARIS, at(2026, 10, 24, 23, 45), at(2026, 10, 25, 3, 0)))
    stamps = [f.timestamp() for f in fires]
    assert stamps == sorted(set(stamps))
    assert [f.astimezone(timezone.utc) for f in fires] == [
        at(2026, 10, 25, 0), at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1), at(2026, 10, 25, 1, 30),
        at(2026, 10, 25, 2), at(2026, 10, 25, 2, 30), at(2026, 10, 25, 3),
    ]


def daemon_fires(schedule: str, job_tz: str, start: datetime, end: datetime) -> list[datetime]:
    """The daemon's fires in [start, end), as UTC instants."""
    return [f.astimezone(timezone.utc) for f in fire_times(schedule, ZoneInfo(job_tz), start - timedelta(seconds=1), end)
            if f.astimezone(timezone.utc) < end]


@pytest.mark.parametrize(("schedule", "job_tz"), sorted({(s, z) for s, z, _ in CASES}))
def test_the_daemon_fires_each_local_time_of_a_year_once_as_the_crontab_lines_do(schedule, job_tz):
    # The crontab lines are held to the same oracle (test_cron_tz): gaps fire at the offset
    # before the change, a repeated time once. APScheduler 3.x alone fired 02:30 twice on
    # Berlin's fall-back day and skipped 1 October 2027 in Auckland.
    fires = daemon_fires(schedule, job_tz, NOW, YEAR_END)
    assert len(fires) == len(set(fires))
    expected = intended(schedule, job_tz, NOW, YEAR_END)
    assert set(fires) == expected, (sorted(expected - set(fires))[:4], sorted(set(fires) - expected)[:4])


@pytest.mark.parametrize(("schedule", "job_tz"), [
    ("* * * * *", "Europe/Berlin"), ("0 * * * *", "America/New_York"), ("*/15 * * * *", "Australia/Sydney"),
])
def test_a_schedule_that_reads_the_same_at_every_offset_fires_on_the_clock_in_the_daemon_too(schedule, job_tz):
    for change in (at(2027, 3, 28), at(2027, 4, 4), at(2027, 10, 31), at(2027, 11, 7), at(2027, 10, 3)):
        start, end = change - timedelta(days=1), change + timedelta(days=1)
        assert daemon_fires(schedule, job_tz, start, end) == sorted(on_the_clock(schedule, job_tz, start, end))


def test_a_monthly_fire_after_a_spring_forward_is_not_skipped():
    # APScheduler 3.11 alone: from 1 September 2027, the next fire of "0 0 1 * *" in Auckland
    # (daylight saving starts 26 September) was 1 November.
    auckland = ZoneInfo("Pacific/Auckland")
    september = datetime(2027, 9, 1, tzinfo=auckland)
    assert trigger("0 0 1 * *", auckland).get_next_fire_time(september, september) == datetime(2027, 10, 1, tzinfo=auckland)


def test_day_of_week_numbers_mean_what_they_mean_in_cron():
    # cron: 0 and 7 are Sunday, 1-5 Monday to Friday (APScheduler 3.x alone counts from Monday).
    assert cron_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert cron_day_of_week("0") == cron_day_of_week("7") == "sun"
    assert cron_day_of_week("*/2") == "sun,tue,thu,sat"
    assert cron_day_of_week("sat,sun") == "sun,sat"
    assert cron_day_of_week("MON-wed") == "mon,tue,wed"
    sunday = at(2026, 11, 29, 12)
    assert next_fire("0 6 * * 0", UTC, sunday - timedelta(days=1)) == at(2026, 11, 29, 6)


def test_schedules_cron_and_apscheduler_read_differently_are_refused():
    with pytest.raises(ValueError, match="not both"):
        trigger("0 2 1 * 1", UTC)
    with pytest.raises(ValueError, match="day of week"):
        trigger("0 2 * * 8", UTC)
