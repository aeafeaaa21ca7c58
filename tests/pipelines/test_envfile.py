"""One environment everywhere: the project's env file and ``settings.yaml``'s ``${VAR}``. (The
per-job log files of cron: ``tests/jobs/test_logfile.py``.)"""

from __future__ import annotations

import pytest

from pipelines.envfile import load_env_file, read_env_file
from jobs.errors import ConfigError
from pipelines.settings import Settings


def project(tmp_path):
    (tmp_path / "configs").mkdir()
    return tmp_path / "configs"


def test_the_env_file_of_the_project_root_is_loaded_and_the_environment_wins(tmp_path):
    configs = project(tmp_path)
    (tmp_path / ".env").write_text(
        "# comment\nexport BATCHSCORE_STATE_URL=postgresql://db/state\nBATCHSCORE_MODELS='my models'\nWAREHOUSE_URL=\"sqlite:///w.db\"\n"
    )
    env = {"BATCHSCORE_MODELS": "/from/shell"}
    s = Settings.resolve({"config_dir": str(configs)}, env)
    assert s.state_url == "postgresql://db/state"
    assert s.models_root.as_posix() == "/from/shell"  # already in the environment: kept
    assert env["WAREHOUSE_URL"] == "sqlite:///w.db"  # there for the job files' ${WAREHOUSE_URL}


def test_batchscore_env_file_names_another_file_relative_to_the_project_root(tmp_path):
    project(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "prod.env").write_text("A=1\nB=${A}2\n")
    env = {"BATCHSCORE_ENV_FILE": "secrets/prod.env"}
    assert load_env_file(tmp_path, env) == {"A": "1", "B": "12"}
    assert env["B"] == "12"
    assert read_env_file(tmp_path / "missing.env") == {}


def test_settings_yaml_expands_variables_with_defaults_and_names_file_and_key_when_one_is_unset(tmp_path):
    configs = project(tmp_path)
    (configs / "settings.yaml").write_text("state_url: ${STATE_URL:-sqlite:///data/s.db}\nmodels: ${MODELS_DIR}\n")
    s = Settings.resolve({"config_dir": str(configs)}, {"MODELS_DIR": "/m"})
    assert s.state_url == f"sqlite:///{tmp_path}/data/s.db" and s.models_root.as_posix() == "/m"
    (tmp_path / ".env").write_text("STATE_URL=postgresql://h/s\n")
    with pytest.raises(ConfigError) as err:
        Settings.resolve({"config_dir": str(configs)}, {})
    assert f"{configs / 'settings.yaml'}: models: environment variable MODELS_DIR is not set" in str(err.value)
    assert Settings.resolve({"config_dir": str(configs)}, {"MODELS_DIR": "m"}).state_url == "postgresql://h/s"
