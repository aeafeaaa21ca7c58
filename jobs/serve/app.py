"""The ASGI app of ``batchscore serve``: score records, look scores up, health, metrics.

Every job of the config directory is served with its pipeline alias. Errors are JSON
objects ``{"error": what, "hint": what to do}`` (plus the record, field and types of a 422);
a client never sees a traceback, the server's log has it.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobs import config as config_mod
from jobs.config import JobConfig
from jobs.errors import BatchScoreError, InvalidRecord, SchemaMismatch, ScoringError, UsageError
from jobs.logfile import log_in_utc
from jobs.serve.batcher import Batcher
from jobs.serve.metrics import Metrics
from jobs.serve.models import ModelStore
from jobs.serve.outputs import OutputReader
from jobs.serve.publish import RedisScores
from jobs.serve.status import render_report, render_status
from pipelines.settings import Settings
from pipelines.registry import Registry

log = logging.getLogger(__name__)

TOKEN_ENV = "BATCHSCORE_SERVE_TOKEN"
MAX_BYTES_PER_RECORD = 4096  # a request body larger than max_records times this is refused (413)
OPEN_PATHS = ("/healthz", "/readyz")  # answered without the token
SWITCH_INTERVAL_S = 0.001  # Python's default is 0.005

_SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
                "description": "one object per record: the job's id columns and the model's features (null: missing)",
            }},
        }}},
    },
}


@dataclass
class JobEntry:
    config: JobConfig
    output: OutputReader
    redis: RedisScores | None


@dataclass
class ServeContext:
    """What the routes share in one server process."""

    settings: Settings
    jobs: dict[str, JobEntry]
    store: ModelStore
    batcher: Batcher
    metrics: Metrics

    def job(self, name: str) -> JobEntry:
        if name not in self.jobs:
            raise _Http(404, f"no job {name!r}", f"known jobs: {', '.join(sorted(self.jobs)) or 'none'}")
        return self.jobs[name]

    def observe(self, job: str, endpoint: str, status: int, started: float, records: int = 0) -> None:
        self.metrics.observe(job if job in self.jobs else "(unknown)", endpoint, status, time.perf_counter() - started, records)


router = APIRouter()


def create_app(settings: Settings, *, token: str | None = None, watch: bool = True) -> FastAPI:
    """The app serving every job of ``settings.config_dir``; models load at start-up."""
    configs = {name: config_mod.load_named(settings.config_dir, name) for name in config_mod.job_names(settings.config_dir)}
    ctx = ServeContext(
        settings=settings,
        jobs={
            name: JobEntry(job, OutputReader(job.output, job.id_columns), RedisScores(name, job.publish) if job.publish else None)
            for name, job in configs.items()
        },
        store=ModelStore(configs, Registry(settings.models_root)),
        batcher=Batcher(),
        metrics=Metrics(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await run_in_threadpool(ctx.store.start if watch else ctx.store.refresh)
        ctx.batcher.start()
        log.info("serve: %d job(s): %s", len(configs), ", ".join(sorted(configs)) or "none")
        yield
        ctx.batcher.stop()
        ctx.store.stop()

    app = FastAPI(
        title="batchscore", description="Online scoring with the batch jobs' own pipelines and code.", lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.include_router(router)
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    if token is not None:
        app.add_middleware(TokenGuard, token=token)
    return app


def _context(request: Request) -> ServeContext:
    return request.app.state.ctx


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug of ours: logged with its traceback, never shown to the client.
    log.error("serve: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal error", "the server's log has the details")


async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
    return _error(exc.status_code, str(exc.detail), None)


@router.post("/v1/jobs/{job}/score", openapi_extra=_SCORE_BODY, summary="Score records with the job's pipeline")
async def score(job: str, request: Request) -> Response:
    ctx = _context(request)

    async def handle() -> tuple[Response, int]:
        limit = ctx.job(job).config.serve.max_records
        records = _parse_records(await _read_body(request, limit * MAX_BYTES_PER_RECORD))
        if len(records) > limit:
            raise _Http(413, f"{len(records)} records in one request, the limit is {limit}", "split the request, or raise serve.max_records in the job file")
        current = ctx.store.served(job)  # kept for the whole request: it finishes on this version
        return Response(await ctx.batcher.score(current, records), media_type="application/json"), len(records)

    return await _observed(ctx, job, "score", handle)


@router.get("/v1/jobs/{job}/scores/{id}", summary="The committed score of one id (latest day, or ?date=)")
async def lookup(job: str, id: str, request: Request, date: str | None = None) -> Response:  # noqa: A002 - the path's name
    ctx = _context(request)

    async def handle() -> tuple[Response, int]:
        entry = ctx.job(job)
        day = _day(date)
        ids = id.split(",")
        row = await _redis_get(entry.redis, ids, day) if entry.redis is not None else None
        id_values: dict = dict(zip(entry.config.id_columns, ids, strict=False))
        if row is None:
            found = await run_in_threadpool(entry.output.find, ids, day)
            if found is not None:
                id_values = {c: found[c] for c in entry.config.id_columns}
                row = _from_output(found, entry.config)
        if row is None:
            raise _Http(404, f"no committed score of id {id} in job {job}" + (f" on {day}" if day else ""), "check the id, or the day with ?date=YYYY-MM-DD")
        return _json({"job": job, "id": id_values, **row}), 0

    return await _observed(ctx, job, "lookup", handle)


async def _observed(ctx: ServeContext, job: str, endpoint: str, handle) -> Response:
    """``handle()``'s response, or the answer to the error it raised (``_answer``; a bug of ours
    is re-raised, a 500), counted in the metrics either way with the records it scored."""
    started = time.perf_counter()
    try:
        response, records = await handle()
    except Exception as exc:
        response = _answer(exc)
        if response is None:
            ctx.observe(job, endpoint, 500, started)
            raise
        records = 0
    ctx.observe(job, endpoint, response.status_code, started, records if response.status_code == 200 else 0)
    return response


@router.get("/healthz", summary="The process is up")
async def healthz() -> Response:
    return _json({"status": "ok"})


@router.get("/readyz", summary="Every job has a model loaded")
async def readyz(request: Request) -> Response:
    store = _context(request).store
    jobs = {
        name: {"model": state.served.model if state.served else None, "error": state.error}
        for name, state in sorted(store.states().items())
    }
    return _json({"ready": store.ready, "jobs": jobs}, 200 if store.ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> Response:
    ctx = _context(request)
    versions = {
        name: (s.served.version.name, s.served.version.version) if s.served else None
        for name, s in ctx.store.states().items()
    }
    return PlainTextResponse(ctx.metrics.render(versions), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/", summary="Status page", response_class=HTMLResponse)
async def status_page(request: Request) -> Response:
    ctx = _context(request)
    return HTMLResponse(await run_in_threadpool(render_status, ctx.settings, ctx.jobs, ctx.store))


@router.get("/jobs/{job}/report", summary="The job's report (batchscore report)", response_class=HTMLResponse)
async def report(job: str, request: Request) -> Response:
    ctx = _context(request)
    try:
        entry = ctx.job(job)
        return HTMLResponse(await run_in_threadpool(render_report, ctx.settings, entry.config))
    except _Http as exc:
        return exc.response()
    except BatchScoreError as exc:
        return _error(503, exc.what, exc.hint)


def app_from_env() -> FastAPI:
    """The uvicorn factory of ``batchscore serve`` (each worker process calls it)."""
    # The scoring thread holds the GIL for long stretches of pandas and scikit-learn code; a
    # shorter switch interval lets the event loop answer lookups and health checks meanwhile.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    log_in_utc()
    return create_app(Settings.resolve(), token=os.environ.get(TOKEN_ENV) or None)


class TokenGuard:
    """Every call but the health checks needs ``Authorization: Bearer <token>`` (plain ASGI:
    no per-request task or body wrapping)."""

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                response = _error(401, "missing or wrong bearer token", f"send Authorization: Bearer <{TOKEN_ENV}>")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- helpers ---------------------------------------------------------------------------------

class _Http(Exception):
    def __init__(self, status: int, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.status, self.what, self.hint = status, what, hint

    def response(self) -> Response:
        return _error(self.status, self.what, self.hint)


def _answer(exc: Exception) -> Response | None:
    """The client's answer to an error of a request: one JSON line with the fix; None for a
    bug of ours (``_internal_error`` logs it and answers 500)."""
    if isinstance(exc, _Http):
        return exc.response()
    if isinstance(exc, InvalidRecord):
        return _error(422, exc.what, exc.hint, record=exc.record, field=exc.field, found=exc.found, expected=exc.expected)
    if isinstance(exc, (SchemaMismatch, ScoringError)):
        return _error(422, exc.what, exc.hint)  # the records do not fit the model
    if isinstance(exc, UsageError):
        return _error(400, exc.what, exc.hint)  # a bad query (?date=)
    if isinstance(exc, BatchScoreError):
        return _error(503, exc.what, exc.hint)  # not serving: no model loaded, an output unreachable
    return None


def _json(body, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, what: str, hint: str | None, **extra) -> Response:
    return JSONResponse({"error": what, "hint": hint, **extra}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Http(413, f"the request body has {declared} bytes, the limit is {limit}", "send fewer records per request")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Http(413, f"the request body exceeds {limit} bytes", "send fewer records per request")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_records(body: bytes) -> list:
    try:
        payload = orjson.loads(body)
    except (orjson.JSONDecodeError, ValueError, UnicodeDecodeError) as exc:
        raise _Http(400, f"the body is not valid JSON: {exc}", 'send {"records": [{...}, ...]}') from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise _Http(422, 'the body must be an object with a "records" array', 'send {"records": [{...}, ...]}')
    return payload["records"]


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Http(400, f"date {text!r} is not YYYY-MM-DD", "give ?date=YYYY-MM-DD") from None


async def _redis_get(redis: RedisScores, ids: list[str], day: date | None) -> dict | None:
    """The id's published row, or None (not published, not in the day, or Redis down: the
    output answers then)."""
    try:
        _published, row = await redis.aget(ids, day)
    except BatchScoreError as exc:
        log.warning("serve: %s", exc)
        return None
    if row is not None:
        row = {"score_date": row.pop("score_date"), **row, "source": "redis"}
    return row


def _from_output(row: dict, job: JobConfig) -> dict:
    out = {"score_date": row.get("score_date"), "score": row.get("score")}
    if "label" in row:
        out["label"] = row["label"]
    out["model"] = {"name": row.get("model_name"), "version": row.get("model_version")}
    out["run_id"] = row.get("run_id")
    out["source"] = job.output.kind
    return out
