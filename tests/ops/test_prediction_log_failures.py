"""A failed prediction-log write says why: locked, disk full or permission (finding 4)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ops.prediction_log import PredictionLog, describe_failure, sqlite_url

BATCH = {
    "lead_id": [f"L{i}" for i in range(200)],
    "as_of": "2026-06-30T00:00:00",
    "probability": [0.5] * 200,
    "tier": ["MQL"] * 200,
}
MODEL = {"model_name": "m", "model_version": "1", "policy_version": "1"}


def _failure(store: PredictionLog) -> str:
    with pytest.raises(Exception) as failed:
        store.append(BATCH, **MODEL)
    cause = describe_failure(failed.value)
    assert "L1" not in cause and "INSERT" not in cause  # never the rows or the statement
    return cause


def test_locked_log_fails_fast_and_says_locked(tmp_path: Path) -> None:
    import time

    path = tmp_path / "log.db"
    store = PredictionLog(sqlite_url(path), timeout_s=0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        assert _failure(store).startswith("locked")
        assert time.monotonic() - started < 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.append(BATCH, **MODEL) == 200


def test_full_disk_says_disk_full(tmp_path: Path) -> None:
    store = PredictionLog(sqlite_url(tmp_path / "log.db"))

    @sa.event.listens_for(store.engine, "connect")
    def _small(connection: Any, _record: Any) -> None:
        # SQLite's own limit on the file: it answers as a full disk does (SQLITE_FULL).
        count = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count={count}")

    store.engine.dispose()
    assert _failure(store).startswith("disk full")


def test_read_only_log_says_permission(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    PredictionLog(sqlite_url(path)).close()
    store = PredictionLog(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert _failure(store).startswith("permission")
