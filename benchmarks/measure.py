"""Run one command and report its wall time, CPU time and peak memory as JSON (the benchmark's probe).

    python -m benchmarks.measure -- COMMAND ARGS...

``peak_rss_mib`` is the peak of the whole process tree: a thread samples the command and every
descendant (worker processes, Spark's JVM and its Python workers) through /proc every
``SAMPLE_S`` seconds and sums their resident sets. Pages shared between processes (a forked
worker's copy-on-write pages) count once per process, as ``ps`` and the kernel's OOM report
count them. ``peak_rss_single_mib`` is ``RUSAGE_CHILDREN``'s ``ru_maxrss``: the largest
single process's peak (the figure earlier runs of record printed). ``cpu_s`` is the user +
system time of the command and its children; ``machine_cpu_s`` is the busy time of every CPU
of the machine over the run (from /proc/stat), which also counts the database server's work.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time

SAMPLE_S = 0.02  # short enough to catch a chunk's peak (a chunk takes 0.1 s or more to score)
PAGE = os.sysconf("SC_PAGE_SIZE")


def machine_busy_s() -> float | None:
    """Seconds every CPU of the machine spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now (children of every thread: a thread that forks
    lists its child under its own task)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(c) for c in children.read().split())
            except OSError:
                pass
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0  # gone between the listing and the read


class TreeSampler:
    """The largest sum of resident sets of a process tree seen while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.pid)
            total = sum(rss_bytes(p) for p in pids)
            if total > self.peak:
                self.peak, self.peak_processes = total, len(pids)
            self._stop.wait(SAMPLE_S)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    busy = machine_busy_s()
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeSampler(process.pid) as sampler:
        stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    after = machine_busy_s()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stdout.write(
        json.dumps(
            {"returncode": process.returncode, "wall_s": wall, "peak_rss_mib": sampler.peak / 2**20,
             "peak_processes": sampler.peak_processes, "peak_rss_single_mib": usage.ru_maxrss / 1024,  # KiB on Linux
             "cpu_s": usage.ru_utime + usage.ru_stime,
             "machine_cpu_s": None if busy is None or after is None else after - busy,
             "stdout": stdout[-4000:], "stderr": stderr[-4000:]}
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
