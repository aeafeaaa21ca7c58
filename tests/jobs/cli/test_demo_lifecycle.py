"""``scripts/demo-lifecycle``: the model lifecycle walked on the demo, end to end, as a user runs it."""

from __future__ import annotations

import subprocess

import pytest

from tests.jobs.helpers import REPO


@pytest.mark.slow
def test_the_demo_walks_train_shadow_evaluate_gate_refused_then_passed_promote_report(tmp_path):
    work = tmp_path / "lifecycle"
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo-lifecycle"), str(work)],
        capture_output=True, text=True, timeout=900, env={"PATH": "/usr/bin:/bin", "BATCHSCORE_SKIP_APT": "1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    trained = out.split("$ batchscore train churn_daily")[1]
    assert "staging -> v" in trained
    version = trained.split("staging -> v")[1].split()[0]
    refused, passed = out.split("gate churn_daily for churn v")[1:3]
    assert refused.split("\n")[0].endswith(": FAIL") and "did not pass the gate" in refused and "(exit 1: refused" in refused
    assert passed.split("\n")[0].endswith(": pass") and "production -> v" in passed
    assert " shadow churn v" in out and "7 day(s) evaluated" in out
    history = out.split("$ batchscore pipeline history churn")[1]
    assert "a week of shadow days" in history and "pass (churn_daily)" in history
    status = out.split("$ batchscore status churn_daily")[1]
    realized = status.split("realized metrics (batchscore evaluate)")[1].split("\n\n")[0].splitlines()[2:]
    assert len(realized) == 7 and all(" roc_auc  v1 0." in line and f" v{version} 0." in line for line in realized)
    report = (work / "report.html").read_text()
    assert len(report) > 10_000 and 'id="plot-realized"' in report and "No shadow scores yet" not in report
    # The demo project itself is left as it was: its job file names no shadow.
    assert "shadow" not in (REPO / "configs" / "churn_daily.yaml").read_text()
