"""Realized metrics and shadow figures in ``status`` and ``report``, on SQLite and PostgreSQL:
real runs with a shadow version (``pipeline.shadow: [staging]``), then ``batchscore evaluate``.
The figures expected are measured here from the stored score tables and the labels."""

from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.jobs.helpers import DAYS, N_CUSTOMERS, Lifecycle


def _shadow_days(lc: Lifecycle) -> int:
    """Every day scored by production (v1) with a freshly trained staging version as shadow,
    then evaluated; the shadow's version."""
    lc.write_job(pipeline={"name": "churn", "version": "production", "shadow": ["staging"]})
    version = lc.train(DAYS[0])
    lc.score(*DAYS)
    result = lc.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.err
    return version


def _frame(lc: Lifecycle, table: str) -> pd.DataFrame:
    rows = lc.query(f"SELECT s.score_date, s.model_version, s.customer_id, s.score, l.churned FROM {table} s "
                    "JOIN churn_labels l ON l.customer_id = s.customer_id AND l.snapshot_date = s.score_date")
    frame = pd.DataFrame(rows, columns=["day", "version", "customer_id", "score", "churned"])
    frame["day"] = frame["day"].astype(str).str[:10]
    return frame


def _expected_auc(lc: Lifecycle) -> dict[tuple[str, int, str], float]:
    """(day, version, role) -> roc_auc of the stored scores against the labels."""
    out = {}
    for table, role in (("churn_scores", "main"), ("churn_scores_shadow", "shadow")):
        for (day, version), group in _frame(lc, table).groupby(["day", "version"]):
            out[(day, int(version), role)] = roc_auc_score(group["churned"], group["score"])
    return out


def _section(text: str, name: str) -> str:
    return re.search(f'<section id="{name}">(.*?)</section>', text, re.DOTALL).group(1)


def _cells(section: str) -> list[list[str]]:
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.DOTALL) if "<td>" in row]


def test_report_plots_and_tables_the_realized_metric_per_day_version_and_role_and_the_shadow_figures(lc, tmp_path):
    version = _shadow_days(lc)
    expected = _expected_auc(lc)
    assert len(expected) == 2 * len(DAYS)
    out = tmp_path / "report.html"
    result = lc.cli("report", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(), "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text()

    realized = _section(text, "realized")
    src = re.search(r'<img id="plot-realized"[^>]* src="data:image/png;base64,([^"]+)"', realized).group(1)
    assert base64.b64decode(src)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "roc_auc" in realized and "higher is better" in realized
    table = {(c[0], int(c[1].split(" v")[1]), c[2]): c for c in _cells(realized)}
    assert set(table) == set(expected)
    for key, auc in expected.items():
        cells = table[key]
        assert (cells[3], cells[4]) == (str(N_CUSTOMERS), f"{auc:.4f}"), key
        main = expected[(key[0], 1, "main")]
        assert cells[5] == ("–" if key[2] == "main" else f"{auc - main:+.4f}")

    shadow = _cells(_section(text, "shadow"))
    assert [(c[0], c[1]) for c in shadow] == [(d.isoformat(), f"churn v{version}") for d in DAYS]
    main, other = _frame(lc, "churn_scores"), _frame(lc, "churn_scores_shadow")
    paired = main.merge(other, on=["day", "customer_id"], suffixes=("", "_shadow"))
    for cells in shadow:
        day = paired[paired["day"] == cells[0]]
        assert cells[2] == f"{len(day):,}"
        assert cells[6] == f"{(day['score'] - day['score_shadow']).abs().mean():.4f}"
        assert cells[3] != "–" and -1 <= float(cells[4]) <= 1 and 0 <= float(cells[5]) <= 1

    data = json.loads(lc.cli("report", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(),
                             "--format", "json").out)
    assert data["realized"]["metric"] == "roc_auc"
    assert {(r["day"], r["model_version"], r["role"]): r["value"] for r in data["realized"]["rows"]} == pytest.approx(expected)
    assert [s["version"] for s in data["shadow"]] == [str(version)] * len(DAYS)


def test_status_shows_per_day_the_main_and_each_shadow_versions_realized_metric(lc):
    version = _shadow_days(lc)
    expected = _expected_auc(lc)
    status = lc.cli("status", "churn")
    assert status.code == 0, status.err
    lines = status.out.split("realized metrics (batchscore evaluate)")[1].splitlines()
    assert lines[1].split() == ["score_date", "metric", "main", "shadow"]
    assert [line.split()[0] for line in lines[2:]] == [d.isoformat() for d in reversed(DAYS)]
    for line in lines[2:]:
        day = line.split()[0]
        assert line.split()[1:] == [
            "roc_auc", "v1", f"{expected[(day, 1, 'main')]:.4f}", f"n={N_CUSTOMERS}",
            f"v{version}", f"{expected[(day, version, 'shadow')]:.4f}", f"n={N_CUSTOMERS}",
        ]

    rows = json.loads(lc.cli("status", "churn", "--format", "json").out)
    assert len(rows) == len(DAYS)
    for row in rows:
        got = {(r["model_version"], r["role"]): (r["metric"], r["value"], r["n"]) for r in row["realized"]}
        assert got == {
            (1, "main"): ("roc_auc", pytest.approx(expected[(row["score_date"], 1, "main")]), N_CUSTOMERS),
            (version, "shadow"): ("roc_auc", pytest.approx(expected[(row["score_date"], version, "shadow")]), N_CUSTOMERS),
        }


def test_a_job_not_evaluated_yet_says_so_in_status_and_report(lc, tmp_path):
    lc.write_job()
    lc.score(DAYS[-1])
    status = lc.cli("status", "churn")
    assert status.code == 0, status.err
    assert "realized metrics: none yet" in status.out
    assert json.loads(lc.cli("status", "churn", "--format", "json").out)[0]["realized"] == []
    out = tmp_path / "report.html"
    assert lc.cli("report", "churn", "--out", str(out)).code == 0
    text = out.read_text()
    assert "No realized metrics yet" in _section(text, "realized") and 'id="plot-realized"' not in text
    assert "No shadow scores yet" in _section(text, "shadow")
