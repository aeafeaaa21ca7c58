"""Shadow scoring (``pipeline.shadow``) on SQLite, PostgreSQL and Parquet outputs: the shadow
versions' rows in ``<table>_shadow`` (bit-identical to their own predict_proba), written in the
day's transaction, compared with the main scores in the ledger's stats, a broken shadow a
warning and never a failed day, and the rows and PSI read back by ``evaluate`` and the gate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jobs.run_stats import RunStats
from jobs.shadow_compare import (
    PAIRED_SAMPLE,
    Comparison,
    average_ranks,
    spearman,
    top_overlap,
)
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from tests.jobs.helpers import (
    Wrapper,
    BAD_IDS,
    DAY,
    DAYS,
    N_CUSTOMERS,
    Project,
    alter,
    assert_one_line_error,
    bad_plan,
    expected_scores,
)

SHADOW_FEATURES = ["tenure_days", "support_calls"]  # the shadow's own features: fewer than the main model's
CHUNK = 200  # 500 customers: chunks of 200, 200 and 100


@dataclass
class Output:
    """Where a test's job writes: its ``output:`` section and how to read a day back."""

    project: Project
    kind: str  # sqlite | postgres | parquet
    url: str | None = None  # postgres: the test database

    @property
    def config(self) -> dict:
        if self.kind == "parquet":
            return {"kind": "parquet", "path": "data/scores"}
        url = "sqlite:///data/warehouse.db" if self.kind == "sqlite" else self.url.replace("postgresql+psycopg://", "postgresql://")
        return {"kind": "sql", "url": url, "table": "churn_scores"}

    @property
    def direct_url(self) -> str:
        return f"sqlite:///{self.project.warehouse}" if self.kind == "sqlite" else self.url

    def read(self, day: date = DAY, suffix: str = "") -> pd.DataFrame:
        """The day's rows of the scores (``suffix="_shadow"``: the shadow scores), by id."""
        if self.kind == "parquet":
            directory = self.project.root / "data" / f"scores{suffix}" / f"score_date={day}"
            if not directory.is_dir():
                return pd.DataFrame()
            frame = ds.dataset(directory, format="parquet").to_table().to_pandas()
        else:
            engine = sa.create_engine(self.direct_url)
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(f"churn_scores{suffix}"):
                    return pd.DataFrame()
                frame = pd.read_sql_query(
                    sa.text(f"SELECT * FROM churn_scores{suffix} WHERE score_date = :d"), conn, params={"d": day}
                )
            engine.dispose()
        return frame.sort_values(["model_version", "customer_id"]).reset_index(drop=True)

    def refuse_shadow_inserts(self) -> None:
        """Make the shadow table refuse new rows: the write fails after the main rows are in."""
        engine = sa.create_engine(self.direct_url)
        with engine.begin() as conn:
            if self.kind == "sqlite":
                conn.execute(sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON churn_scores_shadow BEGIN SELECT RAISE(ABORT, 'refused'); END"
                ))
            else:
                conn.execute(sa.text("ALTER TABLE churn_scores_shadow ADD CONSTRAINT refuse CHECK (score < 0) NOT VALID"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "parquet"])
def out(request, project) -> Output:
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    return Output(project, request.param, url)


class FailsOnShortChunks(Wrapper):
    """A shadow that scores full chunks and raises on a short one: the day's last chunk (100
    rows, predicted as 96 + a padded block of 8; ``pipelines.spec.raw_predict``)."""

    def predict_proba(self, X):
        if 8 < len(X) < CHUNK:  # not the padded tail blocks, not the registry's training frame
            raise ValueError("this shadow cannot score a short chunk")
        return self.inner.predict_proba(X)


def register_shadow(project: Project, alias: str | None = "staging"):
    """A second churn version on fewer features; returns (version, its fitted pipeline)."""
    training = pd.read_parquet(project.root / "data" / "training.parquet")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(training[SHADOW_FEATURES], training["churned"])
    return project.registry.register("churn", model, training_frame=training[SHADOW_FEATURES], alias=alias), model


def register_failing(project: Project, inner) -> int:
    training = pd.read_parquet(project.root / "data" / "training.parquet")
    return project.registry.register("churn", FailsOnShortChunks(inner).fit(None), training_frame=training[SHADOW_FEATURES])


def write_job(out: Output, shadow: list, **overrides) -> None:
    out.project.write_job(
        pipeline={"name": "churn", "version": "production", "shadow": shadow},
        output=out.config, chunk_size=CHUNK, **overrides,
    )


def run(project: Project, *args: str, day: date = DAY):
    return project.cli("run", "churn", "--date", day.isoformat(), *args)


def last_stats(project: Project) -> dict:
    return json.loads(project.ledger()["stats"].iloc[-1])


def shadow_expected(model, day: date = DAY) -> np.ndarray:
    frame = make_customer_frame(day, N_CUSTOMERS).sort_values("customer_id")
    return model.predict_proba(frame[SHADOW_FEATURES])[:, 1]


# --- the rows and the figures ---------------------------------------------------------------

def test_shadow_rows_are_the_shadow_versions_own_predict_proba_next_to_unchanged_main_scores(out):
    version, model = register_shadow(out.project)
    write_job(out, ["staging"])
    result = run(out.project)
    assert result.code == 0, result.err

    main, shadow = out.read(), out.read(suffix="_shadow")
    assert list(shadow.columns) == list(main.columns)  # same columns: model_version tells them apart
    assert set(main["model_version"]) == {1} and set(shadow["model_version"]) == {version}
    assert len(shadow) == N_CUSTOMERS and set(shadow["run_id"]) == set(main["run_id"])
    np.testing.assert_array_equal(shadow["customer_id"].to_numpy(), main["customer_id"].to_numpy())
    np.testing.assert_array_equal(shadow["score"].to_numpy(), shadow_expected(model))  # to the bit
    np.testing.assert_array_equal(main["score"].to_numpy(), expected_scores(out.project, DAY).to_numpy())
    assert shadow["plan"].tolist() == main["plan"].tolist()  # passthrough too

    figures = last_stats(out.project)["shadow"][str(version)]
    assert set(figures) >= {"psi", "spearman", "top_decile_overlap", "mean_abs_diff", "rows", "model"}
    assert (figures["rows"], figures["model"], figures["ref"]) == (N_CUSTOMERS, "churn", "staging")
    assert figures["mean_abs_diff"] == pytest.approx(np.abs(shadow["score"] - main["score"]).mean(), rel=1e-12)
    assert figures["spearman"] == pytest.approx(spearman(main["score"].to_numpy(), shadow["score"].to_numpy()))
    assert 0 < figures["psi"] and 0 <= figures["top_decile_overlap"] <= 1
    typed = RunStats.from_json(last_stats(out.project)).shadow[str(version)]
    assert typed.ok and typed.psi == figures["psi"] and typed.rows == N_CUSTOMERS
    assert RunStats.from_json(last_stats(out.project)).to_json()["shadow"] == last_stats(out.project)["shadow"]


def test_a_run_that_fails_after_scoring_changes_neither_the_scores_nor_the_shadow_scores(out):
    register_shadow(out.project)
    write_job(out, ["staging"], quality={"max_null_fraction": 0.05})
    assert run(out.project).code == 0
    before = out.read(), out.read(suffix="_shadow")
    # the last chunk's rows lose a feature: the check fails after every chunk is scored
    alter(out.project, "region = NULL", "customer_id >= 400")
    result = run(out.project, "--force")
    assert result.code == 1 and "null_fraction" in result.err
    after = out.read(), out.read(suffix="_shadow")
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_shadow_rows_commit_in_the_days_transaction(project, request, kind):
    """The shadow table refuses its rows after the main rows are written: both roll back."""
    out = Output(project, kind, request.getfixturevalue("pg_database") if kind == "postgres" else None)
    register_shadow(project)
    write_job(out, ["staging"])
    assert run(project).code == 0
    before = out.read(), out.read(suffix="_shadow")
    out.refuse_shadow_inserts()
    result = run(project, "--force")
    assert result.code == 1
    assert_one_line_error(result, "churn 2026-11-27")
    pd.testing.assert_frame_equal(before[0], out.read())
    pd.testing.assert_frame_equal(before[1], out.read(suffix="_shadow"))


# --- a broken shadow is a warning --------------------------------------------------------------

def test_a_tampered_shadow_is_a_warning_and_its_rows_of_the_day_are_removed(out):
    version, _ = register_shadow(out.project)
    write_job(out, ["staging"])
    assert run(out.project).code == 0
    assert len(out.read(suffix="_shadow")) == N_CUSTOMERS
    model_file = out.project.registry.resolve("churn", version).model_path
    model_file.write_bytes(model_file.read_bytes() + b"tampered")

    result = run(out.project, "--force")
    assert result.code == 0, result.err
    assert len(out.read()) == N_CUSTOMERS
    assert out.read(suffix="_shadow").empty  # the day's rows of that version: replaced by none
    stats = last_stats(out.project)
    assert "changed since it was registered" in stats["shadow"][str(version)]["error"]
    assert any(w.startswith(f"shadow model churn v{version}") and "changed" in w for w in stats["warnings"])
    assert "left out of the day" in result.err


@pytest.mark.parametrize("kind", ["sqlite", "parquet"])
def test_a_shadow_that_fails_on_a_chunk_is_left_out_and_the_others_are_written(project, kind):
    out = Output(project, kind)
    good, model = register_shadow(project)
    bad = register_failing(project, model)
    write_job(out, ["staging", bad, "nosuchalias"])
    result = run(project)
    assert result.code == 0, result.err
    shadow = out.read(suffix="_shadow")
    assert set(shadow["model_version"]) == {good} and len(shadow) == N_CUSTOMERS
    figures = last_stats(project)["shadow"]
    assert figures[str(bad)]["error"].endswith("failed on a chunk of 100 rows: ValueError: this shadow cannot score a short chunk")
    assert "nosuchalias" in figures["nosuchalias"]["error"] and figures[str(good)]["rows"] == N_CUSTOMERS
    assert len([w for w in last_stats(project)["warnings"] if w.startswith("shadow ")]) == 2


def test_in_reject_mode_the_shadows_score_the_rows_the_main_model_kept(project):
    training = pd.read_parquet(project.root / "data" / "training.parquet")
    strict = churn.build_pipeline().set_params(features__categorical__encode__handle_unknown="error")
    strict.fit(training[list(churn.FEATURES)], training[churn.LABEL])
    project.registry.register("churn", strict, training_frame=training[list(churn.FEATURES)], alias="production")
    version, model = register_shadow(project)  # its features leave plan out: it could score every row
    write_job(Output(project, "sqlite"), ["staging"], quality={"on_bad_rows": "reject", "max_reject_fraction": 0.01})
    bad_plan(project)
    result = run(project)
    assert result.code == 0, result.err
    main, shadow = Output(project, "sqlite").read(), Output(project, "sqlite").read(suffix="_shadow")
    assert len(main) == N_CUSTOMERS - len(BAD_IDS) and not set(BAD_IDS) & set(shadow["customer_id"])
    assert shadow["customer_id"].tolist() == main["customer_id"].tolist()
    ids = make_customer_frame(DAY, N_CUSTOMERS)["customer_id"].sort_values().to_numpy()
    np.testing.assert_array_equal(shadow["score"].to_numpy(), shadow_expected(model)[~np.isin(ids, BAD_IDS)])
    assert last_stats(project)["shadow"][str(version)]["rows"] == N_CUSTOMERS - len(BAD_IDS)


def test_worker_processes_score_the_shadows_too(project):
    out = Output(project, "sqlite")
    version, model = register_shadow(project)
    bad = register_failing(project, model)
    write_job(out, ["staging", bad], workers=2)
    result = run(project)
    assert result.code == 0, result.err
    shadow = out.read(suffix="_shadow")
    assert set(shadow["model_version"]) == {version}
    np.testing.assert_array_equal(shadow["score"].to_numpy(), shadow_expected(model))
    assert "error" in last_stats(project)["shadow"][str(bad)]


# --- evaluate and the gate read what shadow scoring wrote ---------------------------------------

def test_evaluate_finds_the_shadow_scores_and_the_gate_reads_their_psi(out):
    version, _ = register_shadow(out.project)
    labels = {"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "churn_labels", "date_column": "snapshot_date"}
    write_job(out, ["staging"], outcomes={"source": labels, "label_column": "churned", "delay_days": 0},
              gate={"min_days": 3, "max_metric_drop": 1.0, "max_psi": 0.9})
    psis = []
    for day in DAYS:
        assert run(out.project, day=day).code == 0
        psis.append(last_stats(out.project)["shadow"][str(version)]["psi"])

    result = out.project.cli("evaluate", "churn", "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat())
    assert result.code == 0, result.err
    rows = out.project.sql("SELECT score_date, model_version, role, n FROM batchscore_evaluations", out.project.state_db)
    assert sorted(rows) == sorted(
        (d.isoformat(), v, role, N_CUSTOMERS) for d in DAYS for v, role in ((1, "main"), (version, "shadow"))
    )

    refused_psi = min(psis) / 2
    write_job(out, ["staging"], outcomes={"source": labels, "label_column": "churned", "delay_days": 0},
              gate={"min_days": 3, "max_metric_drop": 1.0, "max_psi": refused_psi})
    refused = out.project.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn")
    assert refused.code == 1 and f"max psi {max(psis):.4f}" in refused.out, refused.out + refused.err
    write_job(out, ["staging"], outcomes={"source": labels, "label_column": "churned", "delay_days": 0},
              gate={"min_days": 3, "max_metric_drop": 1.0, "max_psi": max(psis) + 0.01})
    passed = out.project.cli("pipeline", "promote", "churn", str(version), "production", "--gate", "churn")
    assert passed.code == 0, passed.out + passed.err
    assert out.project.registry.aliases("churn")["production"] == version


# --- the figures ------------------------------------------------------------------------------

def test_top_decile_overlap_and_spearman_on_known_scores():
    main = np.arange(100, dtype=float)
    assert top_overlap(main, main) == 1.0 and spearman(main, main) == pytest.approx(1.0)
    assert top_overlap(main, -main) == 0.0 and spearman(main, -main) == pytest.approx(-1.0)
    shifted = np.where(main >= 95, main - 50, main)  # half of the top 10 fall out of it
    assert top_overlap(main, shifted) == 0.5
    assert spearman(main, np.full(100, 0.5)) is None


def test_the_paired_sample_is_exact_below_its_size_and_deterministic_above():
    # A comparison's own sample (PAIRED_SAMPLE pairs), filled to its size exactly, then past it.
    first, rest = PAIRED_SAMPLE * 3 // 5, PAIRED_SAMPLE * 2 // 5
    small = Comparison(edges=None)
    small.add(np.arange(float(first)), np.arange(float(first)) * 2, 0.0)
    small.add(np.arange(float(rest)), np.arange(float(rest)), 0.0)
    assert small.sample.pairs()[0].size == PAIRED_SAMPLE
    samples = []
    for _ in range(2):
        comparison = Comparison(edges=None)
        for start in range(0, 5_000_000, 700_000):
            values = np.arange(start, start + 700_000, dtype=float)
            comparison.add(values, values * 2, 0.0)
        samples.append(comparison.sample.pairs())
    main, shadow = samples[0]
    assert main.size == PAIRED_SAMPLE and np.array_equal(shadow, main * 2)  # pairs stay paired
    assert np.array_equal(samples[0][0], samples[1][0])
    assert np.all(np.diff(main) > 0)  # row order kept


def test_average_ranks_are_scipys_rankdata():
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    for values in (rng.integers(0, 50, 10_000).astype(float), rng.random(1000), np.ones(3), np.array([3.0, 1.0, 2.0, 1.0])):
        np.testing.assert_array_equal(average_ranks(values), rankdata(values))
