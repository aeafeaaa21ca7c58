"""The daemon's job table in this process (APScheduler paused: nothing fires): loading,
reloading on a changed file, a broken file keeping the previous version, ``batchscore list``."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone

import pytest

from jobs import cli
from jobs.schedule.daemon import Daemon
from jobs.schedule.cron import next_fire
from tests.jobs.schedule.helpers import settings_of, wait_for, write_job

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def job_files(tmp_path):
    (tmp_path / "configs").mkdir()
    write_job(tmp_path, "daily", schedule="0 2 * * *")
    write_job(tmp_path, "manual")
    return tmp_path


@pytest.fixture
def daemon(job_files):
    d = Daemon(settings_of(job_files), reload_check_s=0.05, clock=lambda: NOW)
    d.start(paused=True)
    yield d
    d.shutdown()


def next_run(daemon: Daemon, name: str):
    job = daemon.scheduler.get_job(name)
    return job.next_run_time if job else None


def test_scheduled_jobs_are_in_the_scheduler_and_manual_jobs_are_not(daemon):
    assert set(daemon.jobs) == {"daily", "manual"}
    assert daemon.scheduler.get_job("manual") is None
    job = daemon.scheduler.get_job("daily")
    assert job.max_instances == 1 and job.coalesce and job.misfire_grace_time == 600


def test_a_catchup_job_fires_at_once_on_start(job_files):
    write_job(job_files, "behind", schedule="0 2 * * *", catchup=True)
    d = Daemon(settings_of(job_files), clock=lambda: NOW)
    d.start(paused=True)
    try:
        assert next_run(d, "behind") == NOW
    finally:
        d.shutdown()


def test_a_changed_file_is_picked_up_by_the_periodic_check(daemon, job_files):
    stop, hup = threading.Event(), threading.Event()
    serving = threading.Thread(target=daemon.serve, args=(stop, hup))
    serving.start()
    try:
        time.sleep(0.1)
        write_job(job_files, "daily", schedule="0 5 * * *", timezone="Asia/Tokyo")
        wait_for(lambda: daemon.jobs["daily"].schedule == "0 5 * * *", 10, "the reload")
        write_job(job_files, "extra", schedule="0 3 * * *")
        wait_for(lambda: daemon.scheduler.get_job("extra") is not None, 10, "the new job")
    finally:
        stop.set()
        serving.join()
    tokyo = daemon.jobs["daily"].tz
    assert next_run(daemon, "daily") == next_fire("0 5 * * *", tokyo, NOW)  # the daemon's clock, not the wall's


def test_a_broken_file_keeps_the_previous_version_running(daemon, job_files, caplog):
    before = daemon.jobs["daily"]
    (job_files / "configs" / "daily.yaml").write_text("name: daily\nschedule: '0 2 * *'\n")
    daemon.reload("test")
    assert daemon.jobs["daily"] is before
    assert daemon.scheduler.get_job("daily") is not None
    assert "keeping its previous version" in caplog.text
    assert "not a 5-field cron expression" in caplog.text


def test_a_removed_file_unschedules_its_job(daemon, job_files):
    (job_files / "configs" / "daily.yaml").unlink()
    daemon.reload("test")
    assert "daily" not in daemon.jobs and daemon.scheduler.get_job("daily") is None


def test_days_for_a_fire_are_its_scored_day_unless_it_succeeded(daemon):
    fire, days = daemon.days_for(daemon.jobs["daily"], datetime(2026, 11, 28, 2, 0, 3, tzinfo=timezone.utc))
    assert fire == datetime(2026, 11, 28, 2, tzinfo=timezone.utc)
    assert days == [date(2026, 11, 27)]


def test_list_shows_schedule_next_fire_and_last_run(job_files, capsys):
    assert cli.main(["list", "--config-dir", str(job_files / "configs")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["job", "schedule", "last", "run"]
    daily = next(line for line in out if line.startswith("daily"))
    assert "0 2 * * * UTC" in daily and "never" in daily and " UTC" in daily.split("never")[1]
    assert "manual" in next(line for line in out if line.startswith("manual "))
