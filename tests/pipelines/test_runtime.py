"""The treelite runtime, end to end with a real compile: a HistGradientBoosting churn pipeline
registered with ``--runtime treelite`` scores a day as scikit-learn does (within 1e-12) and the
ledger says which runtime scored it; what cannot be compiled or matched is refused with one
line; a library that is corrupt or cannot load falls back to scikit-learn with a warning."""

from __future__ import annotations

import hashlib
import json
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from jobs.engines.cores import usable_cores
from pipelines import churn
from pipelines.demo_data import make_customer_frame
from pipelines.errors import RuntimeRefused
from pipelines.runtime import LIBRARY_FILE, MAX_DIFF, runtime_of
from tests.jobs.helpers import DAY, N_CUSTOMERS, assert_one_line_error

pytest.importorskip("tl2cgen")

MAX_ITER = 30  # trees enough for real categorical and missing-value splits; a compile of seconds


class CalibratedHGB(HistGradientBoostingClassifier):
    """A tree model whose probabilities are not its trees' alone (a calibration on top): the
    compiled trees cannot reproduce them, so the runtime must be refused."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        shifted = np.clip(proba[:, 1] * 0.999 + 0.0005, 0.0, 1.0)
        return np.column_stack([1.0 - shifted, shifted])


@pytest.fixture(scope="module")
def hgb_file(project_template, tmp_path_factory):
    """The demo's HGB pipeline fitted on the demo's training frame, saved with joblib."""
    frame = pd.read_parquet(project_template / "data" / "training.parquet")
    pipeline = churn.build_hgb_pipeline(MAX_ITER).fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    path = tmp_path_factory.mktemp("hgb") / "hgb.joblib"
    joblib.dump(pipeline, path)
    return path


def register(project, model_file, *extra: str):
    training = str(project.root / "data" / "training.parquet")
    return project.cli("pipeline", "register", "churn", str(model_file), "--training-data", training, *extra)


def run_stats(project) -> list[dict]:
    return [json.loads(s) for s in project.ledger()["stats"]]


@pytest.mark.slow
def test_an_hgb_pipeline_compiled_with_treelite_scores_the_day_as_scikit_learn_and_the_ledger_says_so(project, hgb_file):
    accepted = register(project, hgb_file, "--runtime", "treelite", "--alias", "production")
    assert accepted.code == 0, accepted.err
    compiled = int(accepted.out.split()[-1])
    plain = int(register(project, hgb_file).out.split()[-1])  # the same pipeline, scikit-learn
    shown = json.loads(project.cli("pipeline", "show", "churn", str(compiled)).out)
    assert shown["runtime"] == "treelite"
    assert shown["runtime_library"]["max_abs_diff"] <= MAX_DIFF
    assert shown["runtime_library"]["rows_checked"] > 0
    assert json.loads(project.cli("pipeline", "show", "churn", str(plain)).out)["runtime"] == "sklearn"

    project.write_job()
    assert "runtime treelite" in project.cli("validate", "churn").out
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    fast = project.scores(DAY)
    assert project.cli("run", "churn", "--date", DAY.isoformat(), "--force", "--pipeline-version", str(plain)).code == 0
    slow = project.scores(DAY)

    assert [s["runtime"] for s in run_stats(project)] == ["treelite", "sklearn"]
    # The compiled trees are not cut into row slices (jobs.engines.row_threads); scikit-learn's are, given cores.
    assert [s["pandas"]["row_threads"] for s in run_stats(project)] == [1, usable_cores() if usable_cores() > 1 else 1]
    assert len(fast) == N_CUSTOMERS and (fast["customer_id"] == slow["customer_id"]).all()
    assert (fast["model_version"] == compiled).all() and (slow["model_version"] == plain).all()
    difference = np.abs(fast["score"].to_numpy() - slow["score"].to_numpy()).max()
    assert difference <= MAX_DIFF
    assert fast["score"].std() > 0.01  # the scores vary: the trees split, this is no constant
    loaded = project.registry.load(project.registry.resolve("churn", compiled))
    day = make_customer_frame(DAY, N_CUSTOMERS)[list(churn.FEATURES)]
    shipped = pickle.loads(pickle.dumps(loaded.pipeline))  # as the pandas engine's workers get it
    assert loaded.runtime == "treelite" and runtime_of(shipped) == "treelite"
    assert np.array_equal(shipped.predict_proba(day), loaded.pipeline.predict_proba(day))


def test_a_logistic_regression_cannot_be_compiled_and_is_refused_with_one_line(project):
    lr = project.registry.resolve("churn", "production")  # the demo's logistic regression
    before = [mv.version for mv in project.registry.versions("churn")]
    refused = register(project, lr.model_path, "--runtime", "treelite")
    assert refused.code == 2
    assert_one_line_error(refused, "churn v2", "treelite cannot compile its LogisticRegression", "without --runtime treelite")
    assert [mv.version for mv in project.registry.versions("churn")] == before
    assert not any(p.name.startswith(".tmp") for p in (project.root / "data" / "models" / "churn").iterdir())


@pytest.mark.slow
def test_a_tree_model_whose_scores_the_compiled_trees_do_not_match_is_refused_with_the_figure(project):
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    pipeline = churn.build_hgb_pipeline(MAX_ITER)
    pipeline.steps[-1] = ("model", CalibratedHGB(max_iter=MAX_ITER, categorical_features=list(range(5, 8)), random_state=0))
    pipeline.fit(frame[list(churn.FEATURES)], frame[churn.LABEL])
    with pytest.raises(RuntimeRefused) as refused:
        project.registry.register("churn", pipeline, training_frame=frame[list(churn.FEATURES)], runtime="treelite")
    line = str(refused.value)
    assert "model churn v2: the treelite runtime differs from scikit-learn by up to" in line
    figure = float(line.split("by up to ")[1].split()[0])
    assert MAX_DIFF < figure < 0.01  # the calibration's shift, as measured
    assert "limit 1e-12" in line and "without --runtime treelite" in line
    assert [mv.version for mv in project.registry.versions("churn")] == [1]


@pytest.mark.slow
def test_a_corrupt_or_unloadable_library_falls_back_to_scikit_learn_with_a_warning(project, hgb_file):
    version = int(register(project, hgb_file, "--runtime", "treelite", "--alias", "production").out.split()[-1])
    mv = project.registry.resolve("churn", version)
    assert project.registry.load(mv).runtime == "treelite"  # intact, it loads
    reference = joblib.load(hgb_file)  # scikit-learn's own pipeline
    project.write_job()

    library = mv.directory / LIBRARY_FILE
    intact = library.read_bytes()
    library.write_bytes(intact[:4096])  # truncated: its sha256 no longer matches, it is never loaded
    assert project.cli("run", "churn", "--date", DAY.isoformat()).code == 0
    # A library for another machine, recorded as the version's: the sha256 matches, dlopen
    # refuses it (ELF e_machine 183, aarch64).
    foreign = intact[:18] + (183).to_bytes(2, "little") + intact[20:]
    library.write_bytes(foreign)
    meta_path = mv.directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["runtime"]["sha256"] = hashlib.sha256(foreign).hexdigest()
    meta_path.write_text(json.dumps(meta))
    assert project.cli("run", "churn", "--date", DAY.isoformat(), "--force").code == 0

    changed, unloadable = run_stats(project)
    assert changed["runtime"] == unloadable["runtime"] == "sklearn"
    assert any("treelite library changed since it was registered" in w for w in changed["warnings"])
    assert any("treelite library cannot be loaded" in w for w in unloadable["warnings"])
    scores = project.scores(DAY)
    day = make_customer_frame(DAY, N_CUSTOMERS).sort_values("customer_id")
    want = reference.predict_proba(day[list(churn.FEATURES)])[:, 1]
    assert len(scores) == N_CUSTOMERS
    assert np.array_equal(scores["score"].to_numpy(), want)  # scikit-learn's scores, to the bit
