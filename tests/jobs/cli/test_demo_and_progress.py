"""The README's first command (the demo) and what a run shows while it works."""

from __future__ import annotations

import io
import json
import shutil

from jobs.cli.progress import reporter
from tests.jobs.helpers import DAYS, REPO


def test_demo_runs_end_to_end_and_a_second_demo_is_a_skip(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(REPO / "configs" / "churn_daily.yaml", configs)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    from tests.jobs.helpers import Project

    project = Project(tmp_path)
    first = project.cli("demo")
    assert first.code == 0, first.err
    assert "trained and registered churn v1 as production" in first.out
    assert "churn_daily 2026-11-27: scored 2000 rows with churn v1" in first.out
    assert "ledger: run" in first.out and "succeeded attempt 1" in first.out
    assert first.out.strip().splitlines()[-5].split() == ["plan", "customers", "mean_churn_risk", "at_risk"]
    second = project.cli("demo")
    assert second.code == 0, second.err
    assert "skipped, already succeeded" in second.out
    assert "trained" not in second.out
    assert project.sql("SELECT COUNT(*) FROM churn_scores")[0][0] == 2000


def test_a_different_sklearn_version_is_a_warning_in_the_ledger(project):
    mv = project.registry.resolve("churn", "production")
    meta_path = mv.directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["library_versions"]["sklearn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    project.write_job()
    result = project.cli("run", "churn", "--date", DAYS[-1].isoformat())
    assert result.code == 0
    stats = json.loads(project.ledger().iloc[0]["stats"])
    assert any("0.24.2" in w for w in stats["warnings"])
    assert "0.24.2" in result.err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_live_bar_on_a_terminal_with_rows_per_second():
    stream = _Tty()
    report = reporter("churn", DAYS[0], stream)
    report(100_000)
    report(200_000)
    text = stream.getvalue()
    assert text.count("\r") == 2 and "200,000 rows scored" in text and "rows/s" in text


def test_progress_is_plain_log_lines_off_a_terminal(caplog):
    stream = io.StringIO()
    caplog.set_level("INFO")
    report = reporter("churn", DAYS[0], stream)
    report(10)
    assert stream.getvalue() == ""
    assert "churn 2026-11-25: 10 rows scored" in caplog.text
