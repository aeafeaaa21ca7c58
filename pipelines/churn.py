"""The demo pipeline: predict churn from a customer snapshot; build, train, register.

    python -m pipelines.churn --models data/models --training data/training.parquet

prints the registered version as the last line of stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.errors import BatchScoreError
from pipelines.names import DEFAULT_ALIAS
from pipelines.registry import Registry

log = logging.getLogger(__name__)

NAME = "churn"
LABEL = "churned"
FEATURES_NUMERIC = (
    "tenure_days",
    "monthly_charges",
    "support_calls",
    "data_usage_gb",
    "late_payments",
)
FEATURES_CATEGORICAL = ("plan", "region", "payment_method")
FEATURES = FEATURES_NUMERIC + FEATURES_CATEGORICAL
HOLDOUT = 0.25  # share of the training frame kept aside for the metrics
SPLIT_SEED = 0  # a fixed split: the same data always gives the same metrics


def build_pipeline() -> Pipeline:
    """Impute, scale and one-hot encode, then a logistic regression."""
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    features = ColumnTransformer(
        [
            ("numeric", numeric, list(FEATURES_NUMERIC)),
            ("categorical", categorical, list(FEATURES_CATEGORICAL)),
        ]
    )
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=1000))])


def build_hgb_pipeline(max_iter: int = 100) -> Pipeline:
    """Ordinal codes for the categoricals, then a HistGradientBoostingClassifier that splits on
    them as categories: a tree model ``pipeline register --runtime treelite`` can compile."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import OrdinalEncoder

    # A missing category is a category of its own: left missing (region has some), the compiled
    # trees route some missing values otherwise than scikit-learn, and the runtime is refused.
    codes = Pipeline([
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        ("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)),
    ])
    features = ColumnTransformer(
        [("numeric", "passthrough", list(FEATURES_NUMERIC)), ("categorical", codes, list(FEATURES_CATEGORICAL))]
    )
    categorical = list(range(len(FEATURES_NUMERIC), len(FEATURES)))
    model = HistGradientBoostingClassifier(max_iter=max_iter, categorical_features=categorical, random_state=0)
    return Pipeline([("features", features), ("model", model)])


def build() -> Pipeline:
    """The factory of the job file's ``training.factory: pipelines.churn:build``."""
    return build_pipeline()


def train(frame: pd.DataFrame) -> tuple[Pipeline, dict]:
    """Fit on a fixed split of ``frame``; metrics are measured on the held-out rest."""
    x_train, x_test, y_train, y_test = train_test_split(
        frame[list(FEATURES)],
        frame[LABEL],
        test_size=HOLDOUT,
        random_state=SPLIT_SEED,
        stratify=frame[LABEL],
    )
    pipeline = build_pipeline().fit(x_train, y_train)
    proba = pipeline.predict_proba(x_test)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, proba)),
        "accuracy": float(accuracy_score(y_test, pipeline.predict(x_test))),
        "n_train": int(len(x_train)),
        "n_holdout": int(len(x_test)),
    }
    return pipeline, metrics


def train_and_register(
    root_or_registry: Path | str | Registry, training_path: Path | str, *, alias: str = DEFAULT_ALIAS
) -> int:
    """Train on the Parquet frame at ``training_path`` and register it; returns the version."""
    registry = (
        root_or_registry if isinstance(root_or_registry, Registry) else Registry(root_or_registry)
    )
    # As read from Parquet, so the recorded dtypes are the ones scoring will see.
    frame = pd.read_parquet(training_path)
    pipeline, metrics = train(frame)
    log.info("trained %s on %d rows: %s", NAME, len(frame), metrics)
    return registry.register(
        NAME, pipeline, training_frame=frame[list(FEATURES)], alias=alias, metrics=metrics
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.churn", description=__doc__)
    parser.add_argument("--models", required=True, type=Path, help="the registry root")
    parser.add_argument("--training", required=True, type=Path, help="labelled Parquet frame")
    parser.add_argument("--alias", default=DEFAULT_ALIAS, help="alias to point at the version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        version = train_and_register(args.models, args.training, alias=args.alias)
    except BatchScoreError as exc:
        print(f"error: {exc}", file=sys.stderr)  # our errors already say what to do
        return exc.exit_code
    print(version)  # the contract: the new version is the last line of stdout
    return 0


if __name__ == "__main__":
    sys.exit(main())
