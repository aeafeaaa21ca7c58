"""The command's own process (``python -m jobs``, the installed ``batchscore``): it ends
without the interpreter's teardown, and still hands over everything main() printed and its
exit code."""

from __future__ import annotations

from jobs.errors import ConfigError
from tests.jobs.helpers import DAYS

DAY = DAYS[-1].isoformat()


def test_everything_printed_reaches_a_pipe(project, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # a pipe's stdout is then block-buffered
    names = [f"job_{i:03d}" for i in range(40)]
    for name in names:
        project.write_job(name)
    proc = project.spawn("list")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    listed = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert [n for n in listed if n.startswith("job_")] == names


def test_a_run_reports_its_outcome_and_a_failure_its_exit_code(project, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    project.write_job()
    proc = project.spawn("run", "churn", "--date", DAY)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"churn {DAY}: succeeded" in out and "succeeded" in err  # the result line, and the log's

    proc = project.spawn("run", "no_such_job", "--date", DAY)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == ConfigError.exit_code
    assert err.strip().splitlines()[-1].startswith("error: no job 'no_such_job'")
