"""The command line at its edges: closed pipes, --help, validate's type check, pipeline show,
backfill's progress on a terminal, log lines never glued to a progress bar."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.cli.progress import BackfillProgress, ClearBar, end_line, reporter
from tests.jobs.helpers import DAYS, REPO

END = DAYS[-1].isoformat()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_reader_that_goes_away_ends_the_command_quietly(project):
    project.write_job()
    for day in DAYS:
        assert project.cli("run", "churn", "--date", day.isoformat()).code == 0
    for reader in ("head -1", "true"):  # reads a line and goes; goes before anything is written
        piped = subprocess.run(
            f"{sys.executable} -m jobs status churn --config-dir {project.configs} | {reader}; exit ${{PIPESTATUS[0]}}",
            shell=True, executable="/bin/bash", cwd=REPO, capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        )
        assert piped.returncode == 0, piped.stderr
        assert piped.stdout.startswith("score_date") if reader == "head -1" else piped.stdout == ""
        assert "error" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_help_prints_the_exit_codes_of_the_readme():
    out = subprocess.run([sys.executable, "-m", "jobs", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    readme = (REPO / "README.md").read_text().split("### Exit codes", 1)[1]
    rows = re.findall(r"^\| (\d) \| (.+) \|$", readme.split("\n\n", 2)[1], re.MULTILINE)  # the table after the heading
    assert [code for code, _ in rows] == list("01234")
    shown = out.stdout.split("exit codes:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert shown == [f"  {code}  {meaning.replace('`', '')}" for code, meaning in rows]


def test_validate_with_a_date_runs_the_type_check_run_would_fail_on(project, tmp_path):
    features = tmp_path / "features"
    frame = pd.read_sql(f"SELECT * FROM customer_features WHERE snapshot_date = '{END}'", f"sqlite:///{project.warehouse}")
    frame["monthly_charges"] = "a lot"  # text where the model was fitted on numbers
    (features / f"snapshot_date={END}").mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame.drop(columns=["snapshot_date"]), preserve_index=False),
                   features / f"snapshot_date={END}" / "part.parquet")
    project.write_job(source={"kind": "parquet", "path": str(features), "date_column": "snapshot_date"})
    checked = project.cli("validate", "churn", "--date", END)
    assert checked.code == 1
    assert "source has rows for" in checked.out
    assert "monthly_charges is" in checked.out and "expected float64" in checked.out
    run = project.cli("run", "churn", "--date", END)
    assert run.code == 1 and "monthly_charges is" in run.last_err_line
    assert "column types" not in checked.out
    project.write_job()
    ok = project.cli("validate", "churn", "--date", END)
    assert ok.code == 0 and "has the pipeline's column types" in ok.out


def test_pipeline_show_without_a_version_lists_every_version_and_alias(project):
    mv = project.registry.resolve("churn", "production")
    project.registry.register("churn", project.registry.load(mv).pipeline, alias="staging")
    project.registry.promote("churn", 1, "production")
    shown = project.cli("pipeline", "show", "churn")
    assert shown.code == 0, shown.err
    record = json.loads(shown.out)
    assert record["aliases"] == {"production": 1, "staging": 2}
    assert [v["version"] for v in record["versions"]] == [1, 2]
    one = json.loads(project.cli("pipeline", "show", "churn", "staging").out)
    assert one["version"] == 2 and one["aliases"] == ["staging"]
    unknown = project.cli("pipeline", "show", "churn", "99")
    assert unknown.code == 2 and "versions: 1, 2" in unknown.last_err_line


def test_backfill_progress_is_a_live_line_on_a_terminal_and_nothing_off_it():
    ticks = iter([0.0, 10.0, 20.0, 30.0])
    stream = _Tty()
    bar = BackfillProgress(4, stream, clock=lambda: next(ticks))
    bar.update(rows=1000)
    assert stream.getvalue().endswith("backfill: 1/4 days, 100 rows/s, 30s left")
    bar.update(rows=1000)
    assert stream.getvalue().endswith("backfill: 2/4 days, 100 rows/s, 20s left")
    bar.close()
    assert stream.getvalue().endswith("\n")
    plain = io.StringIO()
    quiet = BackfillProgress(4, plain)
    quiet.update(rows=5)
    quiet.close()
    assert plain.getvalue() == ""


def test_a_log_line_wipes_the_live_bar_first_and_the_bar_ends_its_line(caplog):
    stream = _Tty()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ClearBar())
    logger = logging.getLogger("test_cli_edges")
    logger.addHandler(handler)
    try:
        report = reporter("churn", DAYS[0], stream)
        report(100)
        logger.warning("a warning mid-run")
        end_line(stream)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    bar_end = text.index("rows/s")
    wipe = text.index("\r\x1b[K", bar_end)
    assert text.index("a warning mid-run") == wipe + len("\r\x1b[K")
    assert text.endswith("a warning mid-run\n")  # no empty line: the bar was already gone


def test_spark_submit_prints_the_plain_commands_it_runs_for_this_checkout():
    out = subprocess.run(
        [str(REPO / "scripts" / "spark-submit"), "--print-command", "--master", "local[2]", "churn_daily", "--date", "2026-11-27"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    zip_line, submit = out.stdout.strip().splitlines()
    assert zip_line == f"cd {REPO} && {REPO}/.venv/bin/python -m zipfile -c batchscore.zip jobs pipelines"
    assert " --py-files batchscore.zip --master 'local[2]' jobs/cli/spark_main.py churn_daily --date 2026-11-27" in submit
    assert "spark-submit --conf spark.log.level=WARN" in submit
    from jobs.engines.spark.session import jdbc_jars

    if jdbc_jars():
        assert f"--jars {','.join(jdbc_jars())} " in submit


@pytest.mark.slow
def test_the_printed_spark_submit_commands_score_a_day_as_they_are(tmp_path):
    from datetime import date

    from tests.jobs.schedule.helpers import child_env, make_project, succeeded_days, write_job

    day = date(2026, 11, 27)
    settings = make_project(tmp_path, end=day, days=1, n_customers=100)
    write_job(tmp_path)
    printed = subprocess.run(
        [str(REPO / "scripts" / "spark-submit"), "--print-command", "--master", "local[1]", "--conf", "spark.ui.enabled=false",
         "churn", "--date", day.isoformat(), "--config-dir", str(settings.config_dir)],
        capture_output=True, text=True, timeout=120,
    )
    assert printed.returncode == 0, printed.stderr
    try:
        done = subprocess.run(["bash", "-ec", printed.stdout], env=child_env(), capture_output=True, text=True, timeout=600)
    finally:
        (REPO / "batchscore.zip").unlink(missing_ok=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith(f"churn {day}: succeeded, 100 rows")
    assert succeeded_days(settings, "churn") == [day]


def test_every_argument_of_every_command_has_help_text():
    import argparse

    from jobs.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif not action.help:
                missing.append(" ".join([*path, action.dest]))

    walk(build_parser(), ["batchscore"])
    assert missing == []
