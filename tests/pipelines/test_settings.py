"""Settings (``pipelines.settings``): flag over environment over ``settings.yaml`` over the
defaults, and a settings file with an unknown key refused. (``${VAR}`` in ``settings.yaml`` and
the env file: ``test_envfile.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.errors import ConfigError
from pipelines.settings import Settings


def test_settings_precedence_is_flag_env_file_default(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "settings.yaml").write_text("state_url: sqlite:///from_file.db\nmodels: file_models\n")
    env = {"BATCHSCORE_CONFIG_DIR": str(configs), "BATCHSCORE_MODELS": "/env/models"}
    s = Settings.resolve({}, env, cwd=tmp_path)
    assert s.state_url == f"sqlite:///{tmp_path / 'from_file.db'}"
    assert s.models_root == Path("/env/models")
    s = Settings.resolve({"models": "flag_models", "state_url": "postgresql://h/db"}, env, cwd=tmp_path)
    assert s.models_root == tmp_path / "flag_models" and s.state_url == "postgresql://h/db"
    s = Settings.resolve({}, {}, cwd=tmp_path)
    assert s.config_dir == configs and s.models_root == tmp_path / "file_models"
    (configs / "settings.yaml").unlink()
    s = Settings.resolve({}, {}, cwd=tmp_path)
    assert s.state_url == f"sqlite:///{tmp_path / 'data' / 'batchscore.db'}"
    assert s.models_root == tmp_path / "data" / "models"


def test_settings_file_with_an_unknown_key_is_an_error(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "settings.yaml").write_text("state: x\n")
    with pytest.raises(ConfigError, match="unknown key state"):
        Settings.resolve({}, {}, cwd=tmp_path)
