"""How many scoring processes a pandas run uses, and how many threads each may run.

``workers: auto`` decides from the cores this process may use (its CPU affinity, capped by
a cgroup CPU quota) and the model: a pipeline whose predict already runs on several threads
(OpenMP in HistGradientBoosting, an estimator with ``n_jobs``) is scored in the run's own
process on every core; a single-threaded one in one process per core but one, the core left
to the run's reader and writer threads (on 2 cores: 1 process, which measured faster than 2).
The rule and the measurements behind it: docs/configuration.md (``workers``) and
benchmarks/RESULTS.md.

Whatever the count, threads are capped so that workers x threads per worker <= cores:
OpenMP and BLAS otherwise start one thread per core in every worker, and a two-worker HGB run
on two cores ran four threads.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from jobs.vocabulary import WORKERS_AUTO

CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class WorkerPlan:
    """The run's scoring processes, as the ledger records them (``stats.pandas``)."""

    setting: int | str  # the job's workers: a number or auto
    workers: int  # processes scoring chunks; 1: in the run's own process
    threads_per_worker: int  # OpenMP/BLAS threads each may run
    cores: int  # usable cores seen
    threaded_model: bool | None  # the pipeline's predict runs threads of its own (None: not asked, a number was set)
    row_threads: int = 1  # threads each predicting a slice of a chunk's rows in one process (jobs.engines.row_threads); 1: off

    def to_json(self) -> dict:
        return asdict(self)


def plan_workers(setting: int | str, pipeline, cores: int | None = None) -> WorkerPlan:
    """The workers and threads for ``setting`` (a number, or ``auto``) and ``pipeline``."""
    cores = usable_cores() if cores is None else cores
    threaded = None
    if setting == WORKERS_AUTO:
        # Asked only for auto: a custom estimator whose get_params fails still runs with a number.
        threaded = threaded_predict(pipeline)
        workers = 1 if threaded else max(1, cores - 1)
    else:
        workers = int(setting)
    threads = max(1, cores // workers)
    # One process, several threads, a model whose predict is scikit-learn's OpenMP loop: its
    # threads each take a slice of the chunk's rows instead of meeting at every tree.
    row_threads = threads if workers == 1 and threads > 1 and openmp_predict(pipeline) else 1
    return WorkerPlan(setting, workers, threads, cores, threaded, row_threads)


def usable_cores(cgroup: Path = CGROUP) -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (a
    container's ``--cpus``), rounded down, at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota(cgroup)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """CPUs' worth of time the cgroup may use (cgroup v2 ``cpu.max``, v1 ``cfs_quota_us`` /
    ``cfs_period_us``); None without a quota."""
    v2 = root / "cpu.max"
    if v2.is_file():
        quota, _, period = v2.read_text().strip().partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100_000)
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        if (v1 / "cpu.cfs_quota_us").is_file():
            quota = int((v1 / "cpu.cfs_quota_us").read_text())
            return None if quota <= 0 else quota / int((v1 / "cpu.cfs_period_us").read_text())
    return None


# Estimators whose predict runs OpenMP threads of their own (scikit-learn's HistGradientBoosting).
OPENMP_PREDICT = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")


def openmp_predict(pipeline) -> bool:
    """Whether ``pipeline``'s final estimator is scikit-learn's HistGradientBoosting (or a
    subclass), whose predict is an OpenMP loop over the rows, one row at a time through each
    tree. A compiled runtime's final step is not."""
    steps = getattr(pipeline, "steps", None)
    return _openmp_estimator(steps[-1][1] if steps else pipeline)


def _openmp_estimator(part) -> bool:
    """``part`` is scikit-learn's HistGradientBoosting or a subclass of it."""
    return any(cls.__name__ in OPENMP_PREDICT for cls in type(part).__mro__)


def threaded_predict(pipeline) -> bool:
    """Whether ``pipeline`` (or an estimator inside it) predicts on several threads itself."""
    params = pipeline.get_params(deep=True) if hasattr(pipeline, "get_params") else {}
    parts = [pipeline, *params.values()]
    if any(_openmp_estimator(part) for part in parts):
        return True
    jobs = [value for key, value in params.items() if key == "n_jobs" or key.endswith("__n_jobs")]
    return any(value is not None and value != 1 for value in jobs)
