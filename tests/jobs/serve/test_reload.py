"""A promote reaches a running server within 2 s: loaded beside the old version, swapped in;
requests in flight finish on the old one; a version that fails to load changes nothing."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.jobs.serve.helpers import copy_project, start_server, stop_server
from tests.jobs.helpers import register_slow

RECORD = {
    "customer_id": 1, "tenure_days": 400, "monthly_charges": 70.5, "support_calls": 3, "data_usage_gb": None,
    "late_payments": 1, "plan": "premium", "region": "north", "payment_method": "card",
}
PROMOTE_WITHIN_S = 2.0


@pytest.fixture
def project_served(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn")
    server = start_server(project)
    yield project, server
    stop_server(server)


def register_copy(registry, alias: str | None = None) -> int:
    """v1 of churn registered again as a new version (same model, same training frame)."""
    import pandas as pd

    model = registry.load(registry.resolve("churn", 1)).pipeline
    training = pd.read_parquet(registry.root.parent / "training.parquet")
    return registry.register("churn", model, training_frame=training[list(model.feature_names_in_)], alias=alias)


def served_version(server) -> int:
    status, body = server.score("churn", [RECORD])
    assert status == 200, body
    return body["model"]["version"]


def wait_for_version(server, version: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if served_version(server) == version:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"v{version} not served within {within}s: {server.logs()[-2000:]}")


def test_a_promote_is_served_within_two_seconds_and_in_flight_requests_finish_on_the_old_version(project_served):
    project, server = project_served
    registry = project.registry
    assert served_version(server) == 1
    slow = register_slow(registry, delay_s=1.5)  # v2: slow enough to be caught in flight
    registry.promote("churn", slow, "production")
    wait_for_version(server, slow, 30)  # the first request on it takes the 1.5 s of its predict

    answers = {}
    in_flight = threading.Thread(target=lambda: answers.update(body=server.score("churn", [RECORD])[1]))
    in_flight.start()
    time.sleep(0.3)  # the request is inside the slow predict now
    promoted = time.monotonic()
    registry.promote("churn", 1, "production")
    seen_after = wait_for_version(server, 1, PROMOTE_WITHIN_S + 1.5)  # + one slow request ahead of it
    in_flight.join()
    assert answers["body"]["model"]["version"] == slow  # finished on the version it started on
    assert time.monotonic() - promoted < PROMOTE_WITHIN_S + 1.5
    assert seen_after < PROMOTE_WITHIN_S + 1.5
    assert "now serves churn v1 (was v2)" in server.logs()


def test_a_promote_without_slow_requests_is_served_within_two_seconds(project_served):
    project, server = project_served
    registry = project.registry
    v2 = register_copy(registry)
    registry.promote("churn", v2, "production")
    assert wait_for_version(server, v2, PROMOTE_WITHIN_S) < PROMOTE_WITHIN_S
    status, body = server.request("GET", "/metrics")
    assert f'batchscore_serve_model_version{{job="churn",model="churn"}} {v2}' in body


def test_a_version_that_fails_to_load_leaves_the_old_one_serving_and_shows_in_readyz(project_served):
    project, server = project_served
    registry = project.registry
    bad = register_copy(registry)
    path = registry.resolve("churn", bad).model_path
    path.write_bytes(path.read_bytes() + b"tampered")  # its sha256 no longer matches
    registry.promote("churn", bad, "production")
    deadline = time.monotonic() + PROMOTE_WITHIN_S + 1
    while time.monotonic() < deadline:
        status, body = server.request("GET", "/readyz")
        if body["jobs"]["churn"]["error"]:
            break
        time.sleep(0.1)
    assert status == 200 and body["ready"] is True  # still serving
    assert body["jobs"]["churn"]["model"] == {"name": "churn", "version": 1}
    assert f"model churn v{bad}: model.joblib changed since it was registered" in body["jobs"]["churn"]["error"]
    assert served_version(server) == 1
    assert "changed since it was registered" in server.logs() and "still serving churn v1" in server.logs()
    # A later promote of a good version clears the error.
    registry.promote("churn", 1, "production")
    deadline = time.monotonic() + PROMOTE_WITHIN_S + 1
    while time.monotonic() < deadline and server.request("GET", "/readyz")[1]["jobs"]["churn"]["error"]:
        time.sleep(0.1)
    assert server.request("GET", "/readyz")[1]["jobs"]["churn"]["error"] is None


def test_off_loopback_serve_refuses_to_start_without_a_token(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn")
    monkeypatch.delenv("BATCHSCORE_SERVE_TOKEN", raising=False)
    result = project.cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert result.code == 2
    assert result.last_err_line.startswith("error: refusing to serve on 0.0.0.0 without a token (set BATCHSCORE_SERVE_TOKEN")
    assert "Traceback" not in result.err


def test_with_a_token_every_call_but_the_health_checks_needs_it(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn")
    server = start_server(project, env={"BATCHSCORE_SERVE_TOKEN": "s3cret-token"})
    try:
        assert server.request("GET", "/healthz")[0] == 200
        assert server.request("GET", "/readyz")[0] == 200
        for method, path, body in [("POST", "/v1/jobs/churn/score", {"records": [RECORD]}), ("GET", "/metrics", None), ("GET", "/docs", None), ("GET", "/", None)]:
            status, answer = server.request(method, path, body)
            assert status == 401, (path, answer)
            assert server.request(method, path, body, token="wrong")[0] == 401
        status, answer = server.score("churn", [RECORD], token="s3cret-token")
        assert status == 200 and answer["model"]["version"] == 1
        assert "s3cret-token" not in server.logs()
    finally:
        stop_server(server)


def test_a_job_whose_model_cannot_load_is_503_and_not_ready_while_the_others_serve(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn")
    project.write_job("ghost", pipeline={"name": "churn", "version": "nightly"})  # no such alias yet
    server = start_server(project)
    try:
        status, body = server.request("GET", "/readyz")
        assert status == 503 and body["ready"] is False
        assert body["jobs"]["ghost"]["model"] is None and "no version or alias 'nightly'" in body["jobs"]["ghost"]["error"]
        status, body = server.score("ghost", [RECORD])
        assert status == 503 and "no model loaded for job ghost" in body["error"]
        assert served_version(server) == 1
        project.registry.promote("churn", 1, "nightly")  # the alias appears: ghost loads
        deadline = time.monotonic() + PROMOTE_WITHIN_S
        while time.monotonic() < deadline and server.request("GET", "/readyz")[0] != 200:
            time.sleep(0.1)
        assert server.request("GET", "/readyz")[0] == 200
        assert server.score("ghost", [RECORD])[0] == 200
    finally:
        stop_server(server)


def test_serve_refuses_a_broken_job_file_before_binding(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn", serve={"max_records": 0})
    result = project.cli("serve", "--port", "1")
    assert result.code == 2
    assert "serve.max_records" in result.last_err_line and "Traceback" not in result.err


def test_with_two_worker_processes_a_promote_reaches_both(project_template, tmp_path, monkeypatch):
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn")
    server = start_server(project, "--workers", "2")
    try:
        deadline = time.monotonic() + 60  # both workers up and loaded
        while time.monotonic() < deadline and server.request("GET", "/readyz")[0] != 200:
            time.sleep(0.2)
        assert {served_version(server) for _ in range(10)} == {1}
        registry = project.registry
        v2 = register_copy(registry, alias="production")
        time.sleep(PROMOTE_WITHIN_S)
        assert {served_version(server) for _ in range(20)} == {v2}
        assert server.logs().count(f"now serves churn v{v2} (was v1)") == 2  # once per process
        # Each worker process logs in UTC with the zone, as the command line does.
        served = [line for line in server.logs().splitlines() if f"now serves churn v{v2}" in line]
        assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ", line) for line in served), served
    finally:
        stop_server(server)
