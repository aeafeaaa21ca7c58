"""Prometheus text exposition (format 0.0.4) of the server's own counters, no dependency.

Per job: requests and errors by endpoint and status, a latency histogram of scoring
requests, records scored, and the model version served. Each server process counts its own
requests (with ``--workers N`` a scrape reaches one of them).
"""

from __future__ import annotations

import threading
from collections import defaultdict

# Latency buckets (seconds) of the request histogram: from a single record to a full request.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._records: dict[str, int] = defaultdict(int)
        self._hist: dict[tuple[str, str], list[float]] = {}  # (job, endpoint) -> bucket counts, sum, count

    def observe(self, job: str, endpoint: str, status: int, seconds: float, records: int = 0) -> None:
        with self._lock:
            self._requests[(job, endpoint, status)] += 1
            self._records[job] += records
            hist = self._hist.setdefault((job, endpoint), [0.0] * (len(BUCKETS) + 2))
            for i, edge in enumerate(BUCKETS):
                if seconds <= edge:
                    hist[i] += 1
            hist[-2] += seconds
            hist[-1] += 1

    def render(self, versions: dict[str, tuple[str, int] | None]) -> str:
        """The text of /metrics; ``versions``: job -> (model name, version) served, or None."""
        lines = [
            "# HELP batchscore_serve_requests_total HTTP requests by job, endpoint and status.",
            "# TYPE batchscore_serve_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self._requests.items())
            records = sorted(self._records.items())
            hists = sorted((k, list(v)) for k, v in self._hist.items())
        for (job, endpoint, status), count in requests:
            lines.append(f'batchscore_serve_requests_total{{job="{_esc(job)}",endpoint="{endpoint}",status="{status}"}} {count}')
        lines += [
            "# HELP batchscore_serve_errors_total HTTP requests answered with a 4xx or 5xx status.",
            "# TYPE batchscore_serve_errors_total counter",
        ]
        errors: dict[tuple[str, str], int] = defaultdict(int)
        for (job, endpoint, status), count in requests:
            if status >= 400:
                errors[(job, endpoint)] += count
        for (job, endpoint), count in sorted(errors.items()):
            lines.append(f'batchscore_serve_errors_total{{job="{_esc(job)}",endpoint="{endpoint}"}} {count}')
        lines += [
            "# HELP batchscore_serve_records_total Records scored online.",
            "# TYPE batchscore_serve_records_total counter",
        ]
        for job, count in records:
            lines.append(f'batchscore_serve_records_total{{job="{_esc(job)}"}} {count}')
        lines += [
            "# HELP batchscore_serve_request_seconds Latency of requests, by job and endpoint.",
            "# TYPE batchscore_serve_request_seconds histogram",
        ]
        for (job, endpoint), hist in hists:
            labels = f'job="{_esc(job)}",endpoint="{endpoint}"'
            for i, edge in enumerate(BUCKETS):
                lines.append(f'batchscore_serve_request_seconds_bucket{{{labels},le="{edge}"}} {int(hist[i])}')
            lines.append(f'batchscore_serve_request_seconds_bucket{{{labels},le="+Inf"}} {int(hist[-1])}')
            lines.append(f"batchscore_serve_request_seconds_sum{{{labels}}} {hist[-2]:.6f}")
            lines.append(f"batchscore_serve_request_seconds_count{{{labels}}} {int(hist[-1])}")
        lines += [
            "# HELP batchscore_serve_model_version The model version each job serves (0: none loaded).",
            "# TYPE batchscore_serve_model_version gauge",
        ]
        for job, served in sorted(versions.items()):
            model, version = served or ("", 0)
            lines.append(f'batchscore_serve_model_version{{job="{_esc(job)}",model="{_esc(model)}"}} {version}')
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
