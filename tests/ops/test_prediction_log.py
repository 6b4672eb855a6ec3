"""The prediction log: what is appended is read back, and nothing acknowledged is ever lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError

from ops.prediction_log import (
    COLUMNS,
    MAX_LEAD_ID_LENGTH,
    URL_ENV,
    PredictionLog,
    read_predictions,
    sqlite_url,
)
from serving.schemas import LeadId

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on the default SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "log.db")
    return str(request.getfixturevalue("postgres_url"))


def _batch(n: int, prefix: str = "L") -> dict[str, list]:
    return {
        "lead_id": [f"{prefix}{i}" for i in range(n)],
        "as_of": [pd.Timestamp("2026-06-30 12:00") + pd.Timedelta(hours=i) for i in range(n)],
        "probability": [i / (n + 1) for i in range(n)],
        "tier": ["SQL" if i == 0 else "nurture" for i in range(n)],
    }


def test_appended_scores_read_back_with_contract_dtypes(log_url: str) -> None:
    store = PredictionLog(log_url)
    scored_at = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert (
        store.append(
            _batch(3),
            model_name="lead-conversion",
            model_version="4",
            policy_version="2",
            scored_at=scored_at,
        )
        == 3
    )
    frame = store.read()
    assert list(frame.columns) == list(COLUMNS)
    assert frame["lead_id"].tolist() == ["L0", "L1", "L2"]
    assert frame["scored_at"].dtype == "datetime64[ns]"
    # A tz-aware time is stored as naive UTC, the data contract's convention.
    assert (frame["scored_at"] == pd.Timestamp("2026-07-01 09:30")).all()
    assert frame["as_of"].iloc[2] == pd.Timestamp("2026-06-30 14:00")
    assert frame["probability"].tolist() == pytest.approx([0, 0.25, 0.5])
    assert set(frame["model_version"]) == {"4"} and set(frame["policy_version"]) == {"2"}
    assert store.count() == 3


def test_one_as_of_for_a_whole_batch_and_filters(log_url: str) -> None:
    store = PredictionLog(log_url)
    batch = {**_batch(2), "as_of": "2026-06-30T00:00:00Z"}
    store.append(
        batch, model_name="m", model_version="1", policy_version="1", scored_at=datetime(2026, 7, 1)
    )
    store.append(
        _batch(1, "N"),
        model_name="m",
        model_version="2",
        policy_version="1",
        scored_at=datetime(2026, 7, 3),
    )
    everything = store.read()
    assert (everything["as_of"].iloc[:2] == pd.Timestamp("2026-06-30")).all()
    assert store.read(since=datetime(2026, 7, 2))["lead_id"].tolist() == ["N0"]
    assert store.read(until=datetime(2026, 7, 2))["lead_id"].tolist() == ["L0", "L1"]
    assert store.read(model_version="2")["lead_id"].tolist() == ["N0"]


def test_bad_batches_are_refused_whole(log_url: str) -> None:
    store = PredictionLog(log_url)
    with pytest.raises(ValueError, match="probability"):
        store.append(
            {**_batch(2), "probability": [0.1, 1.5]},
            model_name="m",
            model_version="1",
            policy_version="1",
        )
    with pytest.raises(ValueError, match="as_of"):
        store.append(
            {**_batch(2), "as_of": [pd.Timestamp("2026-01-01")]},
            model_name="m",
            model_version="1",
            policy_version="1",
        )
    assert store.count() == 0
    assert store.append(_batch(0), model_name="m", model_version="1", policy_version="1") == 0


def test_the_longest_lead_id_the_api_accepts_is_logged_whole(log_url: str) -> None:
    store = PredictionLog(log_url)
    # The API's own bound: the longest id it accepts, and one character more that it refuses.
    longest = "é" + "x" * (MAX_LEAD_ID_LENGTH - 1)  # multi-byte: the limit counts characters
    TypeAdapter(LeadId).validate_python(longest)
    with pytest.raises(ValidationError):
        TypeAdapter(LeadId).validate_python(longest + "y")
    batch = {**_batch(2), "lead_id": [longest, "L1"]}
    assert store.append(batch, model_name="m", model_version="1", policy_version="1") == 2
    assert store.read()["lead_id"].tolist() == [longest, "L1"]
    # Longer than the API allows: refused whole, with the lead named, not cut or half stored.
    with pytest.raises(ValueError, match=r"lead_id 'éxxx.*\.\.\. is 257 characters"):
        store.append(
            {**_batch(1), "lead_id": [longest + "y"]},
            model_name="m",
            model_version="1",
            policy_version="1",
        )
    assert store.count() == 2


def test_postgresql_scorer_role_appends_and_reads_but_never_changes_rows(
    postgres_url: str,
) -> None:
    """The grants of docs/deployment.md are enough for the service, and the log stays
    append-only for it: UPDATE and DELETE are refused by the database, not only by the code."""
    PredictionLog(postgres_url).close()  # an admin creates the table once
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        for statement in (
            "CREATE ROLE scorer LOGIN PASSWORD 'scorer-test-password'",
            "GRANT SELECT, INSERT ON predictions TO scorer",
            "GRANT USAGE ON SEQUENCE predictions_id_seq TO scorer",
        ):
            connection.exec_driver_sql(statement)
    admin.dispose()
    url = sa.make_url(postgres_url).set(username="scorer", password="scorer-test-password")
    store = PredictionLog(url.render_as_string(hide_password=False))
    assert store.append(_batch(3), model_name="m", model_version="1", policy_version="1") == 3
    assert store.read()["lead_id"].tolist() == ["L0", "L1", "L2"]
    for statement in ("UPDATE predictions SET tier = 'SQL'", "DELETE FROM predictions"):
        with (
            pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
            store.engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    assert store.count() == 3
    store.close()


def _old_log(url: str) -> None:
    """A log as an older leadscore made it: lead ids of VARCHAR(255)."""
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE predictions (id BIGSERIAL PRIMARY KEY, lead_id VARCHAR(255) NOT NULL,"
            " scored_at TIMESTAMP NOT NULL, as_of TIMESTAMP NOT NULL,"
            " model_name VARCHAR(256) NOT NULL, model_version VARCHAR(64) NOT NULL,"
            " policy_version VARCHAR(64) NOT NULL, probability DOUBLE PRECISION NOT NULL,"
            " tier VARCHAR(16) NOT NULL)"
        )
    admin.dispose()


def test_an_older_postgresql_log_is_widened_for_the_longest_lead_id(postgres_url: str) -> None:
    _old_log(postgres_url)
    store = PredictionLog(postgres_url)
    longest = {**_batch(1), "lead_id": ["x" * MAX_LEAD_ID_LENGTH]}
    assert store.append(longest, model_name="m", model_version="1", policy_version="1") == 1
    assert store.read()["lead_id"].tolist() == ["x" * MAX_LEAD_ID_LENGTH]
    store.close()


def test_an_older_log_the_service_may_not_alter_is_reported_with_the_fix(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _old_log(postgres_url)
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        for statement in (  # roles belong to the server: a name of this test's own
            "CREATE ROLE old_log_scorer LOGIN PASSWORD 'scorer-test-password'",
            "GRANT SELECT, INSERT ON predictions TO old_log_scorer",
            "GRANT USAGE ON SEQUENCE predictions_id_seq TO old_log_scorer",
        ):
            connection.exec_driver_sql(statement)
    admin.dispose()
    url = sa.make_url(postgres_url).set(username="old_log_scorer", password="scorer-test-password")
    with caplog.at_level("WARNING", logger="ops.prediction_log"):
        store = PredictionLog(url.render_as_string(hide_password=False))
    assert "ALTER TABLE predictions ALTER COLUMN lead_id TYPE VARCHAR(256)" in caplog.text
    assert "permission" in caplog.text
    assert "scorer-test-password" not in caplog.text
    # Ordinary ids are still logged.
    assert store.append(_batch(2), model_name="m", model_version="1", policy_version="1") == 2
    store.close()


def test_sqlite_log_uses_wal(tmp_path: Path) -> None:
    store = PredictionLog(sqlite_url(tmp_path / "log.db"))
    with store.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    assert mode.lower() == "wal"


def test_read_from_file_dumps_url_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.db"
    store = PredictionLog(sqlite_url(path))
    store.append(_batch(4), model_name="m", model_version="1", policy_version="1")
    frame = store.read()
    frame.to_parquet(tmp_path / "dump.parquet", index=False)
    frame.to_csv(tmp_path / "dump.csv", index=False)
    for source in (path, sqlite_url(path), tmp_path / "dump.parquet", tmp_path / "dump.csv"):
        pd.testing.assert_frame_equal(read_predictions(source), frame)
    with pytest.raises(FileNotFoundError):
        read_predictions(tmp_path / "missing.db")
    monkeypatch.setenv(URL_ENV, str(path))
    from_env = PredictionLog.from_env()
    assert from_env is not None and from_env.count() == 4
    monkeypatch.delenv(URL_ENV)
    assert PredictionLog.from_env() is None


WRITER = textwrap.dedent(
    """
    import sys
    from ops.prediction_log import PredictionLog
    store = PredictionLog(sys.argv[1])
    batch = 0
    while True:
        rows = {
            "lead_id": [f"B{batch}-{i}" for i in range(50)],
            "as_of": "2026-06-30T00:00:00Z",
            "probability": [0.5] * 50,
            "tier": ["MQL"] * 50,
        }
        store.append(rows, model_name="m", model_version="1", policy_version="1")
        print(batch, flush=True)  # acknowledged: the service would now answer the request
        batch += 1
    """
)


def test_nothing_acknowledged_is_lost_when_the_writer_is_killed(log_url: str) -> None:
    url = log_url
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert writer.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    writer.send_signal(signal.SIGKILL)  # mid-way: the writer is inside its loop
    # Read the rest through the same buffered reader: communicate(timeout=...) reads the raw
    # pipe and would miss acknowledgements readline() had already buffered.
    rest = writer.stdout.read()
    writer.wait(timeout=10)
    acknowledged += [int(line) for line in rest.split()]
    assert writer.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40, "the writer did not get going"

    frame = read_predictions(url)
    per_batch = frame["lead_id"].str.split("-").str[0].str[1:].astype(int).value_counts()
    # Every acknowledged batch is there in full; a batch killed mid-commit is all or nothing.
    assert all(per_batch.get(batch, 0) == 50 for batch in acknowledged)
    assert set(per_batch.unique()) <= {50}
    assert per_batch.index.max() <= max(acknowledged) + 1
