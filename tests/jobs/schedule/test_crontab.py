"""``batchscore crontab``: valid 5-field lines that, run by ``sh -c`` as cron would, run the job."""

from __future__ import annotations

import re
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


NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)


def lines_of(jobs, **kw):
    args = dict(batchscore='"$BATCHSCORE_HOME"/bin/batchscore', home=Path("/p"), config_dir=Path("/p/configs"),
                log_dir=Path("/p/logs"), system_tz="Etc/UTC", now=NOW)
    args.update(kw)
    return crontab_lines(jobs, **args)


def test_each_job_gets_its_lines_in_the_system_zone_converted_from_its_own(tmp_path):
    jobs = [
        job_of(tmp_path, "a_utc", schedule="0 2 * * *"),
        job_of(tmp_path, "b_tokyo", schedule="17 15 * * *", timezone="Asia/Tokyo", score_date="today"),
        job_of(tmp_path, "c_manual"),
        job_of(tmp_path, "d_paris", schedule="30 6 * * 1-5", timezone="Europe/Paris"),
    ]
    lines = lines_of(jobs)
    body = [line for line in lines if not line.startswith("#")]
    run = '"$BATCHSCORE_HOME"/bin/batchscore --log-file "$BATCHSCORE_HOME"/logs/{0}.log run {0} --config-dir "$BATCHSCORE_HOME"/configs --date {1}'
    assert body[:2] == [
        "0 2 * * * " + run.format("a_utc", "yesterday"),
        "17 6 * * * " + run.format("b_tokyo", "today"),  # 15:17 in Tokyo is 06:17 UTC, all year
    ]
    assert not any(line.startswith("CRON_TZ=") for line in lines)
    # Paris changes its offset: a guarded line per offset (jobs.schedule.cron_tz tests the year through).
    paris = body[2:]
    assert sorted(line.split(" case ")[0] for line in paris) == ["30 4 * * 1-5", "30 5 * * 1-5"]
    assert all("TZ=Europe/Paris date" in line and line.endswith(run.format("d_paris", "yesterday").replace("%", "\\%")) for line in paris)
    assert all("\\%z" in line for line in paris)  # cron turns a bare % into a newline
    assert "# c_manual: no schedule (manual-only job)" in lines
    for line in body:
        fields, command = split_line(line)
        trigger(" ".join(fields), timezone.utc)  # valid: raises otherwise


def test_with_cron_tz_a_job_in_another_zone_is_preceded_by_cron_tz_for_cronie(tmp_path):
    jobs = [job_of(tmp_path, "a", schedule="0 2 * * *"), job_of(tmp_path, "b", schedule="30 6 * * *", timezone="Europe/Paris")]
    body = [line for line in lines_of(jobs, cron_tz=True) if not line.startswith("#")]
    assert [line.split(" ")[0] for line in body] == ["0", "CRON_TZ=Europe/Paris", "30", "CRON_TZ=Etc/UTC"]


def test_paths_are_quoted_for_the_shell_and_percent_is_escaped_for_cron(tmp_path):
    job = job_of(tmp_path, "a", schedule="0 2 * * *")
    [_, line] = lines_of([job], config_dir=Path("/my configs/100%"), home=Path("/elsewhere"))
    assert "--config-dir '/my configs/100\\%'" in line
    [_, line] = lines_of([job], config_dir=Path("/p/my configs"))
    assert "--config-dir \"$BATCHSCORE_HOME\"/'my configs'" in line


def test_flags_given_to_crontab_are_carried_into_each_line(tmp_path):
    job = job_of(tmp_path, "a", schedule="0 2 * * *")
    [_, line] = lines_of([job], flags=["--state-url", "postgresql://h/state", "--models", '"$BATCHSCORE_HOME"/m'])
    assert '--config-dir "$BATCHSCORE_HOME"/configs --state-url postgresql://h/state --models "$BATCHSCORE_HOME"/m --date' in line


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
    assert batchscore_command("/nowhere/bin/python", None, Path("/nowhere")) == '"$BATCHSCORE_HOME"/bin/python -m jobs'


def cron_env(text: str) -> dict[str, str]:
    """The variables a crontab assigns (NAME=value lines), as cron hands them to its lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line))


def crontab_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobs", "crontab", *args], cwd=REPO, env=env or child_env(),
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.slow
def test_generated_lines_run_the_job_when_executed_by_sh_like_cron_with_the_env_file(tmp_path):
    day = local_today(datetime.now(timezone.utc), timezone.utc) - timedelta(days=1)
    settings = make_project(tmp_path, end=day, days=2, n_customers=100)
    # No default: the run works only if the env file reaches it under cron's bare environment.
    url = "${WAREHOUSE_URL}"
    write_job(tmp_path, schedule="0 2 * * *", source={"kind": "sql", "url": url, "table": "customer_features", "date_column": "snapshot_date"},
              output={"kind": "sql", "url": url, "table": "churn_scores"})
    (tmp_path / ".env").write_text(f"# the project's environment\nexport WAREHOUSE_URL='sqlite:///{tmp_path}/data/warehouse.db'\n")
    written = crontab_cli("--write", "--config-dir", str(settings.config_dir))
    assert written.returncode == 0, written.stderr
    assert "WARNING" not in written.stderr  # WAREHOUSE_URL is in the env file
    portable = (tmp_path / "scripts" / "crontab").read_text()
    assert str(tmp_path) not in portable and "BATCHSCORE_HOME=/path/to/batchscore" in portable
    text = (tmp_path / "data" / "crontab").read_text()
    assert f"BATCHSCORE_HOME={tmp_path}" in text and "crontab data/crontab" in text
    before = (tmp_path / "scripts" / "crontab").stat().st_mtime_ns
    assert crontab_cli("--write", "--config-dir", str(settings.config_dir)).returncode == 0
    assert (tmp_path / "scripts" / "crontab").stat().st_mtime_ns == before  # unchanged: not rewritten
    [line] = [x for x in text.splitlines() if x and not x.startswith("#") and "=" not in x.split()[0]]
    fields, command = split_line(line)
    assert fields == ["0", "2", "*", "*", "*"]
    # cron: sh -c, a bare environment plus the crontab's assignments, the home directory as cwd.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO), **cron_env(text)}
    ran = subprocess.run(["sh", "-c", command.replace("\\%", "%")], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert succeeded_days(settings, "churn") == [day]
    log = (settings.log_dir / "churn.log").read_text().splitlines()
    assert any(f"churn {day}: succeeded, 100 rows" in x for x in log)
    assert any(f"reads sqlite:///{tmp_path}/data/warehouse.db table customer_features, writes sqlite:///" in x for x in log)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO batchscore: exit 0 \(done", log[-1]), log[-1]


def test_a_broken_job_file_is_reported_and_the_other_jobs_lines_are_still_written(tmp_path):
    (tmp_path / "configs").mkdir()
    write_job(tmp_path, "good", schedule="0 2 * * *")
    (tmp_path / "configs" / "bad.yaml").write_text("name: bad\nschedule: [not, a, schedule\n")
    out = crontab_cli("--config-dir", str(tmp_path / "configs"))
    assert out.returncode == 2
    assert re.search(r"^0 2 \* \* \* .* run good ", out.stdout, re.M)
    assert "# bad: not scheduled, its job file is broken:" in out.stdout
    assert out.stderr.splitlines()[-1].startswith("error: 1 broken job file(s), not in the crontab: bad")


def test_crontab_warns_of_each_variable_cron_will_not_have_and_carries_the_flags(tmp_path):
    (tmp_path / "configs").mkdir()
    write_job(tmp_path, "a", schedule="0 2 * * *", source={"kind": "sql", "url": "${SRC_URL:-sqlite:///data/w.db}", "table": "t", "date_column": "d"},
              output={"kind": "sql", "url": "${OUT_URL}", "table": "s"})
    (tmp_path / ".env").write_text("OUT_URL=sqlite:///data/o.db\n")
    env = {**child_env(), "SRC_URL": "postgresql://warehouse/db", "BATCHSCORE_STATE_URL": "postgresql://h/state"}
    out = crontab_cli("--config-dir", str(tmp_path / "configs"), "--models", str(tmp_path / "models"), env=env)
    assert out.returncode == 0, out.stderr
    warnings = [x for x in out.stderr.splitlines() if "WARNING" in x]
    assert len(warnings) == 2, warnings
    assert "${SRC_URL} is not in" in warnings[0] and "(this shell has it): under cron the default sqlite:///data/w.db is used" in warnings[0]
    assert "BATCHSCORE_STATE_URL is set in this shell but not in" in warnings[1]
    assert '--models "$BATCHSCORE_HOME"/models --date yesterday' in out.stdout


def test_a_postgres_state_url_given_to_crontab_on_the_command_line_is_in_every_written_line(tmp_path):
    (tmp_path / "configs").mkdir()
    write_job(tmp_path, "a_utc", schedule="0 2 * * *")
    write_job(tmp_path, "b_paris", schedule="30 6 * * 1-5", timezone="Europe/Paris")  # a guarded line per UTC offset
    url = "postgres://user:pw@host/db"  # as psql takes it
    out = crontab_cli("--write", "--config-dir", str(tmp_path / "configs"), "--state-url", url)
    assert out.returncode == 0, out.stderr
    assert "the password of --state-url is written into every crontab line" in out.stderr
    for written in (tmp_path / "scripts" / "crontab", tmp_path / "data" / "crontab"):
        lines = [x for x in written.read_text().splitlines() if x and not x.startswith("#") and "=" not in x.split()[0]]
        assert len(lines) >= 2 and all(" run a_utc " in x or " run b_paris " in x for x in lines)
        for line in lines:
            assert f'--config-dir "$BATCHSCORE_HOME"/configs --state-url {url} --date yesterday' in line, line
