"""The model lifecycle on SQLite and PostgreSQL: train, evaluate, gate a promotion, and score
past days with the model of the day. Shadow scores are written here the way shadow scoring
writes them (``<table>_shadow``, same columns), and the per-shadow PSI the way it records it
in the ledger's stats (``stats["shadow"][version]["psi"]``)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from jobs import db
from jobs.ledger import runs
from pipelines.demo_data import make_customer_frame
from pipelines.history import HISTORY_FILE
from pipelines.registry import Registry
from tests.jobs.helpers import DAYS, N_CUSTOMERS, Lifecycle, assert_one_line_error


def _train(lc: Lifecycle, day: date) -> int:
    return lc.train(day)


def _score(lc: Lifecycle, *days: date, extra: tuple[str, ...] = ()) -> None:
    lc.score(*days, extra=extra)


def _write_shadow(lc: Lifecycle, version: int) -> None:
    """What shadow scoring leaves: the day's rows of ``version`` in churn_scores_shadow."""
    lc.execute("CREATE TABLE churn_scores_shadow AS SELECT * FROM churn_scores")
    lc.execute(f"UPDATE churn_scores_shadow SET model_version = {version}, score = score * 0.98")


def _record_shadow_psi(lc: Lifecycle, version: int, psi: float) -> None:
    engine = db.make_engine(lc.state)
    with engine.begin() as conn:
        for run_id, stats in conn.execute(sa.select(runs.c.run_id, runs.c.stats).where(runs.c.status == "succeeded")).all():
            stats = json.loads(stats) if isinstance(stats, str) else dict(stats)
            stats["shadow"] = {str(version): {"psi": psi}}
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(stats=stats))
    engine.dispose()


# --- 1. training ---------------------------------------------------------------------------

def test_train_fits_the_window_registers_metrics_and_window_and_moves_staging_only(lc):
    lc.write_job()
    day = DAYS[-1]  # window: the 7 days before, the last 2 held out
    result = lc.cli("train", "churn", "--date", day.isoformat())
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1] == "2"
    registry = lc.project.registry
    mv = registry.resolve("churn", 2)
    assert (mv.train_start, mv.train_end) == ("2026-11-20", "2026-11-26")
    assert set(mv.metrics) >= {"roc_auc", "log_loss", "brier"}
    assert mv.metrics["n_train"] == 5 * N_CUSTOMERS and mv.metrics["n_holdout"] == 2 * N_CUSTOMERS
    assert 0.6 < mv.metrics["roc_auc"] < 1 and mv.reference is not None  # the training frame is the reference
    assert registry.aliases("churn") == {"production": 1, "staging": 2}
    last = registry.alias_history("churn")[-1]
    assert (last.alias, last.from_version, last.to_version) == ("staging", None, 2)
    assert "batchscore train churn" in last.reason and "@" in last.by

    # the new version scores the job's source (same columns, same types)
    result = lc.cli("run", "churn", "--date", day.isoformat(), "--pipeline-version", "2")
    assert result.code == 0, result.err


def _labels_missing(lc):
    lc.execute("UPDATE churn_labels SET churned = NULL WHERE customer_id = 7")


@pytest.mark.parametrize(
    "case, code, needles",
    [
        ("empty window", 4, ["has no rows in the window 2026-10-01..2026-10-07", "upstream"]),
        ("no label column", 1, ["has no label column outcome", "training.label_column"]),
        ("missing labels", 1, ["label churned is missing in 7 of", "labels must be final"]),
        ("bad factory", 2, ["training.factory pipelines.churn:nothing", "no function nothing"]),
        ("no holdout rows", 4, ["no holdout rows: 2026-11-28..2026-11-29", "holdout_days"]),
    ],
)
def test_bad_training_data_is_one_typed_error_with_job_day_and_hint(lc, case, code, needles):
    day = DAYS[-1]
    training = {"factory": "pipelines.churn:build", "label_column": "churned", "window_days": 7, "holdout_days": 2,
                "source": {"kind": "sql", "url": lc.url, "table": "churn_labels", "date_column": "snapshot_date"}}
    if case == "empty window":
        day = date(2026, 10, 8)
    elif case == "no label column":
        training["label_column"] = "outcome"
    elif case == "missing labels":
        _labels_missing(lc)
    elif case == "bad factory":
        training["factory"] = "pipelines.churn:nothing"
    elif case == "no holdout rows":
        day = date(2026, 11, 30)
    lc.write_job(training=training)
    result = lc.cli("train", "churn", "--date", day.isoformat())
    assert result.code == code, result.err
    assert_one_line_error(result, f"churn {day}:", *needles)
    assert [mv.version for mv in lc.project.registry.versions("churn")] == [1]


def test_training_config_refuses_production_as_its_alias(lc):
    lc.write_job(training={"factory": "pipelines.churn:build", "label_column": "churned", "alias": "production",
                           "source": {"kind": "sql", "url": lc.url, "table": "churn_labels", "date_column": "snapshot_date"}})
    result = lc.cli("train", "churn")
    assert result.code == 2
    assert_one_line_error(result, "training never lands on production")


# --- 3. outcomes and realized metrics ------------------------------------------------------

def test_evaluate_joins_matured_labels_to_main_and_shadow_scores_and_replaces_the_day(lc):
    lc.write_job()
    _score(lc, *DAYS)
    version = _train(lc, DAYS[0])
    _write_shadow(lc, version)
    result = lc.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1].endswith("3 day(s) evaluated, 0 without")
    rows = lc.query(
        "SELECT score_date, model_name, model_version, role, n, metrics FROM batchscore_evaluations "
        "ORDER BY score_date, role", url=lc.state,
    )
    assert [(str(r[0])[:10], r[2], r[3], r[4]) for r in rows] == [
        (d.isoformat(), v, role, N_CUSTOMERS) for d in DAYS for v, role in ((1, "main"), (version, "shadow"))
    ]
    # the realized roc_auc is the one of the stored scores against the day's labels
    metrics = json.loads(rows[0][5]) if isinstance(rows[0][5], str) else rows[0][5]
    scores = lc.project.registry.load(lc.project.registry.resolve("churn", 1)).pipeline.predict_proba(
        make_customer_frame(DAYS[0], N_CUSTOMERS)
    )[:, 1]
    truth = make_customer_frame(DAYS[0], N_CUSTOMERS)["churned"]
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-9)
    assert set(metrics) == {"roc_auc", "log_loss", "brier", "positive_rate"}

    # evaluating again replaces the days (no duplicates), and a shadow gone is gone
    lc.execute("DROP TABLE churn_scores_shadow")
    assert lc.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat()).code == 0
    assert lc.query("SELECT role, count(*) FROM batchscore_evaluations GROUP BY role", url=lc.state) == [("main", 3)]

    status = lc.cli("status", "churn")
    assert "realized metrics" in status.out
    line = next(x for x in status.out.splitlines() if x.startswith(f"{DAYS[0]}  roc_auc"))
    assert f"v1 {metrics['roc_auc']:.4f} n={N_CUSTOMERS}" in line


def test_evaluate_waits_for_labels_to_mature(lc):
    lc.write_job(outcomes={"source": {"kind": "sql", "url": lc.url, "table": "churn_labels", "date_column": "snapshot_date"},
                           "label_column": "churned", "delay_days": 100000})
    _score(lc, DAYS[-1])
    result = lc.cli("evaluate", "churn", "--start", DAYS[-1].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.err
    assert f"{DAYS[-1]} not matured" in result.out
    assert lc.query("SELECT count(*) FROM batchscore_evaluations", url=lc.state) == [(0,)]


# --- 4. the promotion gate -----------------------------------------------------------------

def _gated_project(lc, **gate) -> int:
    lc.write_job(gate={"min_days": 3, "max_metric_drop": 0.05, "max_psi": 0.2, **gate})
    _score(lc, *DAYS)
    version = _train(lc, DAYS[0])
    _write_shadow(lc, version)
    assert lc.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat()).code == 0
    return version


def test_gate_refuses_without_psi_evidence_and_passes_with_it(lc):
    version = _gated_project(lc)
    moves = len(lc.project.registry.alias_history("churn"))
    refused = lc.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn")
    assert refused.code == 1
    assert_one_line_error(refused, f"churn v{version} did not pass the gate of job churn", "--force --reason")
    table = refused.out
    assert "days      3 evaluated shadow day(s)" in table and ">= 3 (gate.min_days)" in table
    assert "psi" in table and "not recorded on 3 day(s)" in table and "FAIL" in table
    assert lc.project.registry.aliases("churn")["production"] == 1
    assert len(lc.project.registry.alias_history("churn")) == moves

    _record_shadow_psi(lc, version, 0.01)
    passed = lc.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn")
    assert passed.code == 0, passed.out + passed.err
    assert "FAIL" not in passed.out and passed.out.strip().splitlines()[-1] == f"churn: production -> v{version}"
    move = lc.project.registry.alias_history("churn")[-1]
    assert (move.from_version, move.to_version, move.gate["passed"], move.gate["forced"]) == (1, version, True, False)
    history = lc.cli("pipeline", "history", "churn")
    assert f"production  v1    v{version}" in history.out and "pass (churn)" in history.out


@pytest.mark.parametrize("rule, gate, psi, needle", [
    ("days", {"min_days": 4}, 0.01, "3 evaluated shadow day(s)"),
    ("psi", {}, 0.5, "max psi 0.5000"),
    ("metric", {"max_metric_drop": 0.0}, 0.01, "drop +"),
])
def test_gate_fails_each_rule_on_its_figure(lc, rule, gate, psi, needle):
    version = _gated_project(lc, **gate)
    _record_shadow_psi(lc, version, psi)
    if rule == "metric":  # make the candidate clearly worse than main: scores reversed
        lc.execute("UPDATE churn_scores_shadow SET score = 1 - score")
        assert lc.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat()).code == 0
    result = lc.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn")
    assert result.code == 1
    failed = [line for line in result.out.splitlines() if line.startswith(rule) and line.endswith("FAIL")]
    assert len(failed) == 1 and needle in failed[0], result.out


def test_force_with_reason_overrides_the_gate_and_is_recorded(lc):
    version = _gated_project(lc)
    no_reason = lc.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn", "--force")
    assert no_reason.code == 2
    assert_one_line_error(no_reason, "--force needs --reason")
    forced = lc.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn",
                    "--force", "--reason", "hotfix INC-42")
    assert forced.code == 0, forced.err
    move = lc.project.registry.alias_history("churn")[-1]
    assert move.reason == "hotfix INC-42" and move.gate["passed"] is False and move.gate["forced"] is True
    assert "hotfix INC-42" in lc.cli("pipeline", "history", "churn").out


# --- 5. backfills with the model of the day ------------------------------------------------

def _moves_at(lc, *moves: tuple[int, datetime]) -> None:
    """A fresh alias history for production: each (version, when)."""
    root = lc.project.root / "data" / "models"
    (root / "churn" / HISTORY_FILE).unlink()
    for version, at in moves:
        Registry(root, clock=lambda at=at: at).promote("churn", version, "production", reason="test")


def test_as_of_day_backfill_scores_each_day_with_the_alias_target_of_that_day(lc):
    lc.write_job(pipeline={"name": "churn", "version": "production", "resolve": "as_of_day"})
    v2 = _train(lc, DAYS[0])  # trained up to the day before DAYS[0]
    _moves_at(lc, (1, datetime(2026, 11, 1, tzinfo=timezone.utc)), (v2, datetime(2026, 11, 26, 12, tzinfo=timezone.utc)))
    result = lc.cli("backfill", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.out + result.err
    used = lc.query("SELECT score_date, max(model_version) FROM churn_scores GROUP BY score_date ORDER BY score_date")
    assert [v for _, v in used] == [1, v2, v2]
    choices = [json.loads(s) if isinstance(s, str) else s
               for (s,) in lc.query("SELECT stats FROM batchscore_runs ORDER BY score_date", url=lc.state)]
    assert [c["model_choice"]["how"] for c in choices] == ["as_of_day"] * 3
    assert choices[1]["model_choice"]["alias_set_at"].startswith("2026-11-26T12:00")

    # run_start (the default) takes today's target for every day
    lc.write_job()
    _score(lc, DAYS[0], extra=("--force",))
    assert lc.query("SELECT DISTINCT model_version FROM churn_scores WHERE score_date = :d", d=DAYS[0]) == [(v2,)]


def test_as_of_day_before_the_alias_existed_is_a_clear_error(lc):
    lc.write_job(pipeline={"name": "churn", "version": "production", "resolve": "as_of_day"})
    _moves_at(lc, (1, datetime(2026, 11, 27, 8, tzinfo=timezone.utc)))
    result = lc.cli("run", "churn", "--date", DAYS[0].isoformat())
    assert result.code == 1
    assert_one_line_error(result, f"churn {DAYS[0]}:", "alias production of model churn pointed at no version", "--pipeline-version")


def test_a_version_trained_on_the_day_is_refused_unless_named_by_number(lc):
    lc.write_job()
    v2 = _train(lc, DAYS[-1])  # trained on data up to DAYS[-1] - 1 = DAYS[1]
    assert lc.cli("pipeline", "promote", "churn", str(v2), "production").code == 0
    refused = lc.cli("run", "churn", "--date", DAYS[1].isoformat())
    assert refused.code == 1
    assert_one_line_error(refused, f"churn {DAYS[1]}:", f"churn v{v2}", "trained on data up to 2026-11-26",
                          f"--pipeline-version {v2}")
    assert lc.cli("run", "churn", "--date", DAYS[1].isoformat(), "--pipeline-version", "staging").code == 1
    _score(lc, DAYS[1], extra=("--pipeline-version", str(v2)))
    _score(lc, DAYS[-1])  # the day after its window: allowed
    stats = [json.loads(s) if isinstance(s, str) else s for (s,) in lc.query(
        "SELECT stats FROM batchscore_runs WHERE status = 'succeeded' ORDER BY score_date", url=lc.state)]
    assert [s["model_choice"]["how"] for s in stats] == ["explicit", "run_start"]
    failed = lc.query("SELECT count(*) FROM batchscore_runs WHERE status = 'failed'", url=lc.state)
    assert failed == [(2,)]


def test_evaluate_reads_parquet_scores(project):
    labels = {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_labels", "date_column": "snapshot_date"}
    project.write_job(output={"kind": "parquet", "path": "data/scores"}, outcomes={"source": labels, "label_column": "churned"})
    assert project.cli("run", "churn", "--date", DAYS[-1].isoformat()).code == 0
    result = project.cli("evaluate", "churn", "--start", DAYS[-1].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.err
    assert f"{DAYS[-1]} main churn v1 n={N_CUSTOMERS}" in result.out
    assert project.sql("SELECT role, n FROM batchscore_evaluations", db=project.state_db) == [("main", N_CUSTOMERS)]
