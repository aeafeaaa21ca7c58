"""Where state lives: config dir, state database, model registry, logs.

Precedence, highest first: command-line flags, environment variables (the project's env file,
``pipelines.envfile``, is loaded into them first), ``settings.yaml`` in the config directory, then
the defaults below. Relative paths resolve against the project
root (the parent of the config directory), so cron can run from any working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.envfile import expand_env, load_env_file
from pipelines.errors import ConfigError

# Defaults, each relative to the project root unless absolute.
DEFAULT_CONFIG_DIR = "configs"
DEFAULT_STATE_URL = "sqlite:///data/batchscore.db"  # the run ledger and the locks
DEFAULT_MODELS = "data/models"  # the model registry
DEFAULT_LOG_DIR = "data/logs"  # per-job logs of cron and the scheduler

SETTINGS_FILE = "settings.yaml"

# Setting name -> environment variable.
ENV_VARS = {
    "config_dir": "BATCHSCORE_CONFIG_DIR",
    "state_url": "BATCHSCORE_STATE_URL",
    "models": "BATCHSCORE_MODELS",
    "log_dir": "BATCHSCORE_LOG_DIR",
}


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    state_url: str
    models_root: Path
    log_dir: Path

    @property
    def project_root(self) -> Path:
        return self.config_dir.parent

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, str | None] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Settings from flags, then ``env``, then settings.yaml, then defaults. The project's
        env file is loaded into ``env`` first (never over a variable ``env`` has)."""
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        env = os.environ if env is None else env
        cwd = Path.cwd() if cwd is None else cwd

        def early(key: str) -> str | None:
            return flags.get(key) or env.get(ENV_VARS[key]) or None

        config_dir = Path(early("config_dir") or DEFAULT_CONFIG_DIR)
        config_dir = (config_dir if config_dir.is_absolute() else cwd / config_dir).resolve()
        load_env_file(config_dir.parent, env)
        from_file = _read_settings_file(config_dir / SETTINGS_FILE, env)
        root = config_dir.parent

        def pick(key: str, default: str) -> str:
            return early(key) or from_file.get(key) or default

        return cls(
            config_dir=config_dir,
            state_url=resolve_url(pick("state_url", DEFAULT_STATE_URL), root),
            models_root=resolve_path(pick("models", DEFAULT_MODELS), root),
            log_dir=resolve_path(pick("log_dir", DEFAULT_LOG_DIR), root),
        )


def _read_settings_file(path: Path, env: Mapping[str, str]) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="fix the file") from exc
    allowed = set(ENV_VARS)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {', '.join(sorted(allowed))}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {', '.join(unknown)}",
            hint=f"allowed keys: {', '.join(sorted(allowed))}",
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: key {key} must be a string, got {type(value).__name__}")
    try:  # the job files' expander: ${VAR} and ${VAR:-default}, the key named in its error
        return expand_env(data, "", env)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", hint="set it in the environment or the env file (.env), or give a default") from exc


def resolve_path(path: str | Path, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root / p)


def resolve_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute against ``root``; other URLs pass unchanged."""
    prefix, sep, rest = url.partition(":///")
    if sep and prefix.split("+")[0] == "sqlite" and rest and not rest.startswith("/"):
        if rest == ":memory:" or rest.startswith("file:"):
            return url
        return f"{prefix}:///{root / rest}"
    return url
