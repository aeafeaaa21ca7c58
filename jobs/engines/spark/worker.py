"""The pipeline on a Spark executor: unpickled from the broadcast bytes once per Python worker,
after their sha256 is checked against the registry's record."""

from __future__ import annotations

from pipelines.model import unpickle

# Pipelines unpickled in this Python worker, by sha256 (checked before they were kept). Spark
# reuses its Python workers from task to task and from run to run on one context (a backfill),
# so each worker unpickles a pipeline once, not once per partition and day.
_PIPELINES: dict[str, object] = {}
_KEEP_PIPELINES = 4  # the main model and its shadows (pipeline.shadow)


def executor_pipeline(model, version):
    """The pipeline of ``version`` on an executor: from this worker's cache, or unpickled from
    the broadcast bytes after their sha256 is checked against the registry's."""
    pipeline = _PIPELINES.get(version.sha256)
    if pipeline is None:
        pipeline = unpickle(model.value, version)  # raises ModelIntegrityError on a mismatch
        while len(_PIPELINES) >= _KEEP_PIPELINES:
            _PIPELINES.pop(next(iter(_PIPELINES)))
        _PIPELINES[version.sha256] = pipeline
    return pipeline


def forget_pipelines() -> None:
    """Empty this worker's cache: the next task unpickles (and checks) the broadcast again."""
    _PIPELINES.clear()
