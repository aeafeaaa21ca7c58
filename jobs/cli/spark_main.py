"""The spark-submit entry: score one day of a job on the cluster spark-submit names.

    spark-submit --master local[2] --py-files batchscore.zip jobs/cli/spark_main.py churn_daily --date 2026-11-27
    spark-submit ... jobs/cli/spark_main.py backfill churn_daily --start 2026-11-01 --end 2026-11-27

(``scripts/spark-submit`` builds the zip of jobs/ and pipelines/ and adds the JDBC jars.)
The arguments are those of ``batchscore run`` (or, after ``backfill``, of ``batchscore
backfill``); the engine is always spark, and this is the same code path as ``batchscore run
JOB --engine spark``: lock, ledger and swap on the driver.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import main as cli_main
    from jobs.vocabulary import Engine

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["backfill"]:  # every day of a range, on this one Spark context
        return cli_main([*args, "--engine", Engine.SPARK])
    return cli_main(["run", *args, "--engine", Engine.SPARK])


if __name__ == "__main__":
    # Run as a script, this file puts jobs/ itself first on sys.path, where its modules
    # (config, db, stats...) would shadow top-level ones of the same name.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.exit(main())
