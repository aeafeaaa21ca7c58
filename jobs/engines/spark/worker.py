"""The pipeline on a Spark executor: loaded from the broadcast handle once per Python worker,
after its bytes' sha256 is checked against the registry's record."""

from __future__ import annotations

from pipelines.model import check_sha256

# Pipelines unpickled in this Python worker, by sha256 (checked before they were kept). Spark
# reuses its Python workers from task to task and from run to run on one context (a backfill),
# so each worker unpickles a pipeline once, not once per partition and day.
_PIPELINES: dict[str, object] = {}
_KEEP_PIPELINES = 4  # the main model and its shadows (pipeline.shadow)


def executor_pipeline(model, version):
    """The pipeline of ``version`` on an executor: from this worker's cache, or loaded from the
    broadcast handle after its bytes' sha256 is checked against the registry's."""
    key = f"{version.sha256} {version.runtime.sha256 if version.runtime else ''}"
    pipeline = _PIPELINES.get(key)
    if pipeline is None:
        handle = model.value
        check_sha256(handle.data, version)  # raises ModelIntegrityError on a mismatch
        pipeline = handle.load()  # its compiled runtime too; scikit-learn where it cannot load
        while len(_PIPELINES) >= _KEEP_PIPELINES:
            _PIPELINES.pop(next(iter(_PIPELINES)))
        _PIPELINES[key] = pipeline
    return pipeline


def forget_pipelines() -> None:
    """Empty this worker's cache: the next task unpickles (and checks) the broadcast again."""
    _PIPELINES.clear()
