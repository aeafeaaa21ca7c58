"""``batchscore parity``: replay a sample of a day's source rows through the online path and
compare with the scores committed for that day.

The sample is drawn while the day streams by (a seeded random key per row; the ``n``
smallest are kept), so memory follows the sample, not the day. Records go through JSON as a
client's would, then either through ``score_records`` in this process or to a running
server's ``POST /v1/jobs/{job}/score``.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pyarrow as pa

from jobs.config import JobConfig
from jobs.errors import BatchScoreError, NoInputRows, ParityMismatch, UsageError
from jobs.output import LABEL, MODEL_VERSION, SCORE
from pipelines.spec import MULTICLASS
from jobs.serve.online import Served, score_records
from jobs.serve.outputs import OutputReader
from jobs.serve.publish import id_key
from pipelines.basics import json_default, utcnow
from pipelines.settings import Settings
from jobs.sources import open_source
from pipelines.registry import Registry

DEFAULT_SAMPLE = 1000
DEFAULT_TOLERANCE = 1e-12  # absolute; ROW_BLOCK scoring makes bit-identical the expected case
SAMPLE_SEED = 20261127  # a fixed seed: the same day gives the same sample
SHOWN_IDS = 10


@dataclass
class ParityResult:
    job: str
    day: date
    model: str
    where: str  # "in-process" or the server's URL
    compared: int = 0
    identical: int = 0
    differing: int = 0
    largest: float = 0.0
    labels_differing: int = 0
    ids: list[str] = field(default_factory=list)  # up to SHOWN_IDS differing ids
    uncommitted: int = 0  # sampled rows the committed day lacks (rejected rows)

    def summary(self, tolerance: float) -> str:
        text = (
            f"parity {self.job} {self.day}: {self.compared} rows compared ({self.model}, {self.where}): "
            f"{self.compared - self.differing} agree within {tolerance:g}, {self.identical} bit-identical, "
            f"largest difference {self.largest:.3g}"
        )
        if self.uncommitted:
            text += f"; {self.uncommitted} sampled rows have no committed score (rejected), not compared"
        return text


def sample_rows(job: JobConfig, day: date, n: int, columns: list[str], chunk_size: int = 50_000) -> pa.Table:
    """``n`` rows of the day's source, drawn uniformly with a fixed seed, in source order."""
    source = open_source(job.source, chunk_size=chunk_size, wanted=columns)
    rng = np.random.default_rng(SAMPLE_SEED)
    kept: pa.Table | None = None
    keys = np.empty(0)
    order = np.empty(0, dtype=np.int64)
    seen = 0
    for batch in source.iter_batches(day):
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch]).select(columns)
        batch_keys = rng.random(batch.num_rows)
        positions = np.arange(seen, seen + batch.num_rows)
        seen += batch.num_rows
        kept = table if kept is None else pa.concat_tables([kept, table], promote_options="permissive")
        keys = np.concatenate([keys, batch_keys])
        order = np.concatenate([order, positions])
        if len(keys) > n:
            best = np.sort(np.argpartition(keys, n - 1)[:n])
            kept, keys, order = kept.take(best), keys[best], order[best]
    if kept is None:
        raise NoInputRows.in_source(source.describe())
    return kept.take(np.argsort(order, kind="stable"))


def as_records(table: pa.Table) -> list[dict]:
    """Rows as a client sends them: JSON data, NaN as null."""
    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, (date, datetime)):
            return json_default(value)
        return value

    records = [{k: clean(v) for k, v in row.items()} for row in table.to_pylist()]
    return json.loads(json.dumps(records))


def committed(job: JobConfig, day: date, keys: set[str], multiclass: bool) -> dict[str, tuple]:
    """key -> (score, label, model_version) of the committed day, for ``keys`` only."""
    reader = OutputReader(job.output, job.id_columns)
    columns = [*job.id_columns, SCORE, *([LABEL] if multiclass else []), MODEL_VERSION]
    found = {}
    for batch in reader.iter_day(day, columns):
        data = batch.to_pydict()
        for i, values in enumerate(zip(*(data[c] for c in job.id_columns), strict=True)):
            key = id_key(values)
            if key in keys:
                found[key] = (data[SCORE][i], data[LABEL][i] if multiclass else None, data[MODEL_VERSION][i])
    return found


def check_parity(
    job: JobConfig, day: date, settings: Settings, *, sample: int = DEFAULT_SAMPLE,
    url: str | None = None, tolerance: float = DEFAULT_TOLERANCE, token: str | None = None,
) -> ParityResult:
    """Compare online scores of ``sample`` source rows of ``day`` with the committed ones."""
    registry = Registry(settings.models_root)
    reference = registry.resolve(job.pipeline.name, job.pipeline.version)
    columns = list(dict.fromkeys([*job.id_columns, *reference.spec.feature_names]))
    records = as_records(sample_rows(job, day, sample, columns))
    keys = [id_key(r[c] for c in job.id_columns) for r in records]
    multiclass = reference.task == MULTICLASS
    scored = committed(job, day, set(keys), multiclass)
    if not scored:
        raise UsageError(f"no committed scores for {day}", hint=f"run the day first: batchscore run {job.name} --date {day}")
    day_version = Counter(v[2] for v in scored.values()).most_common(1)[0][0]
    limit = job.serve.max_records
    if url is None:
        version = registry.resolve(job.pipeline.name, day_version)
        served = Served.of(job, registry.load(version))
        now = utcnow()
        online = []
        for start in range(0, len(records), limit):
            online += score_records(served, records[start:start + limit], now=now)
        model, where = f"{version.name} v{version.version}", "in-process"
    else:
        online, served_model = _over_http(url, job.name, records, limit, token)
        if served_model["version"] != day_version:
            raise ParityMismatch(
                f"the server at {url} serves {served_model['name']} v{served_model['version']}, "
                f"the day {day} was scored with v{day_version}",
                hint="compare a day scored with the version the server serves",
            )
        model, where = f"{served_model['name']} v{served_model['version']}", url
    result = ParityResult(job.name, day, model, where)
    for key, got in zip(keys, online, strict=True):
        if key not in scored:
            result.uncommitted += 1
            continue
        score, label, _v = scored[key]
        result.compared += 1
        diff = abs(got[SCORE] - score)
        same_label = not multiclass or got[LABEL] == label
        if diff == 0 and same_label:
            result.identical += 1
        result.largest = max(result.largest, diff)
        if diff > tolerance or not same_label:
            result.differing += 1
            result.labels_differing += not same_label
            if len(result.ids) < SHOWN_IDS:
                result.ids.append(key)
    return result


def _over_http(url: str, job: str, records: list[dict], limit: int, token: str | None) -> tuple[list[dict], dict]:
    scores, model = [], None
    endpoint = f"{url.rstrip('/')}/v1/jobs/{job}/score"
    for start in range(0, len(records), limit):
        body = json.dumps({"records": records[start:start + limit]}).encode()
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise BatchScoreError(f"the server at {url} answered {exc.code}: {detail}", hint="check the server's log") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise BatchScoreError(f"cannot reach the server at {url}: {exc}", hint="start it with batchscore serve, or check --url") from exc
        if model is not None and answer["model"] != model:
            raise ParityMismatch(f"the server at {url} changed model during the check ({model} -> {answer['model']})", hint="run the check again")
        model = answer["model"]
        scores += answer["scores"]
    return scores, model
