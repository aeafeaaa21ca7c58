"""``batchscore report``: a job's days as one self-contained HTML page (or JSON).

``report_data`` turns the ledger's rows into plain data (one entry per day, the thresholds in
force, where the model changed, the latest run's per-feature figures, the realized metrics and
the shadow versions' figures: ``jobs.report.realized``); ``render_html`` draws
its plots with matplotlib (Agg, PNG embedded as base64: no network needed to view it) into
``template.html``. Nothing here reads the clock or the database.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from importlib import resources
from string import Template

from jobs.config import JobConfig, null_limit
from jobs.schedule.cron import next_fire
from jobs.schedule.days import day_range
from jobs.errors import UsageError
from jobs.lifecycle.evaluation import Evaluation
from jobs.report.cells import escaped as _e, number as _num
from jobs.report.realized import realized_data, realized_html, shadow_data, shadow_html
from jobs.run_stats import RunStats
from jobs.vocabulary import DEFAULT_MAX_NULL_FRACTION, RunStatus

NOT_RUN = "not run"
MODERATE_PSI = 0.1  # the usual "moderate shift" line drawn under the job's own max_psi


def report_data(
    job: JobConfig, latest: dict[date, dict], start: date, end: date, evaluations: Sequence[Evaluation] = (),
) -> dict:
    """Plain, JSON-ready data of the report: ``latest`` is the decisive ledger row per day,
    ``evaluations`` the job's realized metrics of the period (``EvaluationStore.rows``)."""
    days = []
    for day in day_range(start, end):
        row = latest.get(day)
        days.append(_day_entry(day, row))
    changes = []
    previous = None
    for entry in days:
        version = entry["model_version"]
        if version is None:
            continue
        if previous is not None and version != previous:
            changes.append({"day": entry["day"], "from": previous, "to": version})
        previous = version
    ran = [(d, latest[date.fromisoformat(d["day"])]) for d in days if d["status"] != NOT_RUN]
    latest_run = ran[-1] if ran else None
    return {
        "job": job.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "source": f"{job.source.kind} {job.source.describe()}",
        "output": f"{job.output.kind} {job.output.describe()}",
        "model": f"{job.pipeline.name} @ {job.pipeline.version}",
        "thresholds": {"quality": job.quality.model_dump(), "drift": job.drift.model_dump(), "gate": job.gate.model_dump()},
        "days": days,
        "model_changes": changes,
        "latest": _latest(latest_run),
        "realized": realized_data([e for e in evaluations if start <= e.score_date <= end]),
        "shadow": shadow_data({d: r for d, r in latest.items() if start <= d <= end}),
    }


def _day_entry(day: date, row: dict | None) -> dict:
    if row is None:
        return {"day": day.isoformat(), "status": NOT_RUN, "verdict": None, "rows_read": None, "rows_written": None,
                "rows_rejected": None, "model_version": None, "scores": None, "psi_reference": None,
                "psi_previous": None, "findings": [], "error": None, "run_id": None}
    stats = RunStats.from_json(row["stats"])
    scores = stats.scores.to_json() if stats.scores is not None else {}
    return {
        "day": day.isoformat(),
        "status": row["status"],
        "verdict": stats.quality.verdict,
        # A run stopped by a check has no rows_read in the ledger; its monitor counted them.
        "rows_read": row["rows_read"] if row["rows_read"] is not None else stats.quality.rows,
        "rows_written": row["rows_written"] if row["status"] == RunStatus.SUCCEEDED else 0,
        "rows_rejected": row["rows_rejected"],
        "model_version": row["model_version"],
        "scores": {k: scores[k] for k in ("count", "mean", "std", "quantiles") if k in scores} or None,
        "psi_reference": stats.drift.psi_reference,
        "psi_previous": stats.drift.psi_previous,
        "findings": stats.quality.findings,
        "error": row.get("error"),
        "run_id": row.get("run_id"),
    }


def _latest(pair) -> dict | None:
    if pair is None:
        return None
    entry, row = pair
    stats = RunStats.from_json(row["stats"])
    quality, drift = stats.quality, dict(stats.drift.features)
    columns = list(dict.fromkeys([*quality.per_column("null_fraction"), *drift]))
    table = []
    for column in columns:
        out = quality.per_column("out_of_range").get(column)
        table.append({
            "feature": column,
            "null_fraction": quality.per_column("null_fraction").get(column),
            "unseen_category_fraction": quality.per_column("unseen_category_fraction").get(column),
            "unseen_examples": quality.per_column("unseen_categories").get(column, []),
            "out_of_range": None if out is None else out["below"] + out["above"],
            "psi": (drift.get(column) or {}).get("psi"),
        })
    return {"day": entry["day"], "status": entry["status"], "run_id": entry["run_id"], "features": table,
            "distributions": drift}


def render_json(data: dict) -> str:
    return json.dumps(data, indent=2)


# --- HTML ----------------------------------------------------------------------------------

PLOTS = ("rows", "rejects", "scores", "psi", "model", "realized")  # realized: only with evaluations


def render_html(data: dict) -> str:
    """The report as one HTML page; every plot an inline PNG."""
    plots = draw_plots(data)
    template = Template(resources.files("jobs.report").joinpath("template.html").read_text())
    return template.substitute(
        job=_e(data["job"]),
        start=data["start"],
        end=data["end"],
        summary=_summary(data),
        checks=_checks(data),
        **{f"plot_{name}": _img(name, png) for name, png in plots.items() if name != "realized"},
        model_changes=_model_changes(data),
        realized=realized_html(data, _img("realized", plots["realized"]) if "realized" in plots else None),
        shadow=shadow_html(data),
        drift_table=_drift_table(data),
        day_table=_day_table(data),
    )


def draw_plots(data: dict) -> dict[str, bytes]:
    """PNG bytes of each plot in ``PLOTS`` that has something to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError("the HTML report needs matplotlib", hint="pip install 'batchscore[report]', or use --format json") from exc
    from jobs.report import plots as report_plots

    out = {}
    for name in PLOTS:
        fig = getattr(report_plots, name)(plt, data)
        if fig is None:
            continue
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        out[name] = buffer.getvalue()
    return out


def _img(name: str, png: bytes) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img id="plot-{name}" class="plot" alt="{name} per day" src="data:image/png;base64,{encoded}">'


def _summary(data: dict) -> str:
    days = data["days"]
    counts = {s: sum(d["status"] == s for d in days) for s in (RunStatus.SUCCEEDED, RunStatus.FAILED, NOT_RUN)}
    warned = [d["day"] for d in days if d["verdict"] == "warn"]
    failed_checks = [d["day"] for d in days if d["verdict"] == "fail"]
    items = [
        f"<li>Scores rows of <b>{_e(data['source'])}</b> with the model <b>{_e(data['model'])}</b> into <b>{_e(data['output'])}</b>.</li>",
        f"<li>{len(days)} days: {counts[RunStatus.SUCCEEDED]} succeeded, {counts[RunStatus.FAILED]} failed, {counts[NOT_RUN]} not run.</li>",
    ]
    if failed_checks:
        items.append(f"<li class='bad'>Stopped by a data check (nothing written): {_e(', '.join(failed_checks))}.</li>")
    if warned:
        items.append(f"<li class='warn'>Written, with a warning from a check: {_e(', '.join(warned))}.</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _checks(data: dict) -> str:
    q = data["thresholds"]["quality"]
    d = data["thresholds"]["drift"]
    nulls = q["max_null_fraction"]
    nulls_text = (
        ", ".join(f"{k}: {v:.1%}" for k, v in nulls.items()) + f" (others {DEFAULT_MAX_NULL_FRACTION:.0%})" if isinstance(nulls, dict) else f"{nulls:.1%}"
    )
    rows = [
        ("Rows per day", f"at least {q['min_rows']:,}" + (f", at most {q['max_rows']:,}" if q["max_rows"] else "")),
        ("Missing values per input column", f"at most {nulls_text} of rows"),
        ("Categories the model never saw in training", f"at most {q['max_unseen_category_fraction']:.1%} of rows per column"),
        ("Numbers outside the training range", "counted" if q["max_out_of_range_fraction"] is None else f"at most {q['max_out_of_range_fraction']:.1%} of rows"),
        ("A failed check above", "stops the day, nothing is written" if q["on_fail"] == "fail" else "is a warning; the day is written"),
        ("Rows the model cannot score", "fail the day" if q["on_bad_rows"] == "fail" else f"are set aside in a rejects table; the day fails if they exceed {q['max_reject_fraction']:.2%}"),
        ("Score drift (PSI)", f"at most {d['max_psi']} against the training scores and against the previous day; above it the day {'fails' if d['on_fail'] == 'fail' else 'gets a warning'}"),
        ("Input columns watched for drift", ", ".join(d["features"]) or "none"),
    ]
    return "<table><tr><th>check</th><th>limit</th></tr>" + "".join(
        f"<tr><td>{_e(a)}</td><td>{_e(b)}</td></tr>" for a, b in rows
    ) + "</table>"


def _model_changes(data: dict) -> str:
    changes = data["model_changes"]
    if not changes:
        versions = {d["model_version"] for d in data["days"] if d["model_version"] is not None}
        only = f"version {versions.pop()}" if len(versions) == 1 else "no version (no runs)"
        return f"<p>The model did not change in this period: every run used {only}.</p>"
    items = "".join(f"<li>{_e(c['day'])}: version {c['from']} → {c['to']}</li>" for c in changes)
    return f"<p>The model version changed on:</p><ul>{items}</ul>"


def _drift_table(data: dict) -> str:
    latest = data["latest"]
    if latest is None:
        return "<p>No run in this period.</p>"
    q = data["thresholds"]["quality"]
    max_psi = data["thresholds"]["drift"]["max_psi"]
    head = (
        f"<p>Run {_e(latest['run_id'])} of {_e(latest['day'])} ({_e(latest['status'])}). "
        "Missing = share of rows without a value; unseen = share of rows with a category the model "
        "was not trained on; outside range = values below the training minimum or above its maximum; "
        "PSI compares the column's distribution with the training data (only for watched columns).</p>"
    )
    rows = []
    for f in latest["features"]:
        over = (
            (f["null_fraction"] or 0) > null_limit(q["max_null_fraction"], f["feature"])
            or (f["unseen_category_fraction"] or 0) > q["max_unseen_category_fraction"]
            or (f["psi"] or 0) > max_psi
        )
        unseen = _num(f["unseen_category_fraction"], 4)
        if f["unseen_examples"]:
            unseen += " (" + _e(", ".join(f["unseen_examples"][:5])) + ")"
        rows.append(
            f"<tr class='{'bad' if over else ''}'><td>{_e(f['feature'])}</td><td>{_num(f['null_fraction'], 4)}</td>"
            f"<td>{unseen}</td><td>{_num(f['out_of_range'])}</td><td>{_num(f['psi'])}</td>"
            f"<td>{'over a limit' if over else 'ok'}</td></tr>"
        )
    return head + (
        "<table><tr><th>input column</th><th>missing</th><th>unseen categories</th><th>outside training range</th>"
        "<th>PSI vs training</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
    )


def _day_table(data: dict) -> str:
    rows = []
    for d in data["days"]:
        written = d["scores"] if d["status"] == RunStatus.SUCCEEDED else None  # a failed day wrote no scores
        q = (written or {}).get("quantiles", {})
        problem = d["error"] or "; ".join(
            f"{f['check']}{' ' + f['column'] if f['column'] else ''}: {_num(f['figure'], 3)} (limit {_num(f['limit'], 3)})"
            for f in d["findings"]
        )
        css = "bad" if d["status"] == RunStatus.FAILED else "warn" if d["verdict"] == "warn" else ""
        rows.append(
            f"<tr class='{css}'><td>{d['day']}</td><td>{_e(d['status'])}</td><td>{_e(d['verdict'] or '–')}</td>"
            f"<td>{_num(d['rows_read'])}</td><td>{_num(d['rows_written'])}</td><td>{_num(d['rows_rejected'])}</td>"
            f"<td>{_num((written or {}).get('mean'))}</td><td>{_num(q.get('p50'))}</td>"
            f"<td>{_num(d['psi_reference'])}</td><td>{_num(d['psi_previous'])}</td>"
            f"<td>{_e(d['model_version'] if d['model_version'] is not None else '–')}</td><td>{_e(problem)}</td></tr>"
        )
    return (
        "<table><tr><th>day</th><th>run</th><th>checks</th><th>rows read</th><th>rows written</th><th>rejected</th>"
        "<th>mean score</th><th>median</th><th>PSI vs training</th><th>PSI vs previous day</th><th>model version</th>"
        "<th>what went wrong</th></tr>" + "".join(rows) + "</table>"
    )


def next_fire_text(job, now: datetime) -> str:
    """The job's next fire after ``now`` in its zone, as text (blank: manual-only)."""
    if not job.schedule:
        return ""
    fire = next_fire(job.schedule, job.tz, now)
    return f"{fire:%Y-%m-%d %H:%M %Z}" if fire else ""


def quality_cells(stats: dict | None) -> list[str]:
    """The run's quality verdict and its score PSI against the training reference and the
    previous succeeded day (blank where not measured)."""
    run = RunStats.from_json(stats)
    psi = [run.drift.psi_reference, run.drift.psi_previous]
    return [run.quality.verdict or "", *("" if v is None else f"{v:.3f}" for v in psi)]
