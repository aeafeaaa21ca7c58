"""The promotion gate: may a candidate version replace the main model of a job?

Rules, each with its figure and its limit (``gate:`` in the job file):

- days: the candidate has at least ``min_days`` evaluated shadow days on the job;
- metric drop: on those days its realized metric (``jobs.lifecycle.evaluation.PRIMARY_METRIC``,
  weighted by rows) is no worse than the main model's by more than ``max_metric_drop``;
- psi: its score PSI against the main model, read from the runs' ledger stats
  (``stats["shadow"][version]["psi"]``), stays under ``max_psi`` on every one of those days
  (a day without the figure fails the rule: the gate passes on evidence only);
- failures: none of those days' runs failed, nor their shadow scoring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from jobs.config import JobConfig
from jobs.errors import UsageError
from jobs.lifecycle.evaluation import MAIN, SHADOW, Evaluation, EvaluationStore, PrimaryMetric
from jobs.ledger import Ledger
from jobs.run_stats import RunStats, ShadowComparison
from jobs.vocabulary import RunStatus
from pipelines.settings import Settings


@dataclass(frozen=True)
class Rule:
    name: str
    figure: str
    limit: str
    passed: bool


@dataclass(frozen=True)
class GateVerdict:
    job: str
    model: str
    version: int
    passed: bool
    rules: tuple[Rule, ...]
    days: tuple[str, ...]  # the candidate's evaluated shadow days

    def to_json(self) -> dict:
        data = asdict(self)
        data["rules"] = [asdict(r) for r in self.rules]
        data["days"] = list(self.days)
        return data


def check_gate(job: JobConfig, name: str, version: int, settings: Settings) -> GateVerdict:
    """Judge ``name`` v``version`` on the job's evaluations and ledger; nothing is changed."""
    if job.pipeline.name != name:
        raise UsageError(
            f"job {job.name} scores model {job.pipeline.name}, not {name}",
            hint="gate a promotion on a job that scores this model",
        )
    gate = job.gate
    store = EvaluationStore(settings.state_url)
    shadow = store.rows(job.name, model_name=name, model_version=version, role=SHADOW)
    days = sorted({r.score_date for r in shadow})
    main = store.rows(job.name, role=MAIN, start=days[0], end=days[-1]) if days else []
    runs = Ledger(settings.state_url).latest_per_day(job.name, days[0], days[-1]) if days else {}
    runs = {d: r for d, r in runs.items() if d in set(days)}
    rules = (
        Rule("days", f"{len(days)} evaluated shadow day(s)", f">= {gate.min_days} (gate.min_days)", len(days) >= gate.min_days),
        _metric_rule(shadow, [r for r in main if r.score_date in set(days)], gate.max_metric_drop),
        _psi_rule(days, runs, version, gate.max_psi),
        _failure_rule(days, runs, version),
    )
    return GateVerdict(
        job=job.name, model=name, version=version, passed=all(r.passed for r in rules), rules=rules,
        days=tuple(d.isoformat() for d in days),
    )


def _weighted(rows: list[Evaluation]) -> PrimaryMetric | None:
    """The rows' primary metric, averaged with their row counts as weights."""
    total = weight = 0.0
    found = None
    for row in rows:
        metric = row.primary
        if metric is None or metric.value is None:
            continue
        found = metric
        total += metric.value * row.n
        weight += row.n
    return None if found is None or not weight else found._replace(value=total / weight)


def _metric_rule(shadow: list[Evaluation], main: list[Evaluation], max_drop: float) -> Rule:
    limit = f"drop <= {max_drop:g} (gate.max_metric_drop)"
    both = {r.score_date for r in main} & {r.score_date for r in shadow}
    candidate = _weighted([r for r in shadow if r.score_date in both])
    incumbent = _weighted([r for r in main if r.score_date in both])
    if candidate is None or incumbent is None:
        return Rule("metric", "no day with realized metrics of both the candidate and the main model", limit, False)
    metric = candidate.name
    drop = incumbent.value - candidate.value if candidate.higher_is_better else candidate.value - incumbent.value
    figure = f"{metric} {candidate.value:.4f} vs main {incumbent.value:.4f} on {len(both)} day(s): drop {drop:+.4f}"
    return Rule("metric", figure, limit, drop <= max_drop)


def _shadow_stats(run: dict | None, version: int) -> ShadowComparison:
    """The version's shadow figures in a day's decisive ledger row (empty: none recorded)."""
    stats = RunStats.from_json(run["stats"]) if run is not None else RunStats()
    return stats.shadow.get(str(version)) or ShadowComparison()


def _psi_rule(days: list[date], runs: dict[date, dict], version: int, max_psi: float) -> Rule:
    limit = f"< {max_psi:g} on every day (gate.max_psi)"
    values = {d: _shadow_stats(runs.get(d), version).psi for d in days}
    missing = [d for d, v in values.items() if v is None]
    known = [v for v in values.values() if v is not None]
    if not days:
        return Rule("psi", "no shadow day", limit, False)
    worst = max(known) if known else None
    figure = "max psi " + ("n/a" if worst is None else f"{worst:.4f}")
    if missing:
        figure += f"; not recorded on {len(missing)} day(s) ({', '.join(map(str, missing[:3]))}{'...' if len(missing) > 3 else ''})"
    return Rule("psi", figure, limit, not missing and worst is not None and worst < max_psi)


def _failure_rule(days: list[date], runs: dict[date, dict], version: int) -> Rule:
    # A shadow that failed to resolve, load or score is recorded with its ``error`` (jobs.shadow).
    failed = [
        d for d in days
        if runs.get(d) is None or runs[d]["status"] != RunStatus.SUCCEEDED.value or _shadow_stats(runs[d], version).error
    ]
    figure = f"{len(failed)} failed run(s)" + (f": {', '.join(map(str, failed[:3]))}" if failed else "")
    return Rule("failures", figure, "0", bool(days) and not failed)
