"""The versions a server scores with, one per job, reloaded when a registry alias moves.

A watcher thread looks at each model's ``aliases.json`` every ``POLL_S`` (its mtime, size
and text). When a job's alias points at a new version, that version is loaded beside the
one serving (``Registry.load`` checks its sha256 before unpickling) and swapped in by one
reference assignment: requests already running keep the ``Served`` they started with. A
version that fails to load leaves the old one serving; the failure is logged and shown by
``/readyz`` until a later alias move loads a version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from jobs.config import JobConfig
from jobs.errors import BatchScoreError, NotServing
from jobs.serve.online import Served
from pipelines.registry import ALIASES_FILE, LoadedModel, ModelVersion, Registry

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often the alias files are looked at: a promote is served within ~2 polls


@dataclass(frozen=True)
class JobState:
    """What /readyz says of a job."""

    served: Served | None
    error: str | None = None  # the last load that failed, while it is not superseded


class ModelStore:
    """The ``Served`` of every job; the constructor does no I/O."""

    def __init__(self, jobs: Mapping[str, JobConfig], registry: Registry, *, poll_s: float = POLL_S) -> None:
        self.jobs = dict(jobs)
        self.registry = registry
        self.poll_s = poll_s
        self._states: dict[str, JobState] = {name: JobState(None, "not loaded yet") for name in self.jobs}
        self._seen: dict[str, tuple | None] = {}  # model name -> fingerprint of its aliases.json
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading (any thread) ------------------------------------------------------------

    def served(self, job: str) -> Served:
        """The version serving ``job`` now; ``NotServing`` when none could be loaded."""
        state = self._states[job]
        if state.served is None:
            raise NotServing(
                f"no model loaded for job {job}: {state.error}",
                hint="fix the model or the alias, then promote a version that loads",
            )
        return state.served

    def states(self) -> dict[str, JobState]:
        return dict(self._states)

    @property
    def ready(self) -> bool:
        return all(state.served is not None for state in self._states.values())

    # --- loading -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load every job whose alias file changed since the last look (all, the first time)."""
        changed = set()
        for model in {job.pipeline.name for job in self.jobs.values()}:
            mark = self._fingerprint(model)
            if model not in self._seen or self._seen[model] != mark:
                self._seen[model] = mark
                changed.add(model)
        for name, job in self.jobs.items():
            if job.pipeline.name in changed:
                self._load(name, job)

    def _fingerprint(self, model: str) -> tuple | None:
        path = self.registry.root / model / ALIASES_FILE
        try:
            stat = path.stat()
            return (stat.st_mtime_ns, stat.st_size, path.read_bytes())
        except OSError:
            return None

    def _load(self, name: str, job: JobConfig) -> None:
        state = self._states[name]
        current = state.served
        try:
            version = self.registry.resolve(job.pipeline.name, job.pipeline.version)
            if current is not None and current.version.version == version.version:
                if state.error:
                    self._states[name] = JobState(current)
                return
            new = Served.of(job, self._loaded(version))
        except BatchScoreError as exc:
            exc.in_context(name, None)
            keeping = f"; still serving {current.version.name} v{current.version.version}" if current else ""
            log.error("serve: %s%s", exc, keeping)
            self._states[name] = JobState(current, str(exc))
            return
        self._states[name] = JobState(new)  # the swap: one reference assignment
        for warning in new.warnings:
            log.warning("serve: %s: %s", name, warning)
        was = f" (was v{current.version.version})" if current else ""
        log.info("serve: %s now serves %s v%d%s", name, version.name, version.version, was)

    def _loaded(self, version: ModelVersion) -> LoadedModel:
        # Jobs sharing a version share its pipeline: it is unpickled once.
        for state in self._states.values():
            served = state.served
            if served is not None and served.version.name == version.name and served.version.version == version.version:
                return LoadedModel(served.version, served.pipeline, served.warnings)
        return self.registry.load(version)

    # --- watching ------------------------------------------------------------------------

    def start(self) -> None:
        """Load every job now, then watch the alias files in a daemon thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name="batchscore-model-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any surprise; the old versions keep serving
                log.exception("serve: watching the model registry failed; retrying")
