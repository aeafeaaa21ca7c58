"""A small real project per test: SQLite warehouse, hive Parquet, a registered demo model.

The warehouse and the model are built once per session and copied for each test, so every
test starts from the same files and may change them freely. ``Project`` and the constants
(``DAYS``, ``N_CUSTOMERS``) live in ``tests/jobs/helpers.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines import churn
from pipelines.demo_data import build_warehouse
from tests.jobs.helpers import DAYS, ENV_KEYS, N_CUSTOMERS, Project


@pytest.fixture(scope="session")
def project_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template")
    info = build_warehouse(root, end=DAYS[-1], days=len(DAYS), n_customers=N_CUSTOMERS)
    churn.train_and_register(root / "data" / "models", info.training_path)
    (root / "configs").mkdir()
    return root


@pytest.fixture
def project(project_template, tmp_path, monkeypatch) -> Project:
    root = tmp_path / "project"
    shutil.copytree(project_template, root)
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # relative paths must resolve against the project, not the cwd
    return Project(root)
