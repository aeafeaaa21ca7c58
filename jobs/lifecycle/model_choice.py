"""Which model version scores a day, and why (recorded in the run's ledger stats).

``pipeline.resolve: run_start`` (default) takes the alias's target when the run starts;
``as_of_day`` takes the version the alias pointed at at the end of the scored day (its local
midnight, in the job's time zone), from the registry's alias history, so a backfill scores
each past day with the model of that day. A version number names itself either way.

Whatever the choice, a version whose training window ends on or after the scored day has
seen that day's outcomes: it is refused unless ``--pipeline-version`` named it by number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from jobs.config import RESOLVE_AS_OF_DAY, JobConfig
from jobs.errors import ModelLeakage, ModelNotFound
from pipelines.history import target_at
from pipelines.model import ModelVersion
from pipelines.registry import Registry

EXPLICIT, RUN_START, AS_OF_DAY = "explicit", "run_start", "as_of_day"  # how a version was chosen


@dataclass(frozen=True)
class ModelChoice:
    version: ModelVersion
    ref: str  # what was asked for: an alias or a version number
    how: str  # explicit | run_start | as_of_day
    alias_set_at: str | None = None  # as_of_day: when the alias was moved to this version
    note: str | None = None

    def to_json(self) -> dict:
        data = {
            "ref": self.ref, "how": self.how, "version": self.version.version,
            "alias_set_at": self.alias_set_at, "train_end": self.version.train_end, "note": self.note,
        }
        return {k: v for k, v in data.items() if v is not None}


def choose_model(registry: Registry, job: JobConfig, day: date, pipeline_version: str | int | None) -> ModelChoice:
    """The version that scores ``day``; raises ``ModelLeakage`` for a version trained on it."""
    name = job.pipeline.name
    ref = str(pipeline_version if pipeline_version is not None else job.pipeline.version)
    if ref.isdigit():
        choice = ModelChoice(registry.resolve(name, ref), ref, EXPLICIT)
    elif job.pipeline.resolve == RESOLVE_AS_OF_DAY:
        choice = _as_of_day(registry, job, day, ref)
    else:
        choice = ModelChoice(registry.resolve(name, ref), ref, RUN_START)
    named = pipeline_version is not None and str(pipeline_version).isdigit()
    train_end = choice.version.train_end
    if train_end is not None and date.fromisoformat(train_end) >= day and not named:
        raise ModelLeakage(
            f"{choice.version.label} (chosen by {choice.how} from {ref!r}) was trained on data up to "
            f"{train_end}: it has seen this day's outcomes",
            hint=f"score the day with a version trained before it, or name one explicitly with "
                 f"--pipeline-version {choice.version.version}",
        )
    return choice


def _as_of_day(registry: Registry, job: JobConfig, day: date, alias: str) -> ModelChoice:
    name = job.pipeline.name
    moves = [m for m in registry.alias_history(name) if m.alias == alias]
    if not moves:  # a registry from before the history: the alias as it is now
        return ModelChoice(registry.resolve(name, alias), alias, AS_OF_DAY, note="no alias history: current target")
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=job.tz)
    move = target_at(moves, alias, end_of_day)
    if move is None:
        raise ModelNotFound(
            f"alias {alias} of model {name} pointed at no version on {day}: it was first set on "
            f"{moves[0].at:%Y-%m-%d %H:%M} UTC",
            hint="score that day with --pipeline-version N, or use pipeline.resolve: run_start",
        )
    return ModelChoice(registry.resolve(name, move.to_version), alias, AS_OF_DAY, alias_set_at=move.at.isoformat())
