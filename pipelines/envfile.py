"""The project's env file: one environment for the shell, cron, the daemon and spark-submit.

Every entry point loads it before any ``${VAR}`` is expanded: ``.env`` in the project root
(the parent of the config directory), or the file ``BATCHSCORE_ENV_FILE`` names (relative to
the project root). The format is dotenv's (``KEY=value``, ``export KEY=value``, quotes,
comments); a variable already in the environment wins over the file. Cron starts jobs with
a bare environment, so what a job needs (``WAREHOUSE_URL``, secrets) belongs here, not in
the crontab.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError

ENV_FILE_VAR = "BATCHSCORE_ENV_FILE"
DEFAULT_ENV_FILE = ".env"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def env_file_path(root: Path, env: MutableMapping[str, str]) -> Path:
    named = env.get(ENV_FILE_VAR)
    path = Path(named).expanduser() if named else Path(DEFAULT_ENV_FILE)
    return path if path.is_absolute() else root / path


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of ``path`` (none when it does not exist); dotenv's ``${VAR}`` references
    inside the file are expanded against the environment and the file's earlier lines."""
    from dotenv import dotenv_values

    if not path.is_file():
        if path.exists():
            raise ConfigError(f"{path}: the env file is not a regular file")
        return {}
    try:
        values = dotenv_values(path, interpolate=True)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the env file: {exc}", hint="fix its permissions or encoding") from exc
    return {k: v for k, v in values.items() if v is not None}


def load_env_file(root: Path, env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the env file's variables into ``env`` (default: this process's environment, which
    child processes inherit) where not already set; returns the file's variables."""
    env = os.environ if env is None else env
    values = read_env_file(env_file_path(root, env))
    for key, value in values.items():
        if key not in env:
            env[key] = value
    return values


def expand_env(value: Any, path: str, env: Mapping[str, str]) -> Any:
    """``${VAR}`` and ``${VAR:-default}`` in every string value, recursively."""
    if isinstance(value, str):

        def sub(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise ValueError(f"{path or 'value'}: environment variable {name} is not set (use ${{{name}:-default}} for a default)")

        return ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    return value
