"""Scores by id in a real Redis: a committed day is published under its run's namespace and
made current by one pointer switch; a failed publish is a warning and is done again later."""

from __future__ import annotations

import json

import pytest

from jobs.config import RedisPublish
from jobs.serve.publish import RedisScores
from tests.jobs.helpers import DAYS, N_CUSTOMERS
from tests.jobs.serve.helpers import copy_project, free_port, start_server, stop_server

TTL_DAYS = 3


@pytest.fixture
def project(project_template, tmp_path, monkeypatch, redis_server):
    redis_server.client().flushdb()
    project = copy_project(project_template, tmp_path / "project", monkeypatch)
    project.write_job("churn", publish={"kind": "redis", "url": redis_server.url, "ttl_days": TTL_DAYS})
    return project


def current_day(redis_server) -> str | None:
    value = redis_server.client().get("batchscore:churn:current")
    return None if value is None else value.decode()[:10]


def committed(project, day) -> dict[int, float]:
    return dict(project.sql(f"SELECT customer_id, score FROM churn_scores WHERE score_date = '{day}'"))


def test_a_committed_day_is_published_whole_and_served_by_id_from_redis(project, redis_server):
    for day in DAYS[1:]:
        result = project.cli("run", "churn", "--date", day.isoformat())
        assert result.code == 0, result.err
        assert "published 500 scores to Redis" in result.err
    assert current_day(redis_server) == DAYS[2].isoformat()
    client = redis_server.client()
    run_id = project.ledger()["run_id"].iloc[-1]
    namespace = client.get("batchscore:churn:current").decode().split("|", 1)[1]
    assert namespace.startswith(f"batchscore:churn:run:{run_id}:")
    assert client.hlen(namespace) == N_CUSTOMERS
    assert 0 < client.ttl(namespace) <= TTL_DAYS * 86400
    assert json.loads(client.hget(namespace, "42"))["score"] == committed(project, DAYS[2])[42]
    server = start_server(project)
    try:
        status, body = server.request("GET", "/v1/jobs/churn/scores/42")
        assert status == 200, body
        assert body["source"] == "redis" and body["score_date"] == DAYS[2].isoformat()
        assert body["score"] == committed(project, DAYS[2])[42]
        assert body["model"] == {"name": "churn", "version": 1} and body["run_id"] == run_id
        status, body = server.request("GET", f"/v1/jobs/churn/scores/42?date={DAYS[1]}")
        assert status == 200 and body["source"] == "redis" and body["score"] == committed(project, DAYS[1])[42]
        status, body = server.request("GET", f"/v1/jobs/churn/scores/42?date={DAYS[0]}")  # never scored
        assert status == 404
        status, body = server.request("GET", "/v1/jobs/churn/scores/99999")
        assert status == 404
    finally:
        stop_server(server)


def test_a_reader_sees_the_old_day_until_the_new_one_is_switched_in_whole(project, redis_server):
    assert project.cli("run", "churn", "--date", DAYS[2].isoformat()).code == 0
    old_run = project.ledger()["run_id"].iloc[-1]
    target = RedisScores("churn", RedisPublish(kind="redis", url=redis_server.url, ttl_days=TTL_DAYS))
    assert target.get(["1"], None)[1]["run_id"] == old_run
    import pyarrow as pa

    new_run = "new-run"
    seen = []

    def batches():
        for part in range(5):
            ids = list(range(1 + part * 100, 101 + part * 100))
            yield pa.RecordBatch.from_pydict({
                "customer_id": ids, "score": [0.5] * 100, "model_name": ["churn"] * 100,
                "model_version": [2] * 100, "run_id": [new_run] * 100,
            })
            # Mid-publish: every reader still gets the old day, whole.
            seen.append({target.get([str(i)], None)[1]["run_id"] for i in (1, 250, 500)})

    done = target.publish(DAYS[2], batches(), ["customer_id"], False)
    assert done.rows == 500 and seen == [{old_run}] * 5
    assert target.get(["250"], None)[1] == {"score_date": DAYS[2].isoformat(), "run_id": new_run, "model": {"name": "churn", "version": 2}, "score": 0.5}
    old_namespace = next(k for k in redis_server.client().keys(f"batchscore:churn:run:{old_run}:*") if not k.endswith(b":meta"))
    assert 0 < redis_server.client().ttl(old_namespace) <= 60  # the replaced day expires soon
    # An older day published later never moves the current pointer back.
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    assert current_day(redis_server) == DAYS[2].isoformat()


def unreachable(project, redis_server) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    project.write_job("churn", publish={"kind": "redis", "url": dead, "ttl_days": TTL_DAYS})


def test_a_failed_publish_is_a_ledger_warning_keeps_the_previous_day_and_publish_redoes_it(project, redis_server):
    assert project.cli("run", "churn", "--date", DAYS[1].isoformat()).code == 0
    unreachable(project, redis_server)
    result = project.cli("run", "churn", "--date", DAYS[2].isoformat())
    assert result.code == 0, result.err  # the day is committed, not failed
    row = project.ledger().iloc[-1]
    assert row["status"] == "succeeded"
    warnings = json.loads(row["stats"])["warnings"]
    assert any(w.startswith(f"publish of {DAYS[2]} to Redis failed, the previous day stays current") for w in warnings), warnings
    assert current_day(redis_server) == DAYS[1].isoformat()
    again = project.cli("publish", "churn", "--date", DAYS[2].isoformat())
    assert again.code == 1 and again.last_err_line.startswith(f"error: churn {DAYS[2]}: Redis ")
    project.write_job("churn", publish={"kind": "redis", "url": redis_server.url, "ttl_days": TTL_DAYS})
    done = project.cli("publish", "churn", "--date", DAYS[2].isoformat())
    assert done.code == 0, done.err
    assert done.out.startswith(f"published churn {DAYS[2]}: 500 scores of run {row['run_id']}")
    assert current_day(redis_server) == DAYS[2].isoformat()


def test_a_failed_publish_is_redone_by_the_next_run(project, redis_server):
    unreachable(project, redis_server)
    assert project.cli("run", "churn", "--date", DAYS[2].isoformat()).code == 0
    assert current_day(redis_server) is None
    project.write_job("churn", publish={"kind": "redis", "url": redis_server.url, "ttl_days": TTL_DAYS})
    result = project.cli("run", "churn", "--date", DAYS[1].isoformat())
    assert result.code == 0, result.err
    assert current_day(redis_server) == DAYS[2].isoformat()
    client = redis_server.client()
    assert client.get(f"batchscore:churn:day:{DAYS[1]}") is not None


def test_publish_of_a_day_never_committed_says_so(project, redis_server):
    result = project.cli("publish", "churn", "--date", DAYS[0].isoformat())
    assert result.code == 1
    assert "the output" in result.last_err_line and "Traceback" not in result.err


def test_lookups_fall_back_to_the_output_when_redis_is_down(project, redis_server):
    assert project.cli("run", "churn", "--date", DAYS[2].isoformat()).code == 0
    unreachable(project, redis_server)
    server = start_server(project)
    try:
        status, body = server.request("GET", "/v1/jobs/churn/scores/42")
        assert status == 200 and body["source"] == "sql" and body["score"] == committed(project, DAYS[2])[42]
        assert "Redis reading failed" in server.logs()
    finally:
        stop_server(server)


def test_publishing_the_current_day_again_never_touches_what_readers_use(project, redis_server):
    assert project.cli("run", "churn", "--date", DAYS[2].isoformat()).code == 0
    client = redis_server.client()
    before = client.get("batchscore:churn:current").decode().split("|", 1)[1]
    assert project.cli("publish", "churn", "--date", DAYS[2].isoformat()).code == 0
    after = client.get("batchscore:churn:current").decode().split("|", 1)[1]
    assert after != before and client.hlen(after) == N_CUSTOMERS
    assert client.hlen(before) == N_CUSTOMERS and 0 < client.ttl(before) <= 60  # intact, expiring
