"""Helpers shared by the tests of the model spec (``tests/pipelines``) and of scoring
(``tests/jobs``): a tiny fitted pipeline and the spec the registry would record for it."""

from __future__ import annotations

import gc

from pipelines import churn

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pipelines.spec import Feature, ModelSpec, task_of


def fit_toy_pipeline(model, y):
    """``model`` behind a one-hot of ``c`` (``x`` passed through), fitted on six rows; and the rows."""
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "c": ["a", "b", "a", "b", "c", "c"]})
    pipe = make_pipeline(
        ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["c"])], remainder="passthrough"), model
    )
    return pipe.fit(frame, y), frame


def spec_of(pipe, frame) -> ModelSpec:
    """The spec of model ``m`` v1: ``pipe``'s task and classes, ``frame``'s columns and dtypes."""
    task, classes = task_of(pipe)
    return ModelSpec("m", 1, task, tuple(Feature(c, str(frame[c].dtype)) for c in frame.columns), classes)


def churn_without(drop: str, model):
    """The demo preprocessing (impute, scale, one-hot with unknowns ignored) without ``drop``."""
    pipe = churn.build_pipeline()
    columns = pipe.steps[0][1]
    columns.transformers = [(n, t, [c for c in cols if c != drop]) for n, t, cols in columns.transformers]
    pipe.steps[-1] = ("model", model)
    return pipe


class CollectorProbe:
    """Records, each time it is unpickled, whether Python's cyclic garbage collector was on
    (``seen``); with ``fail`` set, its unpickling raises."""

    seen: list[bool] = []

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def __setstate__(self, state: dict) -> None:
        type(self).seen.append(gc.isenabled())
        if state.get("fail"):
            raise RuntimeError("this object refuses to be unpickled")
        self.__dict__.update(state)
