"""The status page at / in headless Chromium: each job's last runs, model served, next fire
and a link to its report, which is ``batchscore report``'s own HTML."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.jobs.helpers import DAYS, Project
from tests.jobs.serve.helpers import DAY, start_server, stop_server

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed (scripts/setup installs Debian's chromium)", pytrace=False)
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def served(served_template, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(served_template, root)
    project = Project(root)
    project.write_job("churn", schedule="0 2 * * *", quality={"max_null_fraction": 0.0})
    failed = project.cli("run", "churn", "--date", DAYS[1].isoformat())  # stopped by its null check
    assert failed.code == 1
    server = start_server(project)
    yield project, server
    stop_server(server)


def test_the_status_page_shows_each_jobs_runs_model_next_fire_and_report_link(served, tmp_path):
    _project, server = served
    done = chromium(tmp_path, "--dump-dom", server.url + "/")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for job in ("churn", "tier", "charges"):
        assert f"<h2 id=\"job-{job}\">{job}</h2>" in dom
        assert f'href="/jobs/{job}/report"' in dom
    assert "serving churn v1" in dom and "serving tier v1" in dom
    assert "schedule <code>0 2 * * *</code>" in dom and "next fire 20" in dom
    assert f"<td>{DAY}</td><td class=\"succeeded\">succeeded</td><td>500</td>" in dom
    assert f"<td>{DAYS[1]}</td><td class=\"failed\">failed</td>" in dom
    assert "null_fraction" in dom  # the failed run's error
    shot = tmp_path / "status.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", server.url + "/")
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]


def test_the_report_link_serves_batchscore_reports_html(served, tmp_path):
    project, server = served
    status, html = server.request("GET", "/jobs/tier/report")
    assert status == 200
    assert html == project.cli("report", "tier").out
    done = chromium(tmp_path, "--dump-dom", server.url + "/jobs/churn/report")
    assert done.returncode == 0 and "churn" in done.stdout and "<img" in done.stdout
    assert server.request("GET", "/jobs/nope/report")[0] == 404
