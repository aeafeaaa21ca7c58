"""A classifier that wraps a fitted pipeline and sleeps in every predict_proba call: long
enough runs to kill, or to race, in the middle. Importable by child processes (pickled by
reference to this module)."""

from __future__ import annotations

import time

from sklearn.base import BaseEstimator, ClassifierMixin


class SlowClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, inner=None, delay_s: float = 0.2):
        self.inner = inner
        self.delay_s = delay_s

    def fit(self, X, y=None):
        self.classes_ = self.inner.classes_
        self.feature_names_in_ = self.inner.feature_names_in_
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def predict_proba(self, X):
        time.sleep(self.delay_s)
        return self.inner.predict_proba(X)

    def predict(self, X):
        return self.inner.predict(X)


def register_slow(registry, delay_s: float = 0.2, alias: str | None = None) -> int:
    """Register the production churn model, slowed down, as a new version."""
    import pandas as pd

    base = registry.load(registry.resolve("churn", "production")).pipeline
    slow = SlowClassifier(base, delay_s).fit(None)
    training = pd.read_parquet(registry.root.parent / "training.parquet")
    return registry.register("churn", slow, training_frame=training[list(base.feature_names_in_)], alias=alias)
