"""Schedules in a job's zone as crontab lines for a cron running in the system's zone: every
local fire of a year happens exactly once, across daylight-saving changes (jobs.schedule.cron_tz)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobs.schedule.cron_tz import CronLine, convert, cron_matches, field_values

from .local_times import CASES, NOW, YEAR_END, intended, on_the_clock



def simulate(lines: list[CronLine], system_tz: str, start: datetime, end: datetime) -> list[datetime]:
    """What cron in ``system_tz`` runs, minute by minute over [start, end): the instants a
    line's command got past its guards (a line per fire: duplicates are kept)."""
    zone = ZoneInfo(system_tz)
    fires = []
    t = start
    while t < end:
        wall = t.astimezone(zone)
        for line in lines:
            if cron_matches(line.fields, wall) and all(g.holds(t, system_tz) for g in line.guards):
                fires.append(t)
        t += timedelta(minutes=1)
    return fires


@pytest.mark.parametrize(("schedule", "job_tz", "system_tz"), CASES)
def test_a_year_of_cron_minutes_fires_each_local_time_exactly_once(schedule, job_tz, system_tz):
    lines = convert(schedule, job_tz, system_tz, NOW)
    fires = simulate(lines, system_tz, NOW, YEAR_END)
    assert len(fires) == len(set(fires)), sorted(t for t in fires if fires.count(t) > 1)[:4]
    expected = intended(schedule, job_tz, NOW, YEAR_END)
    assert set(fires) == expected, (sorted(expected - set(fires))[:4], sorted(set(fires) - expected)[:4])


@pytest.mark.parametrize(("schedule", "job_tz"), [
    ("* * * * *", "Europe/Berlin"), ("0 * * * *", "America/New_York"), ("*/15 * * * *", "Australia/Sydney"),
])
def test_a_schedule_that_reads_the_same_at_every_offset_fires_on_the_clock_unguarded(schedule, job_tz):
    lines = convert(schedule, job_tz, "Etc/UTC", NOW)
    assert [line.guards for line in lines] == [()] and lines[0].fields == schedule
    start, end = NOW + timedelta(days=80), NOW + timedelta(days=340)  # both changes of the zones
    assert sorted(simulate(lines, "Etc/UTC", start, end)) == sorted(on_the_clock(schedule, job_tz, start, end))


def test_a_fixed_offset_zone_is_one_shifted_line_without_guards():
    [line] = convert("17 15 * * *", "Asia/Tokyo", "Etc/UTC", NOW)
    assert line == CronLine("17 6 * * *")
    [line] = convert("30 6 * * 1-5", "Asia/Tokyo", "Etc/UTC", NOW)
    assert line.fields == "30 21 * * 0-4"  # 06:30 Monday in Tokyo is 21:30 Sunday in UTC
    [line] = convert("*/10 9-17 * * *", "Etc/UTC", "UTC", NOW)
    assert line == CronLine("*/10 9-17 * * *")


def test_a_dst_zone_gets_one_guarded_line_per_offset():
    lines = convert("30 2 * * *", "Europe/Berlin", "Etc/UTC", NOW)
    assert sorted(line.fields for line in lines) == ["30 0 * * *", "30 1 * * *"]
    assert all(line.guards for line in lines)


@pytest.fixture
def fake_clock(tmp_path):
    """A ``date`` first on PATH that tells the time $FAKE_NOW (seconds since the epoch) unless
    given one with ``-d``: the shell text of the guards, run at chosen instants."""
    real = shutil.which("date")
    shim = tmp_path / "bin" / "date"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\ncase "$*" in *-d*) exec {real} "$@";; esac\nexec {real} -d "@$FAKE_NOW" "$@"\n')
    shim.chmod(0o755)

    def run(command: str, instant: datetime) -> bool:
        env = {"PATH": f"{shim.parent}:/usr/bin:/bin", "FAKE_NOW": str(int(instant.timestamp())), "HOME": str(tmp_path)}
        out = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() == "FIRED"

    return run


@pytest.mark.parametrize(("schedule", "job_tz", "around"), [
    ("0 1-23 * * *", "Europe/Berlin", [datetime(2027, 3, 28, 1, tzinfo=timezone.utc), datetime(2027, 10, 31, 1, tzinfo=timezone.utc)]),
    ("30 2 * * 0", "Australia/Sydney", [datetime(2027, 4, 3, 16, tzinfo=timezone.utc), datetime(2027, 10, 2, 16, tzinfo=timezone.utc)]),
])
def test_the_guards_shell_text_answers_as_the_model_does_around_each_change(fake_clock, schedule, job_tz, around):
    lines = convert(schedule, job_tz, "Etc/UTC", NOW)
    answers = []
    for centre in around:
        for step in range(-4, 5):
            instant = centre + timedelta(minutes=30 * step)
            for line in lines:
                if not cron_matches(line.fields, instant):
                    continue
                expected = line.fires_at(instant, "Etc/UTC")
                assert fake_clock(line.command("echo FIRED"), instant) == expected, (line, instant)
                answers.append(expected)
    assert True in answers and False in answers


def test_cron_fields_follow_crons_own_reading():
    assert field_values("1-10/3", 0, 59) == {1, 4, 7, 10}
    assert field_values("5/20", 0, 59) == {5, 25, 45}
    assert field_values("mon-fri", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")) == {1, 2, 3, 4, 5}
    assert field_values("7", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")) == {0}
    # cron: with both days restricted, either matches
    assert cron_matches("0 0 1 * 1", datetime(2026, 12, 7))  # a Monday, not the 1st
    assert not cron_matches("0 0 1 * *", datetime(2026, 12, 7))
