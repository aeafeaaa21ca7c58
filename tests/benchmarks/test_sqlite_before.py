"""The benchmark's "before" SQLite run patches batchscore by name: every name must still exist,
or the benchmark's SQLite target is measured against nothing (it refuses to run then)."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.sqlite_before import PATCHED
from tests.jobs.helpers import REPO


def test_every_name_the_before_run_patches_exists():
    missing = [f"{module.__name__}.{name}" for module, name in PATCHED if not hasattr(module, name)]
    assert not missing


def test_the_before_run_starts():
    done = subprocess.run([sys.executable, "-m", "benchmarks.sqlite_before", "--help"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "usage: batchscore" in done.stdout
