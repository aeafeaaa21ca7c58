"""The status page at ``/``: each job's last runs, next fire, model served, report link.

Read from the ledger on each request (a page for people, not a hot path). The report at
``/jobs/{job}/report`` is ``batchscore report``'s own HTML (jobs.report), for the 30 days up
to the newest day in the ledger.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from jobs.config import JobConfig
from jobs.ledger import Ledger
from jobs.lifecycle.evaluation import EvaluationStore
from jobs.report import next_fire_text, quality_cells, render_html, report_data
from pipelines.basics import utcnow
from pipelines.settings import Settings

LAST_RUNS = 5  # runs shown per job
REPORT_DAYS = 30

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin:1.6em 0 .4em}
table{border-collapse:collapse;font-size:.9em} th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
th{background:#f3f3f3} td,th{white-space:nowrap} td.error{white-space:normal;max-width:40em} .succeeded,.pass{color:#176117} .failed,.fail{color:#a11} .warn{color:#a60}
.meta{color:#555;font-size:.9em} code{background:#f3f3f3;padding:0 .3em}
"""


def render_status(settings: Settings, jobs: dict, store, now: datetime | None = None) -> str:
    """The page's HTML; ``jobs``: name -> the app's job entry (its ``config``)."""
    now = now or utcnow()
    ledger = Ledger(settings.state_url)
    states = store.states()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>batchscore</title>",
        f"<style>{_STYLE}</style></head><body><h1>batchscore</h1>",
        f"<p class='meta'>{len(jobs)} job(s) · {now:%Y-%m-%d %H:%M:%S} UTC · "
        "<a href='/docs'>API</a> · <a href='/metrics'>metrics</a> · <a href='/readyz'>readiness</a></p>",
    ]
    for name in sorted(jobs):
        job: JobConfig = jobs[name].config
        state = states.get(name)
        serving = f"{state.served.version.name} v{state.served.version.version}" if state and state.served else "none"
        problem = f" · <span class='fail'>{_e(state.error)}</span>" if state and state.error else ""
        parts.append(
            f"<h2 id='job-{_e(name)}'>{_e(name)}</h2><p class='meta'>"
            f"schedule <code>{_e(job.schedule or 'manual')}</code> {_e(job.timezone)} · next fire {_e(next_fire_text(job, now) or '-')} · "
            f"pipeline {_e(job.pipeline.name)}@{_e(job.pipeline.version)} · serving {_e(serving)}{problem} · "
            f"<a href='/jobs/{_e(name)}/report'>report</a></p>"
        )
        rows = ledger.history(name, last=LAST_RUNS)
        if not rows:
            parts.append("<p class='meta'>no runs yet</p>")
            continue
        parts.append(
            "<table><tr><th>day</th><th>status</th><th>rows</th><th>rejected</th><th>verdict</th>"
            "<th>PSI ref</th><th>PSI prev</th><th>model</th><th>finished</th><th>error</th></tr>"
        )
        for row in rows:
            verdict, psi_ref, psi_prev = quality_cells(row["stats"])
            model = f"{row['model_name']} v{row['model_version']}" if row["model_name"] else ""
            finished = f"{row['finished_at']:%Y-%m-%d %H:%M}" if row["finished_at"] else ""
            parts.append(
                f"<tr><td>{row['score_date']}</td><td class='{_e(row['status'])}'>{_e(row['status'])}</td>"
                f"<td>{_e(row['rows_written'] if row['rows_written'] is not None else '')}</td>"
                f"<td>{_e(row['rows_rejected'] if row['rows_rejected'] is not None else '')}</td>"
                f"<td class='{_e(verdict)}'>{_e(verdict)}</td><td>{psi_ref}</td><td>{psi_prev}</td>"
                f"<td>{_e(model)}</td><td>{finished}</td><td class='error'>{_e((row['error'] or '')[:160])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def render_report(settings: Settings, job: JobConfig) -> str:
    """``batchscore report JOB``'s HTML: the 30 days up to the newest day in the ledger."""
    ledger = Ledger(settings.state_url)
    days = [r["score_date"] for r in ledger.history(job.name)]
    end = max(days) if days else utcnow().date()
    start = end - timedelta(days=REPORT_DAYS - 1)
    evaluations = EvaluationStore(settings.state_url).rows(job.name, start=start, end=end)
    return render_html(report_data(job, ledger.latest_per_day(job.name, start, end), start, end, evaluations))


def _e(value) -> str:
    return html.escape(str(value), quote=True)
