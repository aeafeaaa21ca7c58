"""One environment everywhere: the project's env file, ``settings.yaml``'s ``${VAR}``, the
per-job log files of cron (rotation, UTC times, the exit line)."""

from __future__ import annotations

import logging
import re

import pytest

from pipelines.envfile import load_env_file, read_env_file
from jobs.errors import ConfigError
from jobs.logfile import LOG_FORMAT, UTCFormatter, rotate
from pipelines.settings import Settings


def project(tmp_path):
    (tmp_path / "configs").mkdir()
    return tmp_path / "configs"


def test_the_env_file_of_the_project_root_is_loaded_and_the_environment_wins(tmp_path):
    configs = project(tmp_path)
    (tmp_path / ".env").write_text(
        "# comment\nexport BATCHSCORE_STATE_URL=postgresql://db/state\nBATCHSCORE_MODELS='my models'\nWAREHOUSE_URL=\"sqlite:///w.db\"\n"
    )
    env = {"BATCHSCORE_MODELS": "/from/shell"}
    s = Settings.resolve({"config_dir": str(configs)}, env)
    assert s.state_url == "postgresql://db/state"
    assert s.models_root.as_posix() == "/from/shell"  # already in the environment: kept
    assert env["WAREHOUSE_URL"] == "sqlite:///w.db"  # there for the job files' ${WAREHOUSE_URL}


def test_batchscore_env_file_names_another_file_relative_to_the_project_root(tmp_path):
    project(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "prod.env").write_text("A=1\nB=${A}2\n")
    env = {"BATCHSCORE_ENV_FILE": "secrets/prod.env"}
    assert load_env_file(tmp_path, env) == {"A": "1", "B": "12"}
    assert env["B"] == "12"
    assert read_env_file(tmp_path / "missing.env") == {}


def test_settings_yaml_expands_variables_with_defaults_and_names_file_and_key_when_one_is_unset(tmp_path):
    configs = project(tmp_path)
    (configs / "settings.yaml").write_text("state_url: ${STATE_URL:-sqlite:///data/s.db}\nmodels: ${MODELS_DIR}\n")
    s = Settings.resolve({"config_dir": str(configs)}, {"MODELS_DIR": "/m"})
    assert s.state_url == f"sqlite:///{tmp_path}/data/s.db" and s.models_root.as_posix() == "/m"
    (tmp_path / ".env").write_text("STATE_URL=postgresql://h/s\n")
    with pytest.raises(ConfigError) as err:
        Settings.resolve({"config_dir": str(configs)}, {})
    assert f"{configs / 'settings.yaml'}: models: environment variable MODELS_DIR is not set" in str(err.value)
    assert Settings.resolve({"config_dir": str(configs)}, {"MODELS_DIR": "m"}).state_url == "postgresql://h/s"


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

    project(tmp_path)
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
