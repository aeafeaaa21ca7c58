"""The per-job log files of cron (``jobs.logfile``): rotation, UTC times, the exit line."""

from __future__ import annotations

import logging
import re

from jobs.logfile import LOG_FORMAT, UTCFormatter, rotate


def make_configs(tmp_path):
    """The project's (empty) config directory."""
    (tmp_path / "configs").mkdir()
    return tmp_path / "configs"


def test_a_log_file_is_rotated_past_its_size_keeping_n_old_files(tmp_path):
    log = tmp_path / "job.log"
    for i in range(6):
        log.write_text(f"run {i}\n" * 10)
        rotate(log, max_bytes=50, backups=3)
    assert not log.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log.1", "job.log.2", "job.log.3"]
    assert (tmp_path / "job.log.1").read_text().startswith("run 5") and (tmp_path / "job.log.3").read_text().startswith("run 3")
    log.write_text("small\n")
    rotate(log, max_bytes=50, backups=3)
    assert log.read_text() == "small\n"


def test_log_lines_carry_utc_time_with_its_zone():
    record = logging.LogRecord("batchscore", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    record.created, record.msecs = 1764813600.25, 250  # 2025-12-04T02:00:00.250Z
    assert UTCFormatter(LOG_FORMAT).format(record) == "2025-12-04T02:00:00.250Z INFO batchscore: hello x"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", UTCFormatter(LOG_FORMAT).format(
        logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)))


def test_log_file_flag_rotates_a_full_log_appends_the_output_and_ends_with_the_exit_code(tmp_path):
    import subprocess
    import sys

    from jobs.logfile import LOG_BYTES
    from tests.jobs.schedule.helpers import REPO, child_env

    make_configs(tmp_path)
    log = tmp_path / "logs" / "job.log"
    log.parent.mkdir()
    log.write_bytes(b"x" * LOG_BYTES)  # full: rotated before this command writes
    cmd = [sys.executable, "-m", "jobs", "--log-file", str(log), "run", "nope", "--config-dir", str(tmp_path / "configs")]
    done = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == done.stderr == ""  # all of it went to the file
    assert (tmp_path / "logs" / "job.log.1").stat().st_size == LOG_BYTES
    lines = log.read_text().splitlines()
    assert lines[-2].startswith("error: no job 'nope'")
    assert re.match(r"^\S+Z INFO batchscore: exit 2 \(usage or config error: .*\): batchscore --log-file \S+ run nope", lines[-1])
    unwritable = subprocess.run([*cmd[:3], "--log-file", "/proc/nowhere/job.log", "list"], cwd=REPO, env=child_env(),
                                capture_output=True, text=True, timeout=60)
    assert unwritable.returncode == 2 and unwritable.stderr.startswith("error: cannot write the log file /proc/nowhere/job.log")
