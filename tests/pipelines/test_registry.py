"""The model registry, on real files under tmp_path."""

from __future__ import annotations

import gc
import json
import multiprocessing
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jobs.errors import ModelError, ModelIntegrityError, ModelNotFound, UsageError
from pipelines.spec import BINARY, MULTICLASS, REGRESSION, ModelSpec, conform, predict
from pipelines.distribution import PROBABILITY_EDGES
from pipelines.churn import FEATURES, LABEL, build_pipeline
from pipelines.demo_data import make_customer_frame
from pipelines.model import LoadedModel, ModelVersion, unpickle
from pipelines.registry import Registry, register
from tests.pipelines.helpers import CollectorProbe


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_customer_frame(date(2026, 6, 1), 400)


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame):
    return build_pipeline().fit(frame[list(FEATURES)], frame[LABEL])


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "models")


def _append_byte(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b"\0")


def _edit_meta(mv: ModelVersion, **changes) -> None:
    path = mv.directory / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


# --- versions and aliases ------------------------------------------------------------------

def test_constructor_does_no_io(tmp_path: Path):
    Registry(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_versions_start_at_1_and_register_returns_each_new_version(reg, fitted):
    assert [reg.register("churn", fitted) for _ in range(3)] == [1, 2, 3]
    assert [mv.version for mv in reg.versions("churn")] == [1, 2, 3]
    assert (reg.root / "churn" / "3" / "model.joblib").is_file()
    assert reg.names() == ["churn"]


def test_versions_are_immutable_registering_again_leaves_v1_untouched(reg, fitted, frame):
    reg.register("churn", fitted, training_frame=frame, metrics={"roc_auc": 0.8})
    v1 = reg.root / "churn" / "1"
    before = {p.name: p.read_bytes() for p in v1.iterdir()}
    refit = build_pipeline().fit(frame[list(FEATURES)].iloc[:200], frame[LABEL].iloc[:200])
    assert reg.register("churn", refit) == 2
    assert {p.name: p.read_bytes() for p in v1.iterdir()} == before
    assert reg.resolve("churn", 1).sha256 != reg.resolve("churn", 2).sha256


def test_no_temporary_directories_are_left_behind(reg, fitted):
    reg.register("churn", fitted)
    assert [p.name for p in (reg.root / "churn").iterdir() if p.name.startswith(".tmp")] == []


def test_register_with_alias_points_it_at_the_new_version(reg, fitted):
    reg.register("churn", fitted, alias="production")
    reg.register("churn", fitted, alias="production")
    assert reg.aliases("churn") == {"production": 2}
    assert reg.resolve("churn", "production").version == 2


def test_promote_moves_the_alias_and_the_old_version_stays_loadable(reg, fitted, frame):
    reg.register("churn", fitted, alias="production")
    reg.register("churn", fitted)
    reg.promote("churn", 2, "production")
    reg.promote("churn", "1", "previous")
    reg.promote("churn", "production", "canary")  # an alias as the version copies its target
    assert reg.aliases("churn") == {"production": 2, "previous": 1, "canary": 2}
    assert reg.resolve("churn", "production").version == 2
    old = reg.load(reg.resolve("churn", 1))
    assert isinstance(old, LoadedModel) and old.version.version == 1
    assert old.pipeline.predict_proba(frame[list(FEATURES)]).shape == (len(frame), 2)


def test_resolve_takes_a_version_as_int_or_digit_string(reg, fitted):
    reg.register("churn", fitted)
    assert reg.resolve("churn", 1) == reg.resolve("churn", "1")


def test_promote_to_a_missing_version_is_model_not_found(reg, fitted):
    reg.register("churn", fitted)
    with pytest.raises(ModelNotFound):
        reg.promote("churn", 5, "production")
    assert reg.aliases("churn") == {}


def test_unknown_alias_or_version_lists_the_versions_and_aliases_that_exist(reg, fitted):
    reg.register("churn", fitted, alias="production")
    reg.register("churn", fitted, alias="staging")
    for ref in ("canary", 7, "7"):
        with pytest.raises(ModelNotFound) as info:
            reg.resolve("churn", ref)
        assert "versions: 1, 2" in str(info.value)
        assert "production -> v1" in str(info.value) and "staging -> v2" in str(info.value)


def test_unknown_model_name_lists_the_models_that_exist(reg, fitted):
    reg.register("churn", fitted)
    reg.register("upsell", fitted)
    with pytest.raises(ModelNotFound) as info:
        reg.resolve("fraud", "production")
    assert "churn, upsell" in str(info.value)
    with pytest.raises(ModelNotFound):
        reg.versions("fraud")


@pytest.mark.parametrize("bad", ["", "1churn", "../etc", "churn/x", "a b", "-x"])
def test_invalid_model_names_are_usage_errors(reg, fitted, bad):
    with pytest.raises(UsageError):
        reg.register(bad, fitted)
    with pytest.raises(UsageError):
        reg.resolve(bad, 1)


@pytest.mark.parametrize("bad", ["3", "prod uction", ".x", "a/b"])
def test_invalid_aliases_are_usage_errors_and_register_nothing(reg, fitted, bad):
    with pytest.raises(UsageError):
        reg.register("churn", fitted, alias=bad)
    assert reg.names() == []


# --- integrity and loading -----------------------------------------------------------------

def test_tampered_model_file_is_refused_by_load_and_verified_bytes(reg, fitted):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    _append_byte(mv.model_path)
    for read in (reg.load, reg.handle):
        with pytest.raises(ModelIntegrityError) as info:
            read(mv)
        assert "churn v1: model.joblib changed since it was registered" in info.value.what
        assert "re-register" in info.value.hint


def test_deleted_model_file_is_an_integrity_error(reg, fitted):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    mv.model_path.unlink()
    with pytest.raises(ModelIntegrityError):
        reg.load(mv)


def test_verified_bytes_unpickle_to_the_same_pipeline(reg, fitted, frame):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    pipeline = unpickle(reg.handle(mv).data, mv)
    x = frame[list(FEATURES)]
    np.testing.assert_array_equal(pipeline.predict_proba(x), fitted.predict_proba(x))


def test_unpickle_rechecks_the_sha256_of_the_bytes(reg, fitted):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    with pytest.raises(ModelIntegrityError):
        unpickle(reg.handle(mv).data + b"\0", mv)


def test_older_sklearn_in_meta_is_a_warning_not_an_error(reg, fitted):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    libs = dict(mv.library_versions, sklearn="1.4.2")
    _edit_meta(mv, library_versions=libs)
    loaded = reg.load(reg.resolve("churn", 1))
    assert loaded.warnings == (
        f"churn v1 was fitted with scikit-learn 1.4.2, this is {sklearn.__version__}",
    )
    assert reg.load(reg.resolve("churn", 1)).pipeline is not None


def test_same_sklearn_gives_no_warning(reg, fitted):
    reg.register("churn", fitted)
    assert reg.load(reg.resolve("churn", 1)).warnings == ()


def test_unpicklable_model_is_a_model_error_naming_the_libraries(reg, tmp_path, frame):
    # A pipeline with a transformer from a module that disappears after registration.
    module_dir = tmp_path / "src"
    module_dir.mkdir()
    (module_dir / "vanishing_transformers.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n"
        "class Identity(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, x, y=None):\n"
        "        self.n_features_in_ = x.shape[1]\n"
        "        self.feature_names_in_ = list(x.columns)\n"
        "        return self\n"
        "    def transform(self, x):\n"
        "        return x\n"
    )
    sys.path.insert(0, str(module_dir))
    try:
        import vanishing_transformers

        x = frame[["tenure_days", "monthly_charges"]]
        pipeline = make_pipeline(vanishing_transformers.Identity(), LogisticRegression())
        reg.register("custom", pipeline.fit(x, frame[LABEL]))
    finally:
        sys.path.remove(str(module_dir))
        sys.modules.pop("vanishing_transformers", None)
    mv = reg.resolve("custom", 1)
    with pytest.raises(ModelError) as info:
        reg.load(mv)
    assert not isinstance(info.value, ModelIntegrityError)
    assert "custom v1 cannot be unpickled" in info.value.what
    assert f"scikit-learn=={sklearn.__version__}" in info.value.hint
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


# --- what a version records ----------------------------------------------------------------

def test_features_and_dtypes_are_recorded_from_the_training_frame(reg, fitted, frame):
    reg.register("churn", fitted, training_frame=frame)
    mv = reg.resolve("churn", 1)
    assert [f.name for f in mv.features] == list(FEATURES)
    dtypes = {f.name: f.dtype for f in mv.features}
    assert dtypes["tenure_days"] == "int64" and dtypes["data_usage_gb"] == "float64"
    assert dtypes["plan"] == str(frame["plan"].dtype)
    assert isinstance(mv.spec, ModelSpec)
    assert (mv.spec.name, mv.spec.version, mv.spec.task) == ("churn", 1, BINARY)
    assert mv.spec.classes == (0, 1)


def test_without_training_frame_dtypes_are_none_and_no_reference(reg, fitted):
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    assert [f.name for f in mv.features] == list(FEATURES)
    assert all(f.dtype is None for f in mv.features)
    assert mv.reference is None


def test_reference_distribution_is_the_training_scores_summary(reg, fitted, frame):
    reg.register("churn", fitted, training_frame=frame)
    mv = reg.resolve("churn", 1)
    ref = mv.reference
    assert ref.count == len(frame)
    assert ref.histogram.edges == PROBABILITY_EDGES
    assert sum(ref.histogram.counts) == len(frame)
    scores, _ = predict(fitted, conform(frame, mv.spec), mv.spec)
    assert ref.mean == pytest.approx(float(scores.mean()))


def test_training_frame_lacking_a_feature_is_a_usage_error(reg, fitted, frame):
    with pytest.raises(UsageError) as info:
        reg.register("churn", fitted, training_frame=frame.drop(columns=["plan"]))
    assert "plan" in info.value.what
    assert reg.names() == []


def test_metrics_are_stored_as_plain_json(reg, fitted):
    reg.register("churn", fitted, metrics={"roc_auc": np.float64(0.81), "n_train": np.int64(3)})
    mv = reg.resolve("churn", 1)
    assert mv.metrics == {"roc_auc": 0.81, "n_train": 3}
    assert json.loads((mv.directory / "meta.json").read_text())["metrics"]["n_train"] == 3


def test_library_versions_and_creation_time_are_stored(tmp_path, fitted):
    moment = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    reg = Registry(tmp_path, clock=lambda: moment)
    reg.register("churn", fitted)
    mv = reg.resolve("churn", 1)
    assert mv.library_versions["sklearn"] == sklearn.__version__
    assert mv.library_versions["pandas"] == pd.__version__
    assert mv.library_versions["numpy"] == np.__version__
    assert set(mv.library_versions) == {"sklearn", "pandas", "numpy", "joblib", "python"}
    assert mv.created_at == "2026-11-27T02:00:00+00:00"


def test_regression_pipeline_registers_as_regression(reg, frame):
    x = frame[["tenure_days", "monthly_charges"]]
    pipeline = make_pipeline(StandardScaler(), LinearRegression()).fit(x, frame["support_calls"])
    reg.register("calls", pipeline, training_frame=x)
    mv = reg.resolve("calls", 1)
    assert (mv.task, mv.classes) == (REGRESSION, None)
    edges = mv.reference.histogram.edges
    assert edges[0] == pytest.approx(mv.reference.min)
    assert edges[-1] == pytest.approx(mv.reference.max)


def test_multiclass_pipeline_registers_with_its_classes(reg, frame):
    x = frame[["tenure_days", "monthly_charges", "support_calls"]]
    y = frame["plan"].astype(object)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    reg.register("plan", pipeline, training_frame=x)
    mv = reg.resolve("plan", 1)
    assert mv.task == MULTICLASS
    assert mv.classes == ("basic", "family", "premium", "standard")
    assert all(isinstance(c, str) for c in mv.classes)
    assert mv.reference.min >= 0.25 and mv.reference.max <= 1.0  # max of 4 probabilities


# --- what register accepts -----------------------------------------------------------------

def test_register_refuses_unfitted_and_unnamed_pipelines(reg, frame):
    with pytest.raises(UsageError, match="not fitted"):
        reg.register("churn", build_pipeline())
    x = frame[["tenure_days", "monthly_charges"]].to_numpy()
    with pytest.raises(UsageError, match="feature_names_in_"):
        reg.register("churn", LogisticRegression().fit(x, frame[LABEL]))
    with pytest.raises(UsageError, match="not a scikit-learn estimator"):
        reg.register("churn", {"model": 1})


def test_register_file_loads_a_joblib_file(reg, fitted, frame, tmp_path):
    import joblib

    path = tmp_path / "churn.joblib"
    joblib.dump(fitted, path)
    assert reg.register_file("churn", path, alias="production", training_frame=frame) == 1
    mv = reg.resolve("churn", "production")
    assert mv.reference is not None
    assert reg.load(mv).pipeline.predict(frame[list(FEATURES)]).shape == (len(frame),)


def test_register_file_refuses_missing_and_non_model_files(reg, tmp_path):
    import joblib

    with pytest.raises(UsageError, match="no such file"):
        reg.register_file("churn", tmp_path / "absent.joblib")
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(UsageError, match="cannot be loaded"):
        reg.register_file("churn", garbage)
    joblib.dump([1, 2, 3], tmp_path / "list.joblib")
    with pytest.raises(UsageError, match="not a scikit-learn estimator"):
        reg.register_file("churn", tmp_path / "list.joblib")


def test_module_register_uses_the_models_root_from_settings(tmp_path, fitted, monkeypatch):
    monkeypatch.setenv("BATCHSCORE_MODELS", str(tmp_path / "from_env"))
    assert register("churn", fitted, alias="production") == 1
    assert Registry(tmp_path / "from_env").resolve("churn", "production").version == 1
    assert register("churn", fitted, root=tmp_path / "explicit") == 1


# --- concurrency ---------------------------------------------------------------------------

def _register_after_barrier(root: str, pipeline, barrier, results) -> None:
    barrier.wait()
    results.put(Registry(root).register("churn", pipeline))


def test_concurrent_registers_from_two_processes_get_distinct_versions(tmp_path, fitted):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    root = str(tmp_path / "models")
    workers = [
        ctx.Process(target=_register_after_barrier, args=(root, fitted, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in workers) == [1, 2]
    reg = Registry(root)
    assert [mv.version for mv in reg.versions("churn")] == [1, 2]
    for mv in reg.versions("churn"):
        reg.load(mv)  # both complete, neither overwritten by the other



@pytest.mark.parametrize("how", ["load", "handle"])
def test_a_pipeline_is_unpickled_with_the_garbage_collector_off_and_it_is_on_again_after(reg, fitted, how):
    probed = pickle_copy(fitted)
    probed.probe_ = CollectorProbe()
    mv = reg.resolve("churn", reg.register("churn", probed))
    CollectorProbe.seen.clear()
    assert gc.isenabled()
    loaded = reg.load(mv).pipeline if how == "load" else reg.handle(mv).load()
    assert CollectorProbe.seen == [False]  # off while the pipeline was unpickled
    assert gc.isenabled() and isinstance(loaded.probe_, CollectorProbe)


def test_the_garbage_collector_is_on_again_after_an_unpickling_that_fails(reg, fitted):
    probed = pickle_copy(fitted)
    probed.probe_ = CollectorProbe(fail=True)
    mv = reg.resolve("churn", reg.register("churn", probed))
    CollectorProbe.seen.clear()
    with pytest.raises(ModelError, match="cannot be unpickled"):
        reg.load(mv)
    assert CollectorProbe.seen == [False] and gc.isenabled()
    gc.disable()
    try:  # a caller that had it off keeps it off
        with pytest.raises(ModelError):
            reg.load(mv)
        assert not gc.isenabled()
    finally:
        gc.enable()


def pickle_copy(obj):
    import pickle

    return pickle.loads(pickle.dumps(obj))
