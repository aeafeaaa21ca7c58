"""The report's model-lifecycle sections: realized metrics per day and version (from
``batchscore evaluate``) and the shadow versions' figures against the main scores (from the
runs' ledger stats). Plain data first (``realized_data``, ``shadow_data``), then HTML.

The metric shown is each evaluation's primary one (``jobs.lifecycle.evaluation.primary``: the
one the promotion gate judges on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from jobs.lifecycle.evaluation import MAIN, Evaluation
from jobs.report.cells import escaped as _e
from jobs.report.cells import number as _num
from jobs.run_stats import RunStats

SHADOW_FIGURES = ("psi", "spearman", "top_decile_overlap", "mean_abs_diff")


def realized_data(evaluations: Sequence[Evaluation]) -> dict:
    """The realized primary metric per day, version and role; ``metric`` None: no evaluation."""
    metrics = [e.primary for e in evaluations if e.primary is not None]
    metric = metrics[0] if metrics else None
    rows = []
    for e in sorted(evaluations, key=lambda e: (e.score_date, e.role != MAIN, e.model_name, e.model_version)):
        value = e.metrics.get(metric.name) if metric else None
        rows.append({"day": e.score_date.isoformat(), "model_name": e.model_name, "model_version": e.model_version,
                     "role": e.role, "n": e.n, "value": value})
    return {"metric": metric and metric.name, "higher_is_better": metric and metric.higher_is_better, "rows": rows}


def shadow_data(latest: Mapping[date, dict]) -> list[dict]:
    """Per day (the decisive run) and shadow version: its figures against the main scores."""
    out = []
    for day in sorted(latest):
        shadows = RunStats.from_json(latest[day]["stats"]).shadow
        for key in sorted(shadows, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
            figures = shadows[key]
            out.append({
                "day": day.isoformat(), "version": key, "model": figures.model, "rows": figures.rows,
                **{name: getattr(figures, name) for name in SHADOW_FIGURES}, "error": figures.error,
            })
    return out


def realized_html(data: dict, plot: str | None) -> str:
    """The realized-metrics section's body: the plot (``plot``, an <img>) and its table."""
    realized = data["realized"]
    if not realized["rows"]:
        return ("<p class='none'>No realized metrics yet: no day of this period has been evaluated "
                "(<code>batchscore evaluate JOB</code> measures scored days once their labels mature).</p>")
    metric = realized["metric"] or "metric"
    main = {(r["day"]): r["value"] for r in realized["rows"] if r["role"] == MAIN}
    rows = []
    for r in realized["rows"]:
        base = main.get(r["day"])
        delta = r["value"] - base if r["role"] != MAIN and r["value"] is not None and base is not None else None
        rows.append(
            f"<tr class='{_e(r['role'])}'><td>{r['day']}</td><td>{_e(r['model_name'])} v{r['model_version']}</td>"
            f"<td>{_e(r['role'])}</td><td>{_num(r['n'])}</td><td>{_num(r['value'], 4)}</td>"
            f"<td>{'–' if delta is None else f'{delta:+.4f}'}</td></tr>"
        )
    better = "higher is better" if realized["higher_is_better"] else "lower is better"
    return (
        f"<p class='help'>Metric: <b>{_e(metric)}</b> ({better}), measured on the rows whose label has matured.</p>"
        + (plot or "")
        + f"<table><tr><th>day</th><th>model</th><th>role</th><th>rows with a label</th><th>{_e(metric)}</th>"
        "<th>shadow minus main</th></tr>" + "".join(rows) + "</table>"
    )


def shadow_html(data: dict) -> str:
    """The shadow section's body: one row per day and shadow version."""
    shadows, max_psi = data["shadow"], data["thresholds"]["gate"]["max_psi"]
    if not shadows:
        return ("<p class='none'>No shadow scores yet: no run of this period scored a shadow version "
                "(<code>pipeline.shadow</code> in the job file).</p>")
    rows = []
    for s in shadows:
        css = "bad" if s["error"] else "warn" if (s["psi"] or 0) > max_psi else ""
        rows.append(
            f"<tr class='{css}'><td>{s['day']}</td><td>{_e(s['model'] or '')} v{_e(s['version'])}</td>"
            f"<td>{_num(s['rows'])}</td><td>{_num(s['psi'], 4)}</td><td>{_num(s['spearman'], 4)}</td>"
            f"<td>{_num(s['top_decile_overlap'], 4)}</td><td>{_num(s['mean_abs_diff'], 4)}</td>"
            f"<td>{_e(s['error'] or '')}</td></tr>"
        )
    return (
        f"<p class='help'>Each shadow version against the main model's scores of the same rows: PSI of the "
        f"score distributions (the promotion gate wants it under {max_psi:g} every day), Spearman rank correlation, "
        "the share of the main model's top 10% also in the shadow's top 10%, and the mean absolute difference.</p>"
        "<table><tr><th>day</th><th>shadow</th><th>rows</th><th>PSI</th><th>Spearman</th><th>top-decile overlap</th>"
        "<th>mean abs difference</th><th>left out because</th></tr>" + "".join(rows) + "</table>"
    )
