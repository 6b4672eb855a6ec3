"""A single table read for training: its separator, labels, columns and cohorts.

What `leadscore train --data TABLE --label-column COL` checks before any model is fitted (the
options against the table, with close matches for mistyped columns; a label with both outcomes;
what must not be a feature), and how the labelled rows split into train, validation and holdout.
The fitting itself: `training/single_table.py`.
"""

from __future__ import annotations

import csv
import difflib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from features.contract import utc_naive_column
from features.tabular import DEFAULT_MISSING_VALUES, mask_placeholders, screen_columns

log = logging.getLogger(__name__)

COHORTS = ("train", "validation", "holdout")
STRATIFIED = "stratified"
TIME = "time"
ROW_ORDER = "(row order)"
ROW_KEY, NUMBER_KEY, DATETIME_KEY = "row", "number", "datetime"

DROPPED = "dropped (--drop)"
LABEL = "label"
TIME_KEY = "time column"

POSITIVE_LABELS = frozenset({"1", "yes", "y", "true", "t", "won", "win", "closed won"})
NEGATIVE_LABELS = frozenset({"0", "no", "n", "false", "f", "lost", "loss", "closed lost"})
_SEPARATORS = (",", ";", "\t", "|")
_SHOWN_VALUES = 20


class TableError(ValueError):
    """The table or the options given for it cannot be trained on; the message says why."""


@dataclass(frozen=True)
class TableConfig:
    """Everything that decides what a single-table training run does."""

    label_column: str
    drop: tuple[str, ...] = ()
    time_column: str | None = None
    row_order_is_time: bool = False
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    holdout_share: float = 0.20
    validation_share: float = 0.15
    segment_columns: tuple[str, ...] = ()
    min_category_count: int = 20
    max_category_levels: int = 50
    model: Mapping[str, Any] = field(default_factory=dict)
    n_bootstrap: int = 200
    seed: int = 0
    # The packed tier policy: these shares of the holdout as SQL and MQL (as for exports).
    sql_share: float = 0.05
    mql_share: float = 0.15

    def __post_init__(self) -> None:
        if not (0 < self.holdout_share < 1 and 0 < self.validation_share < 1):
            raise ValueError("holdout_share and validation_share must be in (0, 1)")
        if self.holdout_share + self.validation_share >= 0.9:
            raise ValueError("holdout_share + validation_share must leave at least 10 % to train")
        if self.time_column is not None and self.row_order_is_time:
            raise ValueError("give a time column or row_order_is_time, not both")

    @property
    def split(self) -> str:
        return TIME if self.time_column is not None or self.row_order_is_time else STRATIFIED


# --------------------------------------------------------------------------- reading


def detect_separator(header: str) -> str:
    """The delimiter of a CSV header line: the candidate outside quotes seen most often."""
    reader_counts: dict[str, int] = {}
    for separator in _SEPARATORS:
        fields = next(csv.reader([header], delimiter=separator), [])
        reader_counts[separator] = len(fields) - 1
    best = max(_SEPARATORS, key=lambda s: reader_counts[s])
    return best if reader_counts[best] > 0 else ","


def read_table(path: Path) -> pd.DataFrame:
    """A .csv (any of , ; tab | as separator, detected) or .parquet table as read."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise TableError(f"{path.name}: expected a .csv or .parquet file")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next((line for line in handle if line.strip()), "")
    separator = detect_separator(header)
    log.info("reading %s with separator %r", path, separator)
    return pd.read_csv(path, sep=separator, encoding="utf-8-sig", low_memory=False)


# --------------------------------------------------------------------------- labels


def parse_labels(values: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Outcomes as 1.0/0.0 (NaN where missing) and the mapping of each raw value found."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values.dtype) or (
        pd.api.types.is_numeric_dtype(values.dtype) and present.isin([0, 1]).all()
    ):
        numbers = values.astype("float64")
        found = sorted(present.unique().tolist())
        return numbers.to_numpy(dtype=np.float64, na_value=np.nan), {str(v): int(v) for v in found}
    text = values.astype("string").str.strip()
    if pd.api.types.is_numeric_dtype(values.dtype):
        # 1.0 / 0.0 read from a column with missing cells
        text = text.str.replace(r"\.0+$", "", regex=True)
    lowered = text.str.lower()
    distinct = sorted(lowered.dropna().unique().tolist())
    distinct = [v for v in distinct if v != ""]
    unknown = [v for v in distinct if v not in POSITIVE_LABELS | NEGATIVE_LABELS]
    if unknown:
        raw = sorted({str(v) for v in present.astype(str).str.strip()})
        shown = ", ".join(repr(v) for v in raw[:_SHOWN_VALUES])
        more = f" (+{len(raw) - _SHOWN_VALUES} more)" if len(raw) > _SHOWN_VALUES else ""
        raise TableError(
            f"the label column must be binary (0/1, yes/no, true/false, won/lost); "
            f"found {len(raw)} distinct values: {shown}{more}"
        )
    labels = np.full(len(values), np.nan)
    positive = lowered.isin(POSITIVE_LABELS).fillna(False).to_numpy(dtype=bool)
    negative = lowered.isin(NEGATIVE_LABELS).fillna(False).to_numpy(dtype=bool)
    labels[positive] = 1.0
    labels[negative] = 0.0
    mapping = {
        str(raw): int(low in POSITIVE_LABELS)
        for raw, low in zip(text, lowered, strict=True)
        if isinstance(low, str) and low
    }
    return labels, dict(sorted(mapping.items()))


# --------------------------------------------------------------------------- splits


def stratified_cohorts(
    y: np.ndarray, holdout_share: float, validation_share: float, seed: int
) -> np.ndarray:
    """Random train/validation/holdout labels per row, each keeping the conversion rate."""
    rows = np.arange(len(y))
    try:
        rest, holdout = train_test_split(
            rows, test_size=holdout_share, stratify=y, random_state=seed
        )
        train, validation = train_test_split(
            rest,
            test_size=validation_share / (1 - holdout_share),
            stratify=y[rest],
            random_state=seed,
        )
    except ValueError as exc:
        raise TableError(f"cannot make a stratified split: {exc}") from None
    cohorts = np.empty(len(y), dtype=object)
    cohorts[train], cohorts[validation], cohorts[holdout] = COHORTS
    return cohorts


def time_cohorts(
    key: np.ndarray, holdout_share: float, validation_share: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train on the earliest rows, validate on the next, hold out the latest, by `key`.

    Cuts fall at the key values where the shares are reached; rows with an equal key are in one
    cohort. Returns the cohorts and the first key of validation and of the holdout.
    """
    n = len(key)
    ordered = np.sort(key, kind="stable")
    n_holdout = max(1, round(n * holdout_share))
    n_validation = max(1, round(n * validation_share))
    holdout_start = ordered[n - n_holdout]
    validation_start = ordered[max(0, n - n_holdout - n_validation)]
    cohorts = np.where(
        key >= holdout_start, "holdout", np.where(key >= validation_start, "validation", "train")
    ).astype(object)
    return cohorts, {"validation": validation_start, "holdout": holdout_start}


def _time_key(values: pd.Series, column: str) -> np.ndarray:
    """Sortable float key of a time column (datetime as ns, or numbers); NaN where missing."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = utc_naive_column(values, "mixed")
    if stamps.notna().sum() < 0.5 * values.notna().sum():
        raise TableError(f"time column {column!r} does not hold dates or numbers")
    ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    ns[stamps.isna().to_numpy()] = np.nan
    return ns


def _format_key(value: float, kind: str) -> str:
    if kind == ROW_KEY:
        return f"row {int(value)}"
    if kind == NUMBER_KEY:
        return f"{value:g}"
    return f"{pd.Timestamp(int(value)):%Y-%m-%dT%H:%M:%S}"


# --------------------------------------------------------------------------- preparation


def _check_columns(table: pd.DataFrame, wanted: Sequence[str], what: str) -> None:
    unknown = [c for c in wanted if c not in table.columns]
    if not unknown:
        return
    hints = []
    for column in unknown:
        close = difflib.get_close_matches(column, [str(c) for c in table.columns], n=1)
        hints.append(f"{column!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TableError(
        f"{what}: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
        f"the table has {len(table.columns)} columns: {', '.join(map(str, table.columns))}"
    )


@dataclass(frozen=True)
class PreparedTable:
    """Labelled rows with the columns that may become features, and what was left out."""

    features: pd.DataFrame  # candidate feature columns, placeholders masked, RangeIndex
    labels: np.ndarray  # 0/1 int8
    rows: np.ndarray  # position of each kept row in the table as read
    time_key: np.ndarray | None  # float per kept row
    time_kind: str | None  # ROW_KEY, NUMBER_KEY or DATETIME_KEY
    excluded: dict[str, str]
    label_values: dict[str, int]
    n_unlabelled: int
    segments: pd.DataFrame


def prepare_table(table: pd.DataFrame, config: TableConfig) -> PreparedTable:
    """Check the options against the table, parse the label, exclude what must not be a feature."""
    table = table.rename(columns=str)
    if table.columns.has_duplicates:
        duplicated = sorted(set(table.columns[table.columns.duplicated()]))
        raise TableError(f"duplicate column names: {', '.join(duplicated)}")
    _check_columns(table, [config.label_column], "--label-column")
    _check_columns(table, list(config.drop), "--drop")
    if config.time_column is not None:
        _check_columns(table, [config.time_column], "--time-column")
    _check_columns(table, list(config.segment_columns), "segment columns")
    if config.label_column in config.drop:
        raise TableError(f"--drop names the label column {config.label_column!r}")

    data = mask_placeholders(table, config.missing_values)
    labels, label_values = parse_labels(data[config.label_column])
    labelled = ~np.isnan(labels)
    time_key: np.ndarray | None = None
    time_kind: str | None = None
    if config.time_column is not None:
        values = data[config.time_column]
        time_key = _time_key(values, config.time_column)
        time_kind = NUMBER_KEY if pd.api.types.is_numeric_dtype(values.dtype) else DATETIME_KEY
        missing_time = labelled & np.isnan(time_key)
        if missing_time.any():
            log.warning(
                "%d labelled rows have no %s; left out", missing_time.sum(), config.time_column
            )
        labelled &= ~np.isnan(time_key)
    elif config.row_order_is_time:
        time_key = np.arange(len(data), dtype=np.float64)
        time_kind = ROW_KEY

    excluded: dict[str, str] = {config.label_column: LABEL}
    excluded.update({c: DROPPED for c in config.drop})
    if config.time_column is not None:
        excluded[config.time_column] = TIME_KEY
    candidates = data.drop(columns=list(excluded))
    excluded.update(screen_columns(candidates.loc[labelled]))
    for column, reason in excluded.items():
        if reason not in (LABEL, DROPPED):
            log.info("column %r is not a feature: %s", column, reason)
    rows = np.flatnonzero(labelled)
    features = data.loc[labelled, [c for c in data.columns if c not in excluded]]
    y = labels[labelled].astype(np.int8)
    if y.size == 0 or y.min() == y.max():
        raise TableError(
            f"the label column {config.label_column!r} needs both outcomes; "
            f"found {int(y.sum())} positives in {y.size} labelled rows"
        )
    return PreparedTable(
        features=features.reset_index(drop=True),
        labels=y,
        rows=rows,
        time_key=None if time_key is None else time_key[labelled],
        time_kind=time_kind,
        excluded=excluded,
        label_values=label_values,
        n_unlabelled=int(len(data) - labelled.sum()),
        segments=data.loc[labelled, list(config.segment_columns)].reset_index(drop=True),
    )


def split_cohorts(
    prepared: PreparedTable, config: TableConfig
) -> tuple[np.ndarray, dict[str, str]]:
    """Cohort per prepared row (time split when there is a time key, else stratified)."""
    if prepared.time_key is None:
        cohorts = stratified_cohorts(
            prepared.labels, config.holdout_share, config.validation_share, config.seed
        )
        return cohorts, {}
    cohorts, starts = time_cohorts(prepared.time_key, config.holdout_share, config.validation_share)
    kind = prepared.time_kind or ROW_KEY
    return cohorts, {name: _format_key(float(v), kind) for name, v in starts.items()}


def check_cohorts(labels: np.ndarray, cohorts: np.ndarray) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in COHORTS:
        y = labels[cohorts == name]
        counts[f"rows_{name}"] = int(y.size)
        counts[f"positives_{name}"] = int(y.sum())
        if y.size == 0 or y.min() == y.max():
            raise TableError(
                f"the {name} cohort needs both outcomes; it has {int(y.sum())} positives in "
                f"{y.size} rows (too few rows, or an outcome only in one period)"
            )
    return counts
