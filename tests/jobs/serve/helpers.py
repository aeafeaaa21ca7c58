"""Helpers of the served-project tests (``tests/jobs/serve``): the served project (three
pipelines, a dirty day, every job scored), a real ``batchscore serve`` process started and
stopped, a real ``redis-server`` handle, and the day's source records and committed scores the
online path is compared with.

Imported by the test modules and by ``conftest.py`` (its fixtures: ``served_template``,
``redis_server``); no test module imports another.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
from sklearn.linear_model import LogisticRegression, Ridge

from pipelines import churn
from tests.jobs.helpers import DAYS, ENV_KEYS, REPO, Project
from tests.pipelines.helpers import churn_without

DAY = DAYS[-1]
LENIENT = {"max_null_fraction": 1.0, "max_unseen_category_fraction": 1.0}  # the day is dirty on purpose
START_TIMEOUT_S = 90
FEATURES = ["tenure_days", "monthly_charges", "support_calls", "data_usage_gb", "late_payments", "plan", "region", "payment_method"]  # what a client sends


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_other_models(project: Project) -> None:
    """``tier`` (multiclass: support calls none/few/many) and ``charges`` (regression)."""
    frame = pd.read_parquet(project.root / "data" / "training.parquet")
    tier_features = [f for f in churn.FEATURES if f != "support_calls"]
    tiers = pd.cut(frame["support_calls"], [-1, 0, 2, 1000], labels=["none", "few", "many"]).astype(str)
    tier = churn_without("support_calls", LogisticRegression(max_iter=2000)).fit(frame[tier_features], tiers)
    project.registry.register("tier", tier, training_frame=frame[tier_features], alias="production")
    charge_features = [f for f in churn.FEATURES if f != "monthly_charges"]
    charges = churn_without("monthly_charges", Ridge()).fit(frame[charge_features], frame["monthly_charges"])
    project.registry.register("charges", charges, training_frame=frame[charge_features], alias="production")


def dirty_the_day(project: Project, day=DAY) -> None:
    """Missing values and unseen categories in the day's source rows."""
    with closing(sqlite3.connect(project.warehouse)) as conn:
        conn.execute("UPDATE customer_features SET tenure_days = NULL WHERE snapshot_date = ? AND customer_id % 17 = 0", [day.isoformat()])
        conn.execute("UPDATE customer_features SET monthly_charges = NULL WHERE snapshot_date = ? AND customer_id % 19 = 0", [day.isoformat()])
        conn.execute("UPDATE customer_features SET region = 'atlantis' WHERE snapshot_date = ? AND customer_id % 13 = 0", [day.isoformat()])
        conn.execute("UPDATE customer_features SET plan = 'platinum' WHERE snapshot_date = ? AND customer_id % 11 = 0", [day.isoformat()])
        conn.execute("UPDATE customer_features SET payment_method = NULL WHERE snapshot_date = ? AND customer_id % 23 = 0", [day.isoformat()])
        conn.commit()


def write_jobs(project: Project, **extra) -> None:
    """churn (binary, SQL out), tier (multiclass, SQL out), charges (regression, Parquet out)."""
    project.write_job("churn", quality=LENIENT, **extra)
    project.write_job(
        "tier", pipeline={"name": "tier", "version": "production"}, passthrough=None, quality=LENIENT,
        output={"kind": "sql", "url": "sqlite:///data/warehouse.db", "table": "tier_scores"},
        serve={"max_records": 100}, **extra,
    )
    project.write_job(
        "charges", pipeline={"name": "charges", "version": "production"}, passthrough=None, quality=LENIENT,
        output={"kind": "parquet", "path": "data/charges_scores"}, **extra,
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None, token: str | None = None) -> tuple[int, dict | str]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, kind = response.status, response.read().decode(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            status, text, kind = exc.code, exc.read().decode(), exc.headers.get("content-type", "")
        return status, json.loads(text) if "json" in kind else text

    def score(self, job: str, records: list[dict], **kw):
        return self.request("POST", f"/v1/jobs/{job}/score", {"records": records}, **kw)

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def start_server(project: Project, *args: str, env: dict | None = None) -> Server:
    """``python -m jobs serve`` on a free loopback port; returns once /healthz answers."""
    port = free_port()
    log = project.root / f"serve-{port}.log"
    child_env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS and k != "BATCHSCORE_SERVE_TOKEN"}
    child_env["PYTHONPATH"] = str(REPO)
    child_env.update(env or {})
    handle = open(log, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "serve", "--port", str(port), "--config-dir", str(project.configs), *args],
        cwd=project.root, env=child_env, stdout=handle, stderr=subprocess.STDOUT,
    )
    handle.close()
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{server.logs()}")
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"serve did not start in {START_TIMEOUT_S}s:\n{server.logs()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def copy_project(template: Path, root: Path, monkeypatch) -> Project:
    shutil.copytree(template, root)
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return Project(root)


@dataclass
class RedisServer:
    url: str
    port: int
    process: subprocess.Popen

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


# --- what the online path is compared with ------------------------------------------------

def source_records(project: Project, day: date = DAY) -> list[dict]:
    """The day's source rows as a client sends them (NULL -> null)."""
    with closing(sqlite3.connect(project.warehouse)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            f"SELECT customer_id, {', '.join(FEATURES)} FROM customer_features WHERE snapshot_date = ? ORDER BY customer_id",
            [day.isoformat()],
        ).fetchall()
    return [dict(row) for row in rows]


def committed(project: Project, job: str, day: date = DAY) -> dict[int, tuple]:
    """customer_id -> (score, label) as the batch run committed them."""
    if job == "charges":
        table = ds.dataset(project.root / "data" / "charges_scores" / f"score_date={day}", format="parquet").to_table()
        return {i: (s, None) for i, s in zip(table["customer_id"].to_pylist(), table["score"].to_pylist(), strict=True)}
    label = "label" if job == "tier" else "NULL"
    rows = project.sql(f"SELECT customer_id, score, {label} FROM {job}_scores WHERE score_date = ?".replace("?", f"'{day}'"))
    return {i: (s, lab) for i, s, lab in rows}
