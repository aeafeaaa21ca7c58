"""``batchscore crontab``: valid 5-field lines that, run by ``sh -c`` as cron would, run the job."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jobs.config import load_job
from jobs.schedule.crontab import batchscore_command, crontab_lines, system_timezone
from jobs.schedule.days import local_today
from jobs.schedule.cron import trigger
from tests.jobs.helpers import REPO
from tests.jobs.schedule.helpers import child_env, make_project, succeeded_days, write_job


def job_of(tmp_path: Path, name: str, **overrides):
    (tmp_path / "configs").mkdir(exist_ok=True)
    return load_job(write_job(tmp_path, name, **overrides))


def split_line(line: str) -> tuple[list[str], str]:
    fields = line.split(maxsplit=5)
    return fields[:5], fields[5]


def test_each_job_gets_a_line_with_its_schedule_and_cron_tz_only_where_the_zone_differs(tmp_path):
    jobs = [
        job_of(tmp_path, "a_utc", schedule="0 2 * * *"),
        job_of(tmp_path, "b_paris", schedule="30 6 * * 1-5", timezone="Europe/Paris", score_date="today"),
        job_of(tmp_path, "c_manual"),
        job_of(tmp_path, "d_utc", schedule="15 4 * * *", timezone="UTC"),
    ]
    lines = crontab_lines(jobs, batchscore="/opt/bs/bin/batchscore", config_dir=Path("/p/configs"), log_dir=Path("/p/logs"), system_tz="Etc/UTC")
    body = [line for line in lines if not line.startswith("#")]
    assert body == [
        "0 2 * * * mkdir -p /p/logs && /opt/bs/bin/batchscore run a_utc --config-dir /p/configs --date yesterday >> /p/logs/a_utc.log 2>&1",
        "CRON_TZ=Europe/Paris",
        "30 6 * * 1-5 mkdir -p /p/logs && /opt/bs/bin/batchscore run b_paris --config-dir /p/configs --date today >> /p/logs/b_paris.log 2>&1",
        "CRON_TZ=UTC",
        "15 4 * * * mkdir -p /p/logs && /opt/bs/bin/batchscore run d_utc --config-dir /p/configs --date yesterday >> /p/logs/d_utc.log 2>&1",
    ]
    assert "# c_manual: no schedule (manual-only job)" in lines
    for line in body:
        if not line.startswith("CRON_TZ="):
            fields, command = split_line(line)
            trigger(" ".join(fields), timezone.utc)  # valid: raises otherwise
            assert command.startswith("mkdir -p ")


def test_paths_are_quoted_for_the_shell_and_percent_is_escaped_for_cron(tmp_path):
    job = job_of(tmp_path, "a", schedule="0 2 * * *")
    [_, line] = crontab_lines([job], batchscore="/x/bin/batchscore", config_dir=Path("/my configs/100%"), log_dir=Path("/l"), system_tz="UTC")
    assert "--config-dir '/my configs/100\\%'" in line


def test_system_timezone_reads_etc_timezone_then_the_localtime_link(tmp_path):
    (tmp_path / "timezone").write_text("Europe/Berlin\n")
    assert system_timezone(tmp_path) == "Europe/Berlin"
    (tmp_path / "timezone").unlink()
    (tmp_path / "localtime").symlink_to("/usr/share/zoneinfo/America/Chicago")
    assert system_timezone(tmp_path) == "America/Chicago"
    (tmp_path / "localtime").unlink()
    assert system_timezone(tmp_path) == "UTC"


def test_the_command_is_the_console_script_beside_the_interpreter():
    command = batchscore_command(sys.executable, None)
    assert command == str(Path(sys.executable).parent / "batchscore")
    assert batchscore_command("/nowhere/bin/python", None) == "/nowhere/bin/python -m jobs"


@pytest.mark.slow
def test_generated_lines_run_the_job_when_executed_by_sh_like_cron(tmp_path):
    day = local_today(datetime.now(timezone.utc), timezone.utc) - timedelta(days=1)
    settings = make_project(tmp_path, end=day, days=2, n_customers=100)
    write_job(tmp_path, schedule="0 2 * * *")
    written = subprocess.run(
        [sys.executable, "-m", "jobs", "crontab", "--write", "--config-dir", str(settings.config_dir)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=60,
    )
    assert written.returncode == 0, written.stderr
    text = (tmp_path / "scripts" / "crontab").read_text()
    assert "crontab scripts/crontab" in text.splitlines()[2]
    [line] = [x for x in text.splitlines() if x and not x.startswith("#") and not x.startswith("CRON_TZ=")]
    fields, command = split_line(line)
    assert fields == ["0", "2", "*", "*", "*"]
    # cron: sh -c, a bare environment, the home directory as working directory.
    ran = subprocess.run(
        ["sh", "-c", command.replace("\\%", "%")], cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert succeeded_days(settings, "churn") == [day]
    log = (settings.log_dir / "churn.log").read_text()
    assert f"churn {day}: succeeded, 100 rows" in log
