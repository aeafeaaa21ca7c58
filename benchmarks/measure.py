"""Run one command and report its wall time, CPU time and peak RSS as JSON (the benchmark's probe).

    python -m benchmarks.measure -- COMMAND ARGS...

A fresh process per measurement: ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the largest peak of
any child this process waited for, so it is the command's own peak only if the command is
its only child. (A command's worker processes count as children of the command; the figure
is then the largest single process, not their sum.) ``cpu_s`` is the user + system time of
the command and its children; ``machine_cpu_s`` is the busy time of every CPU of the machine
over the run (from /proc/stat), which also counts the database server's work for the command.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def machine_busy_s() -> float | None:
    """Seconds every CPU of the machine spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    busy = machine_busy_s()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = machine_busy_s()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stdout.write(
        json.dumps(
            {"returncode": done.returncode, "wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
             "cpu_s": usage.ru_utime + usage.ru_stime,
             "machine_cpu_s": None if busy is None or after is None else after - busy,
             "stdout": done.stdout[-4000:], "stderr": done.stderr[-4000:]}
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
