"""Where a day's time goes, stage by stage, with batchscore's own components run one after
the other (no overlap): read, convert (Arrow -> pandas, conform), predict, output (Arrow
rows), write (the sink, its commit included).

    python -m benchmarks.profile CONFIG_DIR MODELS JOB DAY
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from datetime import date, datetime, timezone

from jobs import config as config_mod
from jobs.output import Lineage, output_batch, output_schema
from pipelines.spec import conform, predict
from jobs.sinks import open_sink
from jobs.sources import open_source
from pipelines.registry import Registry


def profile(config_dir: str, models: str, job_name: str, day: date) -> dict:
    seconds = {"model_load": 0.0, "read": 0.0, "convert": 0.0, "predict": 0.0, "output": 0.0, "write": 0.0}
    mark = time.perf_counter()
    job = config_mod.load_named(Path(config_dir), job_name)
    registry = Registry(models)
    version = registry.resolve(job.pipeline.name, job.pipeline.version)
    pipeline = registry.load(version).pipeline
    seconds["model_load"] = time.perf_counter() - mark
    spec = version.spec
    wanted = list(dict.fromkeys([*job.id_columns, *job.passthrough, *spec.feature_names]))
    source = open_source(job.source, chunk_size=job.chunk_size, wanted=wanted)
    lineage = Lineage(day, version.name, version.version, "profile", datetime.now(timezone.utc))
    batches = iter(source.iter_batches(day))
    mark = time.perf_counter()
    first = next(batches)
    seconds["read"] += time.perf_counter() - mark
    schema = output_schema([first.schema.field(n) for n in job.id_columns], [first.schema.field(n) for n in job.passthrough], spec.task)

    def timed(name, fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        seconds[name] += time.perf_counter() - start
        return value

    def scored():
        batch = first
        while batch is not None:
            features = timed("convert", lambda b: conform(b.select(spec.feature_names).to_pandas(), spec), batch)
            scores, labels = timed("predict", predict, pipeline, features, spec, 1)
            yield timed("output", output_batch, batch, schema, scores, labels, lineage)
            batch = timed("read", next, batches, None)

    before = dict(seconds)
    mark = time.perf_counter()
    rows = open_sink(job.output).replace_day(day, schema, scored())
    in_generator = sum(seconds[k] - before[k] for k in ("read", "convert", "predict", "output"))
    seconds["write"] = time.perf_counter() - mark - in_generator
    return {"rows": rows, **{k: round(v, 3) for k, v in seconds.items()}}


def main(argv: list[str]) -> int:
    config_dir, models, job, day = argv
    sys.stdout.write(json.dumps(profile(config_dir, models, job, date.fromisoformat(day))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
