"""The alias history of a model: every alias move, appended to ``<name>/alias_history.jsonl``.

One JSON object per line, never rewritten: when, which alias, from which version to which,
by whom (user@host), why, and the promotion gate's verdict when one was checked. Each line is
written with one ``write`` and fsynced before the alias file changes, under the registry's
alias lock, so the history never misses a move that happened. Imports nothing from jobs/.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pipelines.basics import json_default

HISTORY_FILE = "alias_history.jsonl"


@dataclass(frozen=True)
class AliasMove:
    """One alias move; ``at`` is an aware UTC datetime."""

    at: datetime
    alias: str
    from_version: int | None
    to_version: int
    by: str
    reason: str | None = None
    gate: dict | None = field(default=None)  # the gate's verdict (GateVerdict.to_json), if checked

    def to_json(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> AliasMove:
        return cls(
            at=datetime.fromisoformat(data["at"]),
            alias=str(data["alias"]),
            from_version=None if data.get("from_version") is None else int(data["from_version"]),
            to_version=int(data["to_version"]),
            by=str(data.get("by", "")),
            reason=data.get("reason"),
            gate=data.get("gate"),
        )


def who() -> str:
    """user@host of this process, for the record of an alias move."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a container's uid
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def append(model_dir: Path, move: AliasMove) -> None:
    """Append one move to the model's history and flush it to disk (callers hold the
    registry's alias lock, so appends never interleave)."""
    line = json.dumps(move.to_json(), sort_keys=True, default=json_default) + "\n"
    fd = os.open(model_dir / HISTORY_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A torn last line (a crash mid-write) never recorded a move: drop it.
            os.ftruncate(fd, os.pread(fd, size, 0).rfind(b"\n") + 1)
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(model_dir: Path) -> list[AliasMove]:
    """Every recorded move of the model, oldest first; a torn last line (a crash) is ignored."""
    path = model_dir / HISTORY_FILE
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    moves = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            moves.append(AliasMove.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break  # only the last line can be half-written
            raise ValueError(f"{path}: line {number} is not an alias move: {exc}") from exc
    return sorted(moves, key=lambda m: m.at)


def target_at(moves: list[AliasMove], alias: str, moment: datetime) -> AliasMove | None:
    """The move that set ``alias`` last at or before ``moment`` (None: it pointed nowhere yet)."""
    latest = None
    for move in moves:
        if move.alias == alias and move.at <= moment:
            latest = move
    return latest
