"""The benchmark's figures: per-contender summary, the limit, the targets judged on every
repetition, and the tables ``benchmarks.run`` prints. batchscore is held against the best
pipelined script of each repetition: the faster of the one through the wheel's ADBC driver and
the one through batchscore's driver build (when it ran)."""

from __future__ import annotations

import math
import os
import statistics
import sys
from dataclasses import dataclass

from benchmarks.data import MODELS

NAIVE = "naive script (pd.read_sql, to_sql)"
SEQUENTIAL = "sequential hand-built (ADBC batches, ingest)"
PIPELINED = "pipelined hand-built (reader, writer threads)"
# The same script through batchscore's optimized build of the ADBC driver (PIPELINED: the wheel's)
PIPELINED_BUILT = "pipelined hand-built, batchscore's driver build"
BS_PG = "batchscore PostgreSQL"
HGB = ", HGB"  # suffix of the gradient-boosting contenders (the others score with the logistic regression)
TREELITE = ", treelite runtime"  # suffix of batchscore's HGB run with the compiled runtime
FLOOR = "floor: fresh process, imports, model load"
STAGES = "alone: read, predict LR, predict HGB, write"
BS_SQLITE = "batchscore SQLite"
BS_SQLITE_BEFORE = "batchscore SQLite as before issue 16 (SQLAlchemy rows)"
BS_PARQUET = "batchscore Parquet"
BARE_PARQUET = "bare chunked pyarrow read of the Parquet day (readahead 1)"
SPARK = "batchscore Spark (Parquet), backfill of 2 days"
TARGET_ROWS = 1_000_000  # the targets are set for a 1M-row day


def big_name(rows: int) -> str:
    return f"{BS_PG}, {rows} rows"


@dataclass(frozen=True)
class Target:
    label: str
    numerator: str  # what the values are: "naive / batchscore (time)" ...
    values: list[float | None]  # one per repetition; None where a check failed
    bound: float
    at_least: bool  # True: value >= bound passes; False: value <= bound
    by_median: bool = False  # judged on the median instead of on every repetition

    def ok(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def verdict(self) -> str:
        if not self.values or any(v is None or math.isnan(v) for v in self.values):
            return "INVALID (a contender failed its check)"
        if self.by_median:
            return "PASS" if self.ok(statistics.median(self.values)) else "MISS"
        passed = sum(self.ok(v) for v in self.values)
        return "PASS" if passed == len(self.values) else f"MISS ({passed}/{len(self.values)} repetitions)"


def summarise(args, contenders: list[tuple[str, int]], runs: dict, profiles: dict, notes: list, big_rows: int) -> dict:
    checks_ok = all(r["check"]["ok"] for rs in runs.values() for r in rs)
    table = []
    for name, rows in contenders:
        rs = runs[name]
        walls = [r["wall_s"] for r in rs]
        rss = [r["peak_rss_mib"] for r in rs]
        cpu = [r["cpu_s"] for r in rs if r.get("cpu_s") is not None]
        machine = [r["machine_cpu_s"] for r in rs if r.get("machine_cpu_s") is not None]
        table.append({"contender": name, "rows": rows, "wall_s_median": statistics.median(walls), "wall_s_min": min(walls),
                      "wall_s_max": max(walls), "rows_per_s": rows / statistics.median(walls) if rows else None,
                      "peak_rss_mib_max": max(rss), "peak_rss_mib_median": statistics.median(rss),
                      "peak_rss_single_mib_max": max(r["peak_rss_single_mib"] for r in rs),
                      "cpu_s_median": statistics.median(cpu) if cpu else None,
                      "machine_cpu_s_median": statistics.median(machine) if machine else None,
                      "checks_passed": sum(r["check"]["ok"] for r in rs)})
    limits = _limits(runs)
    targets = _targets(runs, limits, big_rows)
    return {
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
        "rows": args.rows, "big_rows": big_rows, "repeat": args.repeat, "chunk_size": args.chunk_size,
        "workers": args.workers, "cpus": os.cpu_count(), "all_checks_passed": checks_ok, "table": table,
        "limits": limits, "targets": [t.__dict__ | {"verdict": t.verdict()} for t in targets],
        "ratios": _other_ratios(runs), "profiles": profiles, "notes": notes, "runs": runs,
    }


def _limits(runs: dict) -> dict:
    """Per model and repetition: the floor of a fresh process plus the slowest of read, predict
    and write, each timed alone on the same day."""
    if STAGES not in runs:
        return {}
    out = {}
    for i, kind in enumerate(MODELS):
        floor_name = FLOOR + (HGB if kind == "hgb" else "")
        per_rep = []
        for stage, floor in zip(runs[STAGES], runs[floor_name]):
            t = stage.get("timings") or {}
            if not (stage["check"]["ok"] and floor["check"]["ok"]):
                per_rep.append(None)
                continue
            alone = {"read": t["read"], "predict": t[f"predict_{i}"], "write": t["write"]}
            slowest = max(alone, key=alone.get)
            per_rep.append({"floor": floor["wall_s"], **alone, "slowest": slowest, "limit": floor["wall_s"] + alone[slowest]})
        out[kind] = per_rep
    return out


def _per_rep(runs: dict, a: str, b: str, key: str = "wall_s") -> list[float | None]:
    if a not in runs or b not in runs:
        return []
    return _ratios(runs[a], runs[b], key)


def _ratios(xs: list[dict], ys: list[dict], key: str = "wall_s") -> list[float | None]:
    return [x[key] / y[key] if x["check"]["ok"] and y["check"]["ok"] and y[key] else None for x, y in zip(xs, ys)]


def _best_pipelined(runs: dict, suffix: str) -> list[dict]:
    """Per repetition, the pipelined script to beat: the faster (lower wall_s) of the wheel's
    driver and batchscore's driver build, whichever ran. A failed run is chosen first, which
    voids that repetition's comparison rather than making it against the slower script."""
    variants = [runs[name] for name in (PIPELINED + suffix, PIPELINED_BUILT + suffix) if name in runs]
    return [min(reps, key=lambda r: (r["check"]["ok"], r["wall_s"])) for reps in zip(*variants)]


def _targets(runs: dict, limits: dict, big_rows: int) -> list[Target]:
    targets = []
    for kind, suffix, speedup in (("lr", "", 7.5), ("hgb", HGB, 6.0)):
        label = "LR" if kind == "lr" else "HGB"
        bs, best = BS_PG + suffix, _best_pipelined(runs, suffix)
        targets += [
            Target(f"{label}: naive / batchscore >= {speedup}", "time", _per_rep(runs, NAIVE + suffix, bs), speedup, True),
            Target(f"{label}: batchscore / pipelined best <= 1.05, every repetition", "time", _ratios(runs.get(bs, []), best), 1.05, False),
            Target(f"{label}: batchscore / pipelined best <= 1.0 by the median", "time", _ratios(runs.get(bs, []), best), 1.0, False, True),
        ]
        if kind == "lr":
            targets.append(Target("LR: batchscore peak RSS <= 1.2x pipelined best's", "peak RSS, process tree",
                                  _ratios(runs.get(bs, []), best, "peak_rss_mib"), 1.2, False))
        if kind in limits:
            values = [x["wall_s"] / lim["limit"] if lim and x["check"]["ok"] else None for x, lim in zip(runs[bs], limits[kind])]
            targets.append(Target(f"{label}: batchscore / limit <= 1.2", "time", values, 1.2, False))
    if big_rows:
        targets.append(Target(f"{big_rows}-row day's peak RSS within 10% of the day's", "peak RSS, process tree",
                              _per_rep(runs, big_name(big_rows), BS_PG, "peak_rss_mib"), 1.1, False))
    targets.append(Target("Parquet: batchscore peak RSS <= 1.3x a bare chunked read", "peak RSS, process tree",
                          _per_rep(runs, BS_PARQUET, BARE_PARQUET, "peak_rss_mib"), 1.3, False))
    if BS_SQLITE_BEFORE in runs:
        targets.append(Target("SQLite: >= 3x faster than before issue 16", "time, before / after",
                              _per_rep(runs, BS_SQLITE_BEFORE, BS_SQLITE), 3.0, True))
    return targets


def _other_ratios(runs: dict) -> dict:
    ratios = {
        f"{BS_PG} / sequential (time)": _per_rep(runs, BS_PG, SEQUENTIAL),
        "pipelined / sequential (time)": _per_rep(runs, PIPELINED, SEQUENTIAL),
        f"{BS_PG} / pipelined (peak RSS, largest single process)": _per_rep(runs, BS_PG, PIPELINED, "peak_rss_single_mib"),
        # On a machine other work keeps busy, wall time follows the share of the CPUs a run
        # gets; the command's own CPU time does much less.
        f"{BS_PG} / pipelined (the command's CPU s)": _per_rep(runs, BS_PG, PIPELINED, "cpu_s"),
        f"{BS_PG}{HGB} / pipelined{HGB} (the command's CPU s)": _per_rep(runs, BS_PG + HGB, PIPELINED + HGB, "cpu_s"),
        f"naive / {BS_PG} (the command's CPU s)": _per_rep(runs, NAIVE, BS_PG, "cpu_s"),
        # The compiled runtime (pipeline register --runtime treelite) on the same HGB day.
        f"{BS_PG}{HGB}{TREELITE} / pipelined{HGB} (time)": _per_rep(runs, BS_PG + HGB + TREELITE, PIPELINED + HGB),
        f"naive{HGB} / {BS_PG}{HGB}{TREELITE} (time)": _per_rep(runs, NAIVE + HGB, BS_PG + HGB + TREELITE),
        f"{BS_PG}{HGB}{TREELITE} / {BS_PG}{HGB} (time)": _per_rep(runs, BS_PG + HGB + TREELITE, BS_PG + HGB),
    }
    # The pipelined script through each driver library, and batchscore against each of them.
    for suffix in ("", HGB):
        ratios[f"pipelined built{suffix} / pipelined wheel{suffix} (time)"] = _per_rep(runs, PIPELINED_BUILT + suffix, PIPELINED + suffix)
        for variant, name in (("wheel", PIPELINED), ("built", PIPELINED_BUILT)):
            ratios[f"{BS_PG}{suffix} / pipelined {variant}{suffix} (time)"] = _per_rep(runs, BS_PG + suffix, name + suffix)
    if SPARK in runs:
        # Engine time of the same Parquet day: the Spark backfill's second day (its context,
        # JVM and Python workers already up) over the pandas engine's run, the model's load
        # left out of both (see the README's Performance section).
        def engine(timings: dict | None) -> float:
            timings = timings or {}
            return timings.get("engine_total", float("nan")) - timings.get("model_load", 0.0)

        for label, key in (("warm", "timings"), ("cold, first day", "first_timings")):
            ratios[f"Spark {label} / pandas, Parquet (engine time)"] = [
                engine(s.get(key)) / engine(p.get("timings")) for s, p in zip(runs[SPARK], runs[BS_PARQUET])]
        ratios["Spark backfill / pandas Parquet run (peak RSS, process tree)"] = _per_rep(runs, SPARK, BS_PARQUET, "peak_rss_mib")
    return {k: v for k, v in ratios.items() if v}


def drivers_line(drivers: dict) -> str:
    """Which ADBC PostgreSQL driver library each kind of contender loads (``benchmarks.run``)."""
    parts = [f"{what} {d['library']} ({d['prologues']} frame-pointer prologues): {d['used_by']}"
             for what, d in (("the wheel's", drivers["wheel"]), ("built", drivers.get("built"))) if d]
    if not drivers.get("built"):
        parts.append("no optimized build (jobs.db.adbc.driver_library() is None): no pipelined contender through one")
    return "; ".join(parts)


def _f(value, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _header(result: dict) -> list[str]:
    """The run's conditions: size, load, the server's settings, the driver libraries, the indexes."""
    settings = result.get("postgres_settings", {})
    return [(f"rows {result['rows']}, {result['repeat']} repetitions, chunk_size {result['chunk_size']}, "
             f"workers {result['workers']}, {result['cpus']} CPUs; every check passed: {result['all_checks_passed']}"),
            f"load before: {result.get('uptime_before', '?')}", f"load after:  {result.get('uptime_after', '?')}",
            "PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in settings.items()),
            "ADBC PostgreSQL driver: " + (drivers_line(result["adbc_drivers"]) if "adbc_drivers" in result else "not recorded"),
            "output tables' indexes: " + "; ".join(f"{t}: {', '.join(d) or 'none'}" for t, d in result.get("output_indexes", {}).items())]


def render(result: dict) -> str:
    lines = [*_header(result), "",
             "| contender | rows | wall s (median) | wall s min-max | rows/s | peak RSS MiB, tree (max) | largest process MiB | CPU s | machine CPU s | checks |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["table"]:
        rate = f"{row['rows_per_s']:,.0f}" if row["rows_per_s"] else ""
        lines.append(f"| {row['contender']} | {row['rows']} | {row['wall_s_median']:.2f} | {row['wall_s_min']:.2f}-{row['wall_s_max']:.2f} "
                     f"| {rate} | {row['peak_rss_mib_max']:.0f} | {row['peak_rss_single_mib_max']:.0f} | {_f(row['cpu_s_median'], 1)} "
                     f"| {_f(row['machine_cpu_s_median'], 1)} | {row['checks_passed']}/{result['repeat']} |")
    lines += ["", ("peak RSS, tree: the command and all its descendants (workers, the JVM) sampled every 20 ms, resident sets "
               "summed; largest process: ru_maxrss. CPU s: the command's user + system time (children included); machine CPU s: "
               "every CPU's busy time during the run, the database server's included (medians). Checks: the day's rows are one "
               "new run's, every customer once, scores equal to the pipeline's predict_proba.")]
    lines += ["", "Every repetition, wall s / peak RSS MiB (tree):", "",
              "| contender | " + " | ".join(f"rep {i + 1}" for i in range(result["repeat"])) + " |",
              "|---|" + "---|" * result["repeat"]]
    for name, rs in result["runs"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r['wall_s']:.2f} / {r['peak_rss_mib']:.0f}" + ("" if r["check"]["ok"] else " FAILED")
                                                 for r in rs) + " |")
    for kind, per_rep in result["limits"].items():
        lines += ["", (f"Limit, {kind.upper()} (s): floor (fresh process: interpreter, imports, model load) + the slowest of "
                       "read, predict, write each alone:"), "", "| rep | floor | read | predict | write | limit |", "|---|---|---|---|---|---|"]
        for i, lim in enumerate(per_rep):
            lines.append(f"| {i + 1} | " + (" | ".join(_f(lim[k]) for k in ("floor", "read", "predict", "write", "limit")) if lim else "failed") + " |")
    tail = "" if result["rows"] == TARGET_ROWS else f" (NOT the 1M-row day the targets are set for: {result['rows']} rows)"
    lines += ["", f"Targets, judged on every repetition unless said{tail}:", "",
              "| target | measured | every repetition | median | verdict |", "|---|---|---|---|---|"]
    for t in result["targets"]:
        known = [v for v in t["values"] if v is not None]
        lines.append(f"| {t['label']} | {t['numerator']} | " + " ".join(_f(v) for v in t["values"])
                     + f" | {_f(statistics.median(known)) if known else '-'} | {t['verdict']} |")
    if result["ratios"]:
        lines += ["", "| other ratio (per repetition) | min | median | max | every repetition |", "|---|---|---|---|---|"]
        for name, values in result["ratios"].items():
            known = [v for v in values if v is not None and not math.isnan(v)]
            if known:
                lines.append(f"| {name} | {min(known):.2f} | {statistics.median(known):.2f} | {max(known):.2f} | "
                             + " ".join(_f(v) for v in values) + " |")
    if result["profiles"]:
        lines += ["", "Stages, one after the other (benchmarks.profile), seconds:", "",
                  "| job | read | convert | predict | output | write+commit | model load |", "|---|---|---|---|---|---|---|"]
        for job, p in result["profiles"].items():
            if "error" in p:
                lines.append(f"| {job} | failed: {p['error'].strip().splitlines()[-1] if p['error'].strip() else '?'} |||||")
            else:
                lines.append(f"| {job} | {p['read']:.2f} | {p['convert']:.2f} | {p['predict']:.2f} | {p['output']:.2f} | {p['write']:.2f} | {p['model_load']:.2f} |")
    stage_rows = []
    for name, rs in result["runs"].items():
        for key, label in (("first_timings", f"{name}: first day"), ("timings", f"{name}: second day" if rs and "first_timings" in rs[0] else name)):
            timings = [r.get(key) for r in rs if r.get(key)]
            if timings:
                keys = [k for k in timings[0] if isinstance(timings[0][k], (int, float)) and k != "rows"]
                stage_rows.append(f"| {label} | " + ", ".join(f"{k} {statistics.median(t.get(k, 0) for t in timings):.2f}" for k in keys) + " |")
    if stage_rows:
        lines += ["", "Stage seconds reported by each contender (median; batchscore: the ledger's stats.timings, busy time per stage, overlapping):", "",
                  "| contender | stages |", "|---|---|", *stage_rows]
    for note in result["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m benchmarks.report benchmark.partial.json``: the tables of a run stopped early,
    from the repetitions it finished (every contender's first N)."""
    import json
    from types import SimpleNamespace

    with open(argv[0]) as file:
        partial = json.loads(file.read())
    runs = {name: rs for name, rs in partial["runs"].items() if rs}
    done = min(len(rs) for rs in runs.values())
    runs = {name: rs[:done] for name, rs in runs.items()}
    contenders = [(name, rs[0]["rows_expected"]) for name, rs in runs.items()]
    big_rows = next((rows for name, rows in contenders if name.startswith(f"{BS_PG}, ")), 0)
    rows = next(rows for name, rows in contenders if name == BS_PG)
    args = SimpleNamespace(rows=rows, repeat=done, chunk_size=partial.get("chunk_size", 100_000), workers=partial.get("workers", 1))
    note = f"rendered from {argv[0]}: the run was stopped after {done} repetition(s); no per-stage profile"
    result = summarise(args, contenders, runs, {}, [note], big_rows)
    result.update({k: partial[k] for k in ("postgres_settings", "adbc_drivers", "uptime_before") if k in partial})
    sys.stdout.write(render(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
