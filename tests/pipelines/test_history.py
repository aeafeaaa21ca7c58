"""The alias history: every move recorded, append-only, readable after a torn last line."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from jobs.errors import ModelError
from pipelines.churn import FEATURES, LABEL, build_pipeline
from pipelines.demo_data import make_customer_frame
from pipelines.history import HISTORY_FILE, target_at
from pipelines.registry import Registry


@pytest.fixture(scope="module")
def fitted():
    frame = make_customer_frame(date(2026, 6, 1), 300)
    return build_pipeline().fit(frame[list(FEATURES)], frame[LABEL])


def _at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def test_every_alias_move_is_recorded_with_from_to_who_why_and_gate(tmp_path: Path, fitted):
    now = [_at(1)]
    reg = Registry(tmp_path, clock=lambda: now[0])
    reg.register("m", fitted, alias="production")
    now[0] = _at(2)
    reg.register("m", fitted, alias="staging", training_window=(date(2026, 10, 1), date(2026, 10, 31)))
    now[0] = _at(3)
    reg.promote("m", "staging", "production", reason="better auc", gate={"passed": True}, by="ana@box")
    moves = reg.alias_history("m")
    assert [(m.alias, m.from_version, m.to_version) for m in moves] == [
        ("production", None, 1), ("staging", None, 2), ("production", 1, 2),
    ]
    assert moves[2].by == "ana@box" and moves[2].reason == "better auc" and moves[2].gate == {"passed": True}
    assert moves[0].reason == "registered" and "@" in moves[0].by and moves[0].at == _at(1)
    mv = reg.resolve("m", 2)
    assert (mv.train_start, mv.train_end) == ("2026-10-01", "2026-10-31")
    assert reg.resolve("m", 1).train_end is None

    assert target_at(moves, "production", _at(2, 23)).to_version == 1
    assert target_at(moves, "production", _at(3)).to_version == 2
    assert target_at(moves, "production", datetime(2026, 10, 1, tzinfo=timezone.utc)) is None


def test_a_torn_last_line_is_ignored_and_a_broken_middle_line_is_an_error(tmp_path: Path, fitted):
    reg = Registry(tmp_path)
    reg.register("m", fitted, alias="production")
    path = tmp_path / "m" / HISTORY_FILE
    with open(path, "a") as handle:
        handle.write('{"alias": "prod')  # a crash in the middle of a write
    assert len(reg.alias_history("m")) == 1
    reg.promote("m", 1, "staging")  # the next move drops the torn line
    assert [m.alias for m in reg.alias_history("m")] == ["production", "staging"]
    assert len(path.read_text().splitlines()) == 2
    with open(path, "a") as handle:
        handle.write("not json\n" + path.read_text().splitlines()[0] + "\n")
    with pytest.raises(ModelError, match="line 3 is not an alias move"):
        reg.alias_history("m")
