"""A fitted pipeline wrapped by batchscore: ``predict`` and ``predict_proba`` go through the
wrapper's ``_call(method, X)``; every other attribute (``steps``, ``classes_``,
``named_steps``...) is the wrapped pipeline's. The feature plan (``pipelines.planned``) and
the pandas engine's row slices (``jobs.engines.row_threads``) are such wrappers."""

from __future__ import annotations

import numpy as np


class Delegating:
    """Subclasses set ``pipeline`` and name their own attributes in ``OWN`` (never looked up
    on the pipeline: an instance being unpickled has none yet)."""

    OWN: tuple[str, ...] = ("pipeline",)
    pipeline: object

    def __getattr__(self, name: str):
        if name.startswith("__") or name in self.OWN:
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def predict_proba(self, X) -> np.ndarray:
        return self._call("predict_proba", X)

    def predict(self, X) -> np.ndarray:
        return self._call("predict", X)

    def _call(self, method: str, X) -> np.ndarray:
        raise NotImplementedError
