"""Commands of the model registry: pipeline list, show, register (promote and history:
jobs.cli.lifecycle)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from jobs.cli.common import print_table, resolve_settings
from jobs.errors import EXIT_OK, UsageError
from pipelines.basics import json_default

log = logging.getLogger("batchscore")


def cmd_pipeline_list(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(resolve_settings(args).models_root)
    table = []
    for name in registry.names():
        aliases = registry.aliases(name)
        for mv in registry.versions(name):
            tags = ",".join(a for a, v in sorted(aliases.items()) if v == mv.version)
            table.append([name, str(mv.version), tags, mv.task, mv.created_at[:19], _metrics_text(mv.metrics)])
    print_table(["model", "version", "aliases", "task", "created_at", "metrics"], table)
    return EXIT_OK


def cmd_pipeline_show(args) -> int:
    """One version's record (by number or alias); without one, every version and the aliases."""
    from pipelines.registry import Registry

    registry = Registry(resolve_settings(args).models_root)
    if args.version is None:
        versions = registry.versions(args.name)  # an unknown name: the error lists the models
        shown = {
            "name": args.name,
            "aliases": dict(sorted(registry.aliases(args.name).items())),
            "versions": [_record(registry, mv) for mv in versions],
        }
        print(json.dumps(shown, indent=2, default=json_default))
        return EXIT_OK
    print(json.dumps(_record(registry, registry.resolve(args.name, args.version)), indent=2, default=json_default))
    return EXIT_OK


def _record(registry, mv) -> dict:
    return {
        "name": mv.name,
        "version": mv.version,
        "aliases": sorted(a for a, v in registry.aliases(mv.name).items() if v == mv.version),
        "task": mv.task,
        "classes": list(mv.classes) if mv.classes else None,
        "sha256": mv.sha256,
        "features": [{"name": f.name, "dtype": f.dtype} for f in mv.features],
        "library_versions": mv.library_versions,
        "metrics": mv.metrics,
        "reference": None if mv.reference is None else mv.reference.to_json(),
        "created_at": mv.created_at,
        "train_start": mv.train_start,
        "train_end": mv.train_end,
        "path": str(mv.model_path),
        # What scores its final estimator; treelite: the library, its sha256 and its check.
        "runtime": mv.runtime.kind if mv.runtime else "sklearn",
        "runtime_library": {**mv.runtime.to_json(), "path": str(mv.library_path)} if mv.runtime else None,
    }


def cmd_pipeline_register(args) -> int:
    from pipelines.registry import Registry

    registry = Registry(resolve_settings(args).models_root)
    frame = None
    if args.training_data is not None:
        frame = _read_training(args.training_data)
    version = registry.register_file(args.name, args.file, alias=args.alias, training_frame=frame, runtime=args.runtime)
    log.info("registered %s v%d%s (runtime %s)", args.name, version, f" as {args.alias}" if args.alias else "", args.runtime)
    print(version)
    return EXIT_OK


def _read_training(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowInvalid) as exc:
        raise UsageError(f"cannot read training data {path}: {exc}", hint="give a Parquet file") from exc


def _metrics_text(metrics: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items()))

