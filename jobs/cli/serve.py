"""Commands of online scoring: serve, parity, publish."""

from __future__ import annotations

import ipaddress
import os

from jobs import config as config_mod
from jobs.cli.common import chosen_day, resolve_settings
from jobs.errors import EXIT_OK, BatchScoreError, ConfigError, ParityMismatch, UsageError


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args) -> int:
    from jobs.serve.app import TOKEN_ENV

    settings = resolve_settings(args)
    token = os.environ.get(TOKEN_ENV) or None
    if not _loopback(args.host) and token is None:
        raise UsageError(
            f"refusing to serve on {args.host} without a token",
            hint=f"set {TOKEN_ENV} (clients send it as 'Authorization: Bearer <token>'), or serve on 127.0.0.1",
        )
    for name in config_mod.job_names(settings.config_dir):  # a broken job file: exit 2 before binding
        config_mod.load_named(settings.config_dir, name)
    try:
        import uvicorn
    except ModuleNotFoundError as exc:
        raise ConfigError("batchscore serve needs uvicorn and fastapi", hint="pip install 'batchscore[serve]'") from exc
    # Worker processes build the app from the environment: hand them these settings.
    os.environ["BATCHSCORE_CONFIG_DIR"] = str(settings.config_dir)
    os.environ["BATCHSCORE_STATE_URL"] = settings.state_url
    os.environ["BATCHSCORE_MODELS"] = str(settings.models_root)
    uvicorn.run(
        "jobs.serve.app:app_from_env", factory=True, host=args.host, port=args.port, workers=args.workers,
        log_config=None, access_log=False, server_header=False,
    )
    return EXIT_OK


def cmd_parity(args) -> int:
    from jobs.serve.app import TOKEN_ENV
    from jobs.serve.parity import check_parity

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    day = chosen_day(job, args.date)
    try:
        result = check_parity(
            job, day, settings, sample=args.sample, url=args.url, tolerance=args.tolerance,
            token=os.environ.get(TOKEN_ENV) or None,
        )
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)
    print(result.summary(args.tolerance))
    if result.differing:
        labels = f", {result.labels_differing} with another label" if result.labels_differing else ""
        raise ParityMismatch(
            f"{result.differing} of {result.compared} rows differ by more than {args.tolerance:g}{labels} "
            f"(largest {result.largest:.3g}); ids: {', '.join(result.ids)}",
            hint="online and batch disagree: check that both run the same code and model version",
            job=job.name, day=day,
        )
    return EXIT_OK


def cmd_publish(args) -> int:
    from jobs.serve.publish import publish_day

    settings = resolve_settings(args)
    job = config_mod.load_named(settings.config_dir, args.job)
    day = chosen_day(job, args.date)
    try:
        done = publish_day(job, day)
    except BatchScoreError as exc:
        raise exc.in_context(job.name, day)
    print(f"published {job.name} {day}: {done.rows} scores of run {done.run_id} are current in Redis")
    return EXIT_OK
