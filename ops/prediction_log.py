"""The prediction log: every score the service returned, kept durably for the closed loop.

One row per scored lead: ``lead_id``, ``scored_at`` (when the score was returned), ``as_of``
(the point in time the features describe), the model's registry name and version, the tier
policy version, the calibrated ``probability`` and the ``tier``. Nothing else about the lead
is stored: the closed-loop report joins outcomes and segments from a later CRM export.

The store is any SQL database SQLAlchemy reaches: SQLite by default (one file, WAL journal so
several worker processes can append while a report reads), PostgreSQL by URL
(``postgresql+psycopg://...``; the driver must be installed). Each :meth:`PredictionLog.append`
is one transaction, committed before it returns: a batch is either wholly in the log or not at
all, and once `append` returned it survives the process being killed. With SQLite,
``synchronous=NORMAL`` (the default here) survives a killed process but may lose the last
commits on power loss; ``fsync=True`` (``synchronous=FULL``) survives that too, at the cost of
a disk flush per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from features.contract import utc_naive, utc_naive_column
from models.settings import load_settings

log = logging.getLogger(__name__)

TABLE = "predictions"
DEFAULT_URL = "sqlite:///predictions.db"
URL_ENV = "LEADSCORE_PREDICTION_LOG"  # the variable (models/settings.py reads it)
COLUMNS = (
    "lead_id",
    "scored_at",
    "as_of",
    "model_name",
    "model_version",
    "policy_version",
    "probability",
    "tier",
)
# The API accepts lead ids of up to 256 characters (serving/schemas.py): stored whole.
MAX_LEAD_ID_LENGTH = 256
_TIMESTAMPS = ("scored_at", "as_of")
_TEXT = ("lead_id", "model_name", "model_version", "policy_version", "tier")


def _table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        TABLE,
        metadata,
        # SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants a BIGINT.
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("lead_id", sa.String(MAX_LEAD_ID_LENGTH), nullable=False, index=True),
        sa.Column("scored_at", sa.DateTime(timezone=False), nullable=False, index=True),
        sa.Column("as_of", sa.DateTime(timezone=False), nullable=False),
        sa.Column("model_name", sa.String(MAX_LEAD_ID_LENGTH), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(precision=53), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
    )


def _naive_datetime(value: Any) -> datetime:
    return utc_naive(value).to_pydatetime()


def _column(values: Any, n: int, name: str) -> list[Any]:
    """A per-row list from a sequence of n values or one value broadcast to all rows."""
    if isinstance(values, str | datetime | pd.Timestamp | np.datetime64) or not hasattr(
        values, "__len__"
    ):
        return [values] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} values for {n} leads")
    return out


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


# What a failed write says about its cause, by words of SQLite's and PostgreSQL's messages.
_CAUSES = (
    ("locked", ("database is locked", "lock timeout", "could not obtain lock", "deadlock")),
    ("disk full", ("disk is full", "no space left", "could not extend file", "disk full")),
    (
        "permission",
        ("readonly database", "read-only", "permission denied", "must be owner", "access denied"),
    ),
    ("timeout", ("statement timeout", "timeout expired", "timed out")),
    (
        "unreachable",
        (
            "could not connect",
            "connection refused",
            "unable to open database file",
            "server closed",
        ),
    ),
)


def describe_failure(exc: BaseException) -> str:
    """The cause of a failed log operation in a few words (locked, disk full, permission,
    timeout, unreachable), with the database's own message; never the statement or the rows
    (SQLAlchemy's message quotes both, and rows are leads)."""
    original = getattr(exc, "orig", None) or exc
    message = " ".join(str(original).split())[:300]
    lowered = message.lower()
    for cause, words in _CAUSES:
        if any(word in lowered for word in words):
            return f"{cause} ({type(original).__name__}: {message})"
    return f"{type(original).__name__}: {message}"


class PredictionLog:
    """Append-only store of served scores (SQLite by default, any SQLAlchemy URL).

    `timeout_s` bounds how long a write waits for a lock (SQLite's busy timeout, PostgreSQL's
    lock and statement timeouts) and a connection: the service uses a short one, so an outage
    shows at once instead of holding every request.
    """

    def __init__(
        self, url: str = DEFAULT_URL, fsync: bool = False, timeout_s: float = 30.0
    ) -> None:
        self.url = url
        self.fsync = fsync
        self.timeout_s = timeout_s
        self._metadata = sa.MetaData()
        self._table = _table(self._metadata)
        self.engine = self._create_engine(url, fsync, timeout_s)
        self._metadata.create_all(self.engine)
        self._widen_text_columns()

    def _widen_text_columns(self) -> None:
        """Widen text columns of a log made by an older leadscore (lead ids of VARCHAR(255)
        while the API accepts 256 characters): such an id would be refused by the database
        and its request answered 503. Done where this role may alter the table; otherwise
        the log says which statement its owner must run."""
        if self.engine.dialect.name == "sqlite":
            return  # SQLite never enforces a VARCHAR length
        for column in sa.inspect(self.engine).get_columns(TABLE):
            name = str(column["name"])
            have = getattr(column["type"], "length", None)
            want = (
                getattr(self._table.c[name].type, "length", None) if name in self._table.c else None
            )
            if have is None or want is None or have >= want:
                continue
            statement = f"ALTER TABLE {TABLE} ALTER COLUMN {name} TYPE VARCHAR({want})"
            reason = "not tried on this database"
            if self.engine.dialect.name == "postgresql":
                try:
                    with self.engine.begin() as connection:
                        connection.exec_driver_sql(statement)
                except sa.exc.DBAPIError as exc:
                    reason = describe_failure(exc)
                else:
                    log.info("prediction log column %s widened from %d to %d", name, have, want)
                    continue
            log.warning(
                "prediction log column %s holds %d characters, the API allows %d: requests "
                "with longer values will be answered 503 until the table's owner runs: %s (%s)",
                name,
                have,
                want,
                statement,
                reason,
            )

    @classmethod
    def from_env(cls) -> PredictionLog | None:
        """The log named by LEADSCORE_PREDICTION_LOG (a URL or a SQLite file), if set."""
        target = load_settings().prediction_log or ""
        if not target:
            return None
        return cls(target if "://" in target else sqlite_url(target))

    @staticmethod
    def _create_engine(url: str, fsync: bool, timeout_s: float) -> Engine:
        millis = max(1, round(timeout_s * 1000))
        if not url.startswith("sqlite"):
            connect_args: dict[str, Any] = {}
            if url.startswith("postgresql"):
                connect_args = {
                    "connect_timeout": max(1, round(timeout_s)),
                    "options": f"-c lock_timeout={millis} -c statement_timeout={millis}",
                }
            return sa.create_engine(
                url, pool_pre_ping=True, pool_timeout=timeout_s, connect_args=connect_args
            )
        engine = sa.create_engine(url, connect_args={"timeout": timeout_s})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={millis}")
            # WAL: readers never block the writer, and a commit is one append to the WAL file.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            cursor.close()

        return engine

    def append(
        self,
        scores: Mapping[str, Any] | pd.DataFrame,
        *,
        model_name: str,
        model_version: str,
        policy_version: str,
        scored_at: datetime | None = None,
    ) -> int:
        """Store one batch of scores (columns lead_id, as_of, probability, tier) in one commit.

        `as_of` may be one value for the whole batch. Returns the number of rows stored; when
        it returns, the rows are committed.
        """
        lead_ids = [str(v) for v in scores["lead_id"]]
        too_long = next((lead for lead in lead_ids if len(lead) > MAX_LEAD_ID_LENGTH), None)
        if too_long is not None:
            raise ValueError(
                f"lead_id {too_long[:20]!r}... is {len(too_long)} characters; "
                f"the log stores at most {MAX_LEAD_ID_LENGTH}"
            )
        n = len(lead_ids)
        if n == 0:
            return 0
        when = _naive_datetime(scored_at if scored_at is not None else datetime.now(UTC))
        as_of = [_naive_datetime(v) for v in _column(scores["as_of"], n, "as_of")]
        probability = [float(v) for v in _column(scores["probability"], n, "probability")]
        if not all(0.0 <= p <= 1.0 for p in probability):
            raise ValueError("probability must lie in [0, 1]")
        tier = [str(v) for v in _column(scores["tier"], n, "tier")]
        rows = [
            {
                "lead_id": lead_ids[i],
                "scored_at": when,
                "as_of": as_of[i],
                "model_name": model_name,
                "model_version": str(model_version),
                "policy_version": str(policy_version),
                "probability": probability[i],
                "tier": tier[i],
            }
            for i in range(n)
        ]
        with self.engine.begin() as connection:
            connection.execute(self._table.insert(), rows)
        return n

    def read(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        model_version: str | None = None,
    ) -> pd.DataFrame:
        """Logged scores (optionally scored in [since, until), of one model version), in order."""
        table = self._table
        query = sa.select(*[table.c[name] for name in COLUMNS]).order_by(table.c.id)
        if since is not None:
            query = query.where(table.c.scored_at >= _naive_datetime(since))
        if until is not None:
            query = query.where(table.c.scored_at < _naive_datetime(until))
        if model_version is not None:
            query = query.where(table.c.model_version == str(model_version))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return normalise_predictions(pd.DataFrame(rows, columns=list(COLUMNS)))

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(self._table)).scalar_one()
            )

    def close(self) -> None:
        self.engine.dispose()


def normalise_predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Logged scores with the contract's dtypes: string ids, tz-naive UTC datetime64[ns]."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"prediction log lacks columns {missing}")
    out = frame.loc[:, list(COLUMNS)].copy()
    for column in _TIMESTAMPS:
        out[column] = utc_naive_column(out[column], "mixed", errors="raise")
    for column in _TEXT:
        out[column] = out[column].astype(str)
    out["probability"] = out["probability"].astype(float)
    return out.reset_index(drop=True)


def read_predictions(source: str | Path) -> pd.DataFrame:
    """Logged scores from a database URL, a SQLite file, or a .parquet/.csv dump of the log."""
    text = str(source)
    if "://" in text:
        log_store = PredictionLog(text)
        try:
            return log_store.read()
        finally:
            log_store.close()
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"no prediction log at {path}")
    if path.suffix == ".parquet":
        return normalise_predictions(pd.read_parquet(path))
    if path.suffix == ".csv":
        return normalise_predictions(pd.read_csv(path, dtype={c: str for c in _TEXT}))
    log_store = PredictionLog(sqlite_url(path))
    try:
        return log_store.read()
    finally:
        log_store.close()
