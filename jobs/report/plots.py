"""The report's plots: one function per plot, ``(pyplot, report data) -> Figure``.

matplotlib is imported by the caller (``report.draw_plots``), with the Agg backend.
"""

from __future__ import annotations

from datetime import date

from jobs.vocabulary import RunStatus

FIGSIZE = (10, 3.2)
FAILED, WARNED, OK = "#c0392b", "#e67e22", "#2e86c1"


def _days(data: dict) -> list[date]:
    return [date.fromisoformat(d["day"]) for d in data["days"]]


def _mark_failed(ax, data: dict) -> None:
    """A red band behind every failed day, an orange one behind every day with a warning."""
    for d in data["days"]:
        color = FAILED if d["status"] == RunStatus.FAILED else WARNED if d["verdict"] == "warn" else None
        if color:
            day = date.fromisoformat(d["day"])
            ax.axvspan(day.toordinal() - 0.5, day.toordinal() + 0.5, color=color, alpha=0.15, lw=0)


def _axes(plt, data: dict, title: str, ylabel: str):
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(ylabel)
    days = _days(data)
    ticks = [d.toordinal() for d in days]
    step = max(1, len(days) // 15)
    ax.set_xticks(ticks[::step])
    ax.set_xticklabels([d.strftime("%m-%d") for d in days][::step], fontsize=8)
    ax.set_xlim(ticks[0] - 0.7, ticks[-1] + 0.7)
    ax.grid(axis="y", alpha=0.3)
    _mark_failed(ax, data)
    return fig, ax


def rows(plt, data: dict):
    fig, ax = _axes(plt, data, "Rows per day: read from the source and written (red band: day failed, nothing written)", "rows")
    x = [d.toordinal() for d in _days(data)]
    read = [d["rows_read"] or 0 for d in data["days"]]
    written = [d["rows_written"] or 0 for d in data["days"]]
    ax.bar([v - 0.2 for v in x], read, width=0.4, color="#95a5a6", label="read")
    ax.bar([v + 0.2 for v in x], written, width=0.4, color=OK, label="written")
    minimum = data["thresholds"]["quality"]["min_rows"]
    if minimum > 1:
        ax.axhline(minimum, color=FAILED, ls="--", lw=1, label=f"minimum {minimum:,}")
    ax.set_ylim(0, max([*read, minimum, 1]) * 1.3)  # room for the legend above the bars
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    return fig


def rejects(plt, data: dict):
    fig, ax = _axes(plt, data, "Rows set aside per day because the model could not score them", "rejected rows")
    x = [d.toordinal() for d in _days(data)]
    ax.bar(x, [d["rows_rejected"] or 0 for d in data["days"]], width=0.6, color=FAILED)
    ax2 = ax.twinx()
    share = [(d["rows_rejected"] or 0) / d["rows_read"] if d["rows_read"] else 0 for d in data["days"]]
    ax2.plot(x, share, color="#34495e", marker=".", lw=1, label="share of rows read")
    limit = data["thresholds"]["quality"]["max_reject_fraction"]
    ax2.axhline(limit, color=FAILED, ls="--", lw=1, label=f"allowed share {limit:.2%}")
    ax2.set_ylim(0, max(max(share, default=0), limit) * 1.3 or 1)
    ax2.set_ylabel("share")
    ax2.legend(loc="upper left", fontsize=8)
    ax.set_ylim(bottom=0)
    return fig


def scores(plt, data: dict):
    fig, ax = _axes(plt, data, "Score distribution per day: median, middle 50% and middle 90% of written rows", "score")
    nan = float("nan")
    x = [day.toordinal() for day in _days(data)]
    q = []
    for d in data["days"]:  # NaN where nothing was written: a gap, not an interpolation
        quantiles = (d["scores"] or {}).get("quantiles") if d["status"] == RunStatus.SUCCEEDED else None
        q.append(quantiles or {})
    if any(q):
        band = lambda key: [v.get(key, nan) for v in q]  # noqa: E731
        ax.fill_between(x, band("p05"), band("p95"), color=OK, alpha=0.2, label="5%-95%")
        ax.fill_between(x, band("p25"), band("p75"), color=OK, alpha=0.4, label="25%-75%")
        ax.plot(x, band("p50"), color="#1b4f72", marker=".", lw=1.5, label="median")
        ax.legend(loc="upper left", fontsize=8)
    return fig


def psi(plt, data: dict):
    fig, ax = _axes(plt, data, "Score drift per day (PSI): how far the scores moved; above the dashed line is a shift", "PSI")
    x = [d.toordinal() for d in _days(data)]
    limit = data["thresholds"]["drift"]["max_psi"]
    top = limit * 3  # keeps the limit readable; larger values are drawn at the top, labelled
    for key, label, style, shift in (
        ("psi_reference", "vs training data", "o-", -28), ("psi_previous", "vs previous day", "s--", 4)
    ):
        points = [(v, d[key]) for v, d in zip(x, data["days"]) if d[key] is not None]
        if points:
            ax.plot([p[0] for p in points], [min(p[1], top) for p in points], style, ms=4, lw=1, label=label)
            for day, value in points:
                if value > top:
                    ax.annotate(f"{value:.2f}", (day, top), textcoords="offset points", xytext=(shift, -12), fontsize=7)
    ax.axhline(limit, color=FAILED, ls="--", lw=1, label=f"limit {limit}")
    ax.axhline(0.1, color=WARNED, ls=":", lw=1, label="0.1: moderate")
    ax.set_ylim(0, top * 1.05)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def model(plt, data: dict):
    fig, ax = _axes(plt, data, "Model version used per day (vertical lines: the version changed)", "version")
    points = [(date.fromisoformat(d["day"]).toordinal(), d["model_version"]) for d in data["days"] if d["model_version"] is not None]
    if points:
        ax.step(*zip(*points), where="mid", color=OK)
        ax.plot(*zip(*points), "o", ms=3, color=OK)
        versions = sorted({v for _, v in points})
        ax.set_yticks(versions)
        ax.set_ylim(min(versions) - 0.5, max(versions) + 0.5)
    for change in data["model_changes"]:
        day = date.fromisoformat(change["day"]).toordinal()
        ax.axvline(day - 0.5, color=WARNED, lw=1.5)
        ax.annotate(f"v{change['from']}→v{change['to']}", (day - 0.5, change["to"]), textcoords="offset points",
                    xytext=(4, 8), fontsize=8)
    return fig


def realized(plt, data: dict):
    """One line per (version, role): solid for the main model, dashed for a shadow; None
    without evaluations (the section says so instead)."""
    realized_ = data["realized"]
    if not realized_["rows"]:
        return None
    better = "higher" if realized_["higher_is_better"] else "lower"
    fig, ax = _axes(plt, data, f"Realized {realized_['metric']} per day ({better} is better): solid main, dashed shadow",
                    realized_["metric"])
    lines: dict[tuple[int, str], dict[int, float]] = {}
    for r in realized_["rows"]:
        if r["value"] is not None:
            lines.setdefault((r["model_version"], r["role"]), {})[date.fromisoformat(r["day"]).toordinal()] = r["value"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (version, role), points in sorted(lines.items(), key=lambda item: (item[0][1] != "main", item[0][0])):
        x = sorted(points)
        main = role == "main"
        ax.plot(x, [points[v] for v in x], "o-" if main else "s--", ms=4, lw=1.5 if main else 1,
                color=colors[version % len(colors)], label=f"v{version} {role}")
    ax.legend(loc="best", fontsize=8)
    return fig
