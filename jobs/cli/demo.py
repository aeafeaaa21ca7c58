"""The demo: sample warehouse, demo model, one day of churn_daily scored, and a downstream query.

Idempotent: the warehouse and the model are made once; a second demo is a skip of the day.
The sample days are relative to the day scored (yesterday, from the command line): the 30 days
up to it and ``DAYS_AHEAD`` after, so ``batchscore run churn_daily`` with its default day, the
cron line and the daemon find their rows in the days after the demo; a demo on a day the
warehouse lacks builds it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from jobs import db
from jobs.config import load_named
from jobs.ledger import Ledger
from jobs.run_stats import RunStats
from jobs.vocabulary import DEFAULT_ALIAS, RunStatus
from jobs.runner import run_day
from pipelines.settings import Settings
from pipelines import churn
from pipelines.demo_data import build_warehouse
from pipelines.registry import Registry

DEMO_JOB = "churn_daily"
DAYS_BEFORE = 30  # sample days up to the scored one, included
DAYS_AHEAD = 7  # sample days after it: a week of `run` (yesterday) and cron fires after the demo

DOWNSTREAM_QUERY = """
SELECT s.plan, COUNT(*) AS customers, ROUND(AVG(s.score), 4) AS mean_churn_risk,
       SUM(CASE WHEN s.score >= 0.5 THEN 1 ELSE 0 END) AS at_risk
FROM churn_scores AS s
WHERE s.score_date = :day
GROUP BY s.plan
ORDER BY mean_churn_risk DESC
"""


def run_demo(settings: Settings, day: date) -> Iterator[str]:
    root = settings.project_root
    warehouse = root / "data" / "warehouse.db"
    if not _has_day(warehouse, day) or not (root / "data" / "training.parquet").exists():
        info = build_warehouse(root, end=day + timedelta(days=DAYS_AHEAD), days=DAYS_BEFORE + DAYS_AHEAD)
        yield f"built the sample warehouse: {info.sqlite_path} and {info.features_path}/ ({info.start}..{info.end}, {info.n_customers} customers a day)"
    registry = Registry(settings.models_root)
    if churn.NAME not in registry.names() or DEFAULT_ALIAS not in registry.aliases(churn.NAME):
        version = churn.train_and_register(registry, root / "data" / "training.parquet")
        mv = registry.resolve(churn.NAME, version)
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in mv.metrics.items())
        yield f"trained and registered {churn.NAME} v{version} as production ({metrics})"
    job = load_named(settings.config_dir, DEMO_JOB)
    outcome = run_day(job, day, settings)
    if outcome.status == RunStatus.SKIPPED:
        yield f"{job.name} {day}: skipped, already succeeded (a re-run replaces it only with --force)"
    else:
        yield f"{job.name} {day}: scored {outcome.rows_written} rows with {outcome.model_name} v{outcome.model_version} in {outcome.seconds:.2f}s"
    row = next(r for r in Ledger(settings.state_url).history(job.name) if r["score_date"] == day and r["status"] == RunStatus.SUCCEEDED)
    yield (
        f"ledger: run {row['run_id']} {row['score_date']} {row['status']} attempt {row['attempt']} "
        f"rows_read={row['rows_read']} rows_written={row['rows_written']} model={row['model_name']} v{row['model_version']} "
        f"mean_score={RunStats.from_json(row['stats']).scores.mean:.4f}"
    )
    yield f"downstream query on {job.output.describe()}:{DOWNSTREAM_QUERY.rstrip()}"
    engine = db.make_engine(job.output.url, must_exist=True)
    with db.connect(engine, "output") as conn:
        result = conn.execute(sa.text(DOWNSTREAM_QUERY).bindparams(sa.bindparam("day", type_=sa.Date)), {"day": day})
        names = list(result.keys())
        rows = [[str(v) for v in r] for r in result]
    widths = [max(len(n), *(len(r[i]) for r in rows)) for i, n in enumerate(names)]
    yield "  ".join(n.ljust(w) for n, w in zip(names, widths))
    for r in rows:
        yield "  ".join(v.ljust(w) for v, w in zip(r, widths))


def _has_day(warehouse: Path, day: date) -> bool:
    """Whether the sample warehouse has customer rows for ``day``."""
    if not warehouse.exists():
        return False
    with closing(sqlite3.connect(warehouse)) as conn:
        try:
            return conn.execute("SELECT 1 FROM customer_features WHERE snapshot_date = ? LIMIT 1", [day.isoformat()]).fetchone() is not None
        except sqlite3.OperationalError:  # no such table: not built yet
            return False
