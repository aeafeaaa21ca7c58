"""Run one command and report its wall time and peak RSS as JSON (the benchmark's probe).

    python -m benchmarks.measure -- COMMAND ARGS...

A fresh process per measurement: ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the largest peak of
any child this process waited for, so it is the command's own peak only if the command is
its only child. (A command's worker processes count as children of the command; the figure
is then the largest single process, not their sum.)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    sys.stdout.write(
        json.dumps(
            {"returncode": done.returncode, "wall_s": wall, "peak_rss_mib": peak_kib / 1024,
             "stdout": done.stdout[-4000:], "stderr": done.stderr[-4000:]}
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
