"""A real ``batchscore serve`` process scores records exactly as the batch run did, and
answers bad requests with typed JSON errors."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3

import pytest

from tests.jobs.helpers import N_CUSTOMERS, Project
from tests.jobs.serve.helpers import DAY, committed, source_records, start_server, stop_server

JOBS = {"churn": "score", "tier": "label", "charges": "score"}


@pytest.fixture(scope="module")
def served(served_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("online") / "project"
    shutil.copytree(served_template, root)
    project = Project(root)
    server = start_server(project)
    yield project, server
    stop_server(server)


def test_the_day_replayed_has_missing_values_and_unseen_categories(served):
    project, _server = served
    records = source_records(project)
    assert len(records) == N_CUSTOMERS
    assert any(r["tenure_days"] is None for r in records) and any(r["monthly_charges"] is None for r in records)
    assert any(r["region"] == "atlantis" for r in records) and any(r["plan"] == "platinum" for r in records)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_online_scores_equal_the_committed_batch_scores_to_the_bit(served, job):
    project, server = served
    records = source_records(project)
    expected = committed(project, job)
    assert len(expected) == N_CUSTOMERS
    limit = 100 if job == "tier" else 1000
    online = []
    for start in range(0, len(records), limit):
        status, body = server.score(job, records[start:start + limit])
        assert status == 200, body
        assert body["model"] == {"name": {"churn": "churn", "tier": "tier", "charges": "charges"}[job], "version": 1}
        online += body["scores"]
    assert [s["customer_id"] for s in online] == [r["customer_id"] for r in records]  # in order
    for score in online:
        want_score, want_label = expected[score["customer_id"]]
        assert score["score"] == want_score, score  # bit for bit
        if job == "tier":
            assert score["label"] == want_label
        else:
            assert "label" not in score
    # One record at a time: the same bits again (predict works in blocks of whole row tiles).
    for record in records[:40]:
        status, body = server.score(job, [record])
        assert status == 200, body
        assert body["scores"][0]["score"] == expected[record["customer_id"]][0]


@pytest.mark.parametrize("job", sorted(JOBS))
def test_parity_command_agrees_to_the_bit_in_process_and_against_the_server(served, job):
    project, server = served
    for where in ([], ["--url", server.url]):
        result = project.cli("parity", job, "--date", DAY.isoformat(), "--sample", "300", *where)
        assert result.code == 0, result.err
        assert "300 rows compared" in result.out and "300 agree within 1e-12, 300 bit-identical" in result.out, result.out
        assert ("in-process" in result.out) == (not where)


def test_parity_fails_with_the_count_the_largest_difference_and_ids(served_template, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(served_template, root)
    project = Project(root)
    with contextlib.closing(sqlite3.connect(project.warehouse)) as conn:
        conn.execute("UPDATE churn_scores SET score = score + 1e-9 WHERE customer_id IN (3, 5, 8)")
        conn.commit()
    result = project.cli("parity", "churn", "--date", DAY.isoformat(), "--sample", str(N_CUSTOMERS))
    assert result.code == 1
    assert f"{N_CUSTOMERS - 3} bit-identical" in result.out
    line = result.last_err_line
    assert line.startswith("error: churn 2026-11-27: 3 of 500 rows differ by more than 1e-12 (largest 1e-09); ids: 3, 5, 8"), line
    assert "Traceback" not in result.err
    loose = project.cli("parity", "churn", "--date", DAY.isoformat(), "--tolerance", "1e-6")
    assert loose.code == 0, loose.err


def test_a_record_that_does_not_fit_is_a_422_naming_record_field_and_types(served):
    project, server = served
    records = source_records(project)[:5]
    records[3] = {**records[3], "tenure_days": "long"}
    status, body = server.score("churn", records)
    assert status == 422
    assert body["record"] == 3 and body["field"] == "tenure_days"
    assert body["found"] == "string" and body["expected"] == "number (int64)"
    assert "record 3" in body["error"] and "tenure_days" in body["error"]
    missing = dict(records[0])
    del missing["plan"]
    status, body = server.score("churn", [records[0], missing])
    assert status == 422 and body["record"] == 1 and body["field"] == "plan" and body["found"] == "missing"
    status, body = server.score("churn", [records[0], 7])
    assert status == 422 and body["record"] == 1 and body["expected"] == "object"
    status, body = server.score("churn", [{**records[0], "region": 5}])
    assert status == 422 and body["field"] == "region" and body["found"] == "number" and body["expected"].startswith("string")


def test_malformed_json_is_400_too_many_records_413_unknown_job_404(served):
    project, server = served
    status, body = server.request("POST", "/v1/jobs/churn/score", raw=b'{"records": [')
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = server.request("POST", "/v1/jobs/churn/score", {"rows": []})
    assert status == 422 and "records" in body["error"]
    records = source_records(project)
    status, body = server.score("tier", records[:101])  # tier's serve.max_records is 100
    assert status == 413 and "101 records" in body["error"] and "serve.max_records" in body["hint"]
    status, body = server.request("POST", "/v1/jobs/tier/score", raw=b'{"records": ["' + b"x" * 500_000 + b'"]}')
    assert status == 413
    status, body = server.score("nope", records[:1])
    assert status == 404 and "known jobs: charges, churn, tier" in body["hint"]
    status, body = server.score("churn", [])
    assert status == 200 and body["scores"] == []
    assert "Traceback" not in server.logs()


def test_scores_by_id_latest_day_and_by_date_from_sql_and_parquet(served):
    project, server = served
    expected = committed(project, "churn")
    status, body = server.request("GET", "/v1/jobs/churn/scores/42")
    assert status == 200, body
    assert body["id"] == {"customer_id": 42} and body["score_date"] == DAY.isoformat()
    assert body["score"] == expected[42][0] and body["model"] == {"name": "churn", "version": 1} and body["source"] == "sql"
    status, body = server.request("GET", f"/v1/jobs/churn/scores/42?date={DAY}")
    assert status == 200 and body["score"] == expected[42][0]
    status, body = server.request("GET", "/v1/jobs/churn/scores/42?date=2026-11-01")
    assert status == 404 and "2026-11-01" in body["error"]
    status, body = server.request("GET", "/v1/jobs/churn/scores/abc")
    assert status == 400
    status, body = server.request("GET", "/v1/jobs/churn/scores/42?date=yesterday-ish")
    assert status == 400
    tier = committed(project, "tier")
    status, body = server.request("GET", "/v1/jobs/tier/scores/7")
    assert status == 200 and (body["score"], body["label"]) == tier[7]
    charges = committed(project, "charges")
    status, body = server.request("GET", "/v1/jobs/charges/scores/9")
    assert status == 200 and body["score"] == charges[9][0] and body["source"] == "parquet"
    assert body["score_date"] == DAY.isoformat()
    status, body = server.request("GET", "/v1/jobs/charges/scores/100000")
    assert status == 404


def test_health_readiness_metrics_and_docs(served):
    _project, server = served
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    status, body = server.request("GET", "/readyz")
    assert status == 200 and body["ready"] is True
    assert body["jobs"]["tier"] == {"model": {"name": "tier", "version": 1}, "error": None}
    server.score("churn", [{"customer_id": 1}])  # a 422, counted as an error
    status, text = server.request("GET", "/metrics")
    assert status == 200
    assert 'batchscore_serve_requests_total{job="churn",endpoint="score",status="422"}' in text
    assert 'batchscore_serve_errors_total{job="churn",endpoint="score"}' in text
    assert 'batchscore_serve_request_seconds_bucket{job="churn",endpoint="score",le="+Inf"}' in text
    assert 'batchscore_serve_model_version{job="charges",model="charges"} 1' in text
    status, text = server.request("GET", "/docs")
    assert status == 200 and "swagger" in text.lower()
    status, spec = server.request("GET", "/openapi.json")
    assert status == 200 and "/v1/jobs/{job}/score" in spec["paths"]


def test_concurrent_requests_scored_together_get_their_own_scores_and_errors(served):
    from concurrent.futures import ThreadPoolExecutor

    project, server = served
    records = source_records(project)
    expected = committed(project, "tier")
    bad = {**records[0], "plan": 3}
    payloads = [[r] for r in records[:24]] + [records[100:130], [records[5], bad], []]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda p: server.score("tier", p), payloads))
    for payload, (status, body) in zip(payloads, answers, strict=True):
        if bad in payload:
            assert status == 422 and body["record"] == 1 and body["field"] == "plan"
            continue
        assert status == 200, body
        assert [(s["score"], s["label"]) for s in body["scores"]] == [expected[r["customer_id"]] for r in payload]


def test_a_bug_of_ours_is_a_json_500_without_traceback(served_template, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from jobs.serve import app as app_mod
    from pipelines.settings import Settings

    root = tmp_path / "project"
    shutil.copytree(served_template, root)
    settings = Settings.resolve({"config_dir": str(root / "configs")}, env={})

    def broken(self, ids, day):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app_mod.OutputReader, "find", broken)
    with TestClient(app_mod.create_app(settings, watch=False), raise_server_exceptions=False) as client:
        response = client.get("/v1/jobs/churn/scores/1")
        assert response.status_code == 500
        assert response.json() == {"error": "internal error", "hint": "the server's log has the details"}
        assert client.get("/healthz").status_code == 200
        assert 'batchscore_serve_requests_total{job="churn",endpoint="lookup",status="500"} 1' in client.get("/metrics").text
