"""``training.schedule``: the daemon trains on it, and the crontab has a line for it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jobs.config import load_job
from jobs.schedule.crontab import crontab_lines
from jobs.schedule.daemon import TRAIN_SUFFIX, Daemon
from pipelines.settings import Settings

TRAINING = {
    "factory": "pipelines.churn:build", "label_column": "churned", "window_days": 7, "holdout_days": 2,
    "schedule": "0 4 * * 0",
    "source": {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_labels", "date_column": "snapshot_date"},
}


def test_the_daemon_schedules_training_and_a_fire_registers_a_version_for_its_local_day(project):
    project.write_job(training=TRAINING, timezone="Europe/Paris")
    settings = Settings.resolve({"config_dir": str(project.configs)}, env={})
    # 2026-11-27 23:30 UTC is already the 28th in Paris: the window ends on the 27th
    daemon = Daemon(settings, clock=lambda: datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc))
    daemon.start()
    try:
        scheduled = daemon.scheduler.get_job("churn" + TRAIN_SUFFIX)
        assert scheduled is not None and "day_of_week='sun'" in str(scheduled.trigger)
        [fire] = daemon.tick(scheduled.next_run_time)  # its next fire, due: the training and nothing else
        fire.join()
    finally:
        daemon.shutdown()
    mv = project.registry.resolve("churn", "staging")
    assert (mv.version, mv.train_end) == (2, "2026-11-27")
    assert project.registry.aliases("churn")["production"] == 1


def test_a_job_without_training_schedule_has_no_training_fire(project):
    project.write_job(training={k: v for k, v in TRAINING.items() if k != "schedule"})
    settings = Settings.resolve({"config_dir": str(project.configs)}, env={})
    daemon = Daemon(settings)
    daemon.start(paused=True)
    try:
        assert daemon.scheduler.get_job("churn" + TRAIN_SUFFIX) is None
    finally:
        daemon.shutdown()


def test_crontab_has_a_train_line_per_training_schedule(project):
    project.write_job(training=TRAINING, timezone="Europe/Paris")
    job = load_job(project.configs / "churn.yaml")
    where = dict(
        batchscore="/bs", home=Path("/p"), config_dir=Path("/p/configs"), log_dir=Path("/p/logs"),
        system_tz="UTC", now=datetime(2026, 12, 4, tzinfo=timezone.utc),
    )
    command = '/bs --log-file "$BATCHSCORE_HOME"/logs/churn.train.log train churn --config-dir "$BATCHSCORE_HOME"/configs --date today'
    with_cron_tz = crontab_lines([job], **where, cron_tz=True)
    assert f"0 4 * * 0 {command}" in with_cron_tz and with_cron_tz[-1] == "CRON_TZ=UTC"
    # Debian's cron: 04:00 in Paris is 03:00 UTC in winter, 02:00 in summer, each line guarded.
    train = [line for line in crontab_lines([job], **where) if line.endswith(command)]
    assert sorted(line.split()[:5] for line in train) == [["0", "2", "*", "*", "0"], ["0", "3", "*", "*", "0"]]
    result = project.cli("crontab")
    assert result.code == 0 and " train churn " in result.out
