"""batchscore report: a 30-day backfill of the demo job, with a drifted day, a day stopped by a
check, a model change and rejected rows, renders as one self-contained HTML page (and JSON)."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from datetime import date, timedelta
from html.parser import HTMLParser

import pandas as pd
import pytest
import yaml

from pipelines import churn
from pipelines.demo_data import build_warehouse
from pipelines.registry import Registry
from tests.jobs.helpers import ENV_KEYS, REPO, Project

END = date(2026, 11, 27)
START = END - timedelta(days=29)
DRIFTED = date(2026, 11, 7)  # support calls up by 4 for everyone: scores shift
BROKEN = date(2026, 11, 17)  # 40% of regions missing: stopped by a check
REJECTS = date(2026, 11, 20)  # 3 rows with a plan the v2 model refuses
SWITCH = date(2026, 11, 13)  # the first day scored with v2
N = 1000  # customers a day: enough that a normal day's PSI noise stays well under 0.2
pytestmark = pytest.mark.slow  # a 30-day backfill: about 25 s
SECTIONS = ["summary", "checks", "rows", "rejects", "scores", "psi", "model", "realized", "shadow", "feature-drift", "days"]


def _alter(warehouse, day: date, assignment: str, where: str = "1 = 1") -> None:
    with contextlib.closing(sqlite3.connect(warehouse)) as conn, conn:
        conn.execute(f"UPDATE customer_features SET {assignment} WHERE snapshot_date = ? AND ({where})", [day.isoformat()])


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("month")
    info = build_warehouse(root, end=END, days=30, n_customers=N)
    registry = Registry(root / "data" / "models")
    churn.train_and_register(registry, info.training_path)
    (root / "configs").mkdir()
    project = Project(root)
    job = yaml.safe_load((REPO / "configs" / "churn_daily.yaml").read_text())
    job["quality"].update(min_rows=N // 2, on_bad_rows="reject", max_reject_fraction=0.02)
    job["source"]["url"] = job["output"]["url"] = "sqlite:///data/warehouse.db"
    (project.configs / "churn_daily.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    _alter(project.warehouse, DRIFTED, "support_calls = support_calls + 4")
    _alter(project.warehouse, BROKEN, "region = NULL", "customer_id % 5 < 2")
    _alter(project.warehouse, REJECTS, "plan = 'platinum'", "customer_id IN (11, 12, 13)")
    with pytest.MonkeyPatch.context() as mp:
        for key in ENV_KEYS:
            mp.delenv(key, raising=False)
        mp.chdir(root)
        first = project.cli("backfill", "churn_daily", "--start", START.isoformat(), "--end", (SWITCH - timedelta(1)).isoformat())
        assert first.code == 0, first.err
        # v2: the same pipeline, but its encoder refuses categories it never saw.
        frame = pd.read_parquet(info.training_path)
        strict = churn.build_pipeline().set_params(features__categorical__encode__handle_unknown="error")
        strict.fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
        registry.register("churn", strict, training_frame=frame[list(churn.FEATURES)], alias="production")
        second = project.cli("backfill", "churn_daily", "--start", SWITCH.isoformat(), "--end", END.isoformat())
        assert second.code == 1  # BROKEN failed
        yield project


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: dict[str, str] = {}
        self.links: list[str] = []
        self.rows: list[tuple[str, list[str]]] = []
        self._row: list[str] | None = None
        self._row_class = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.images[attrs["id"]] = attrs["src"]
        elif tag in ("link", "script", "a"):
            self.links.append(attrs.get("href") or attrs.get("src") or "")
        elif tag == "tr":
            self._row, self._row_class = [], attrs.get("class") or ""
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append((self._row_class, self._row))
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page(month, tmp_path_factory) -> tuple[_Page, str]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = month.cli("report", "churn_daily", "--start", START.isoformat(), "--end", END.isoformat(), "--out", str(out))
    assert result.code == 0, result.err
    text = out.read_text()
    parser = _Page()
    parser.feed(text)
    return parser, text


def test_report_has_every_section_and_every_plot_inline(page):
    parser, text = page
    assert parser.sections == SECTIONS
    assert set(parser.images) == {f"plot-{name}" for name in ("rows", "rejects", "scores", "psi", "model")}
    for src in parser.images.values():
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert parser.links == [] and "http" not in text.replace("http-equiv", "")  # nothing to fetch


def test_report_of_a_job_without_evaluations_or_shadows_says_none_yet(page):
    _, text = page
    assert "No realized metrics yet" in text and "No shadow scores yet" in text


def test_report_day_table_shows_the_drifted_and_the_stopped_day(page):
    parser, _ = page
    days = {cells[0]: (css, cells) for css, cells in parser.rows if cells and cells[0].startswith("2026-")}
    assert len(days) == 30
    css, cells = days[BROKEN.isoformat()]
    assert css == "bad" and cells[1] == "failed" and "null_fraction" in cells[-1] and "region" in cells[-1]
    css, cells = days[DRIFTED.isoformat()]
    assert css == "warn" and cells[1] == "succeeded" and "score_psi_reference" in cells[-1]
    assert float(cells[8]) > 0.2  # PSI vs training
    css, cells = days[REJECTS.isoformat()]
    assert cells[5] == "3" and cells[10] == "2"
    assert days[START.isoformat()][1][10] == "1"


def test_report_names_the_model_change_and_the_checks_in_plain_words(page):
    _, text = page
    assert f"{SWITCH.isoformat()}: version 1 → 2" in text
    assert "Categories the model never saw in training" in text and "at most 1.0% of rows per column" in text
    assert f"at least {N // 2}" in text


def test_report_feature_table_is_the_latest_run(page, month):
    parser, text = page
    latest = month.ledger().iloc[-1]
    assert latest["score_date"] == END.isoformat()
    assert latest["run_id"] in text
    features = [cells[0] for _, cells in parser.rows if cells and cells[0] in churn.FEATURES]
    assert features == list(churn.FEATURES)


def test_report_json_has_the_same_days(month):
    result = month.cli("report", "churn_daily", "--start", START.isoformat(), "--end", END.isoformat(), "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [d["day"] for d in data["days"]] == [(START + timedelta(i)).isoformat() for i in range(30)]
    by_day = {d["day"]: d for d in data["days"]}
    assert by_day[BROKEN.isoformat()]["verdict"] == "fail"
    assert by_day[DRIFTED.isoformat()]["verdict"] == "warn" and by_day[DRIFTED.isoformat()]["psi_reference"] > 0.2
    # The day after the drifted one moved back: a large PSI against its previous day only.
    after = by_day[(DRIFTED + timedelta(1)).isoformat()]
    assert after["verdict"] == "warn" and [f["check"] for f in after["findings"]] == ["score_psi_previous"]
    assert sum(d["verdict"] == "pass" for d in data["days"]) == 27
    assert data["model_changes"] == [{"day": SWITCH.isoformat(), "from": 1, "to": 2}]
    assert data["latest"]["day"] == END.isoformat()


def test_report_defaults_to_the_last_30_days_in_the_ledger(month):
    result = month.cli("report", "churn_daily", "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["start"], data["end"]) == (START.isoformat(), END.isoformat())


def test_report_of_a_backwards_range_is_a_usage_error(month):
    result = month.cli("report", "churn_daily", "--start", END.isoformat(), "--end", START.isoformat())
    assert result.code == 2 and "after" in result.last_err_line
