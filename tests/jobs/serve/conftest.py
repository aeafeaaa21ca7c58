"""A served project: three pipelines (binary, multiclass, regression) scored in batch, a real
``batchscore serve`` process on a free loopback port, and a real ``redis-server``.

The day scored has missing values and categories no pipeline was fitted on, in the rows the
batch run commits and the online path replays. The helpers (``start_server``, ``Server``,
``RedisServer`` ...) are in ``tests/jobs/serve/helpers.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.helpers import Project
from tests.jobs.serve.helpers import DAY, RedisServer, dirty_the_day, free_port, register_other_models, write_jobs


@pytest.fixture(scope="module")
def served_template(project_template, tmp_path_factory) -> Path:
    """The project with three models and a dirty day, every job scored for it (built once)."""
    root = tmp_path_factory.mktemp("served") / "project"
    shutil.copytree(project_template, root)
    project = Project(root)
    register_other_models(project)
    dirty_the_day(project)
    write_jobs(project)
    for job in ("churn", "tier", "charges"):
        result = project.cli("run", job, "--date", DAY.isoformat())
        assert result.code == 0, result.err
    return root


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A real redis-server (Debian's) on a free loopback port, with its files in a temp dir."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/setup installs Debian's redis-server)", pytrace=False)
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    server = RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
    deadline = time.monotonic() + 20
    while True:
        try:
            if server.client().ping():
                break
        except Exception:  # not up yet
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server did not start: {process.stdout.read().decode()[-2000:]}", pytrace=False)
            time.sleep(0.1)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
