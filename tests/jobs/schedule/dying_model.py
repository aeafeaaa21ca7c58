"""Models that kill the process scoring them: ``os._exit``, SIGKILL, or allocating without
bound under an address-space limit (RLIMIT_AS). Importable by the daemon's children (pickled
by reference to this module)."""

from __future__ import annotations

import os
import resource
import signal

import numpy as np

from tests.jobs.helpers import Wrapper

MEMORY_HEADROOM = 512 * 1024 * 1024  # bytes the child may still map once the model starts eating


class DyingClassifier(Wrapper):
    def __init__(self, inner=None, how: str = "exit"):
        self.inner = inner
        self.how = how

    def predict_proba(self, X):
        if self.how == "exit":
            os._exit(70)  # no cleanup, no exception, no ledger update
        if self.how == "signal":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "memory":
            _eat_memory()
        return self.inner.predict_proba(X)

    def predict(self, X):
        return self.inner.predict(X)


def _eat_memory() -> None:
    """Cap this process's address space a little above what it maps now, then allocate (and
    touch) 64 MiB blocks until the cap says no."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    cap = mapped + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    hog = []
    while True:
        hog.append(np.ones(8 * 1024 * 1024))  # MemoryError once the cap is reached


def register_dying(registry, how: str, alias: str = "production") -> int:
    """The production churn model, wrapped to die ``how``, as a new version under ``alias``
    (without a training frame: its reference scores would be predicted here, and kill us)."""
    base = registry.load(registry.resolve("churn", "production")).pipeline
    dying = DyingClassifier(base, how).fit(None)
    return registry.register("churn", dying, alias=alias)
