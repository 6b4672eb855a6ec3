"""A CRM export table on its way through validation: raw cells, then ids and text normalised,
timestamps and numbers parsed (with masks of the cells that failed), then the normalised tables
an `Export` holds. What is wrong with them is judged in `features/validation.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import (
    ACTIVITIES,
    LEAD_OPTIONAL,
    LEADS,
    OPPORTUNITIES,
    TIMESTAMP_COLUMNS,
    utc_naive_column,
)

# Earlier stamps are placeholders (1900-01-01) or typos, never real CRM events; the upper
# bound is what datetime64[ns] can hold.
EARLIEST_TIMESTAMP = pd.Timestamp("1970-01-01")
LATEST_TIMESTAMP = pd.Timestamp("2262-04-11")

NUMERIC_COLUMNS = {LEADS: ("company_size",), ACTIVITIES: (), OPPORTUNITIES: ("amount",)}
ID_COLUMNS = {
    LEADS: ("lead_id",),
    ACTIVITIES: ("lead_id",),
    OPPORTUNITIES: ("opportunity_id", "lead_id"),
}
TEXT_COLUMNS = {LEADS: (), ACTIVITIES: ("activity_type",), OPPORTUNITIES: ("status",)}
# Text columns a reader may hand on dictionary-encoded (a Categorical), kept so: activity
# types, a few dozen values on every activity row.
DICTIONARY_COLUMNS = {LEADS: (), ACTIVITIES: ("activity_type",), OPPORTUNITIES: ()}

# Timestamps of this shape that fail to parse name no real date/time (2024-02-30, 25:00).
_ISO_SHAPE = (
    r"\d{4}-\d{1,2}-\d{1,2}"  # date
    r"([Tt ]\d{1,2}(:\d{1,2}(:\d{1,2}([.,]\d+)?)?)?)?"  # time
    r"\s*([Zz]|[+-]\d{2}(:?\d{2})?)?"  # offset
)


@dataclass(frozen=True)
class ParsedTimestamps:
    """A parsed timestamp column: tz-naive UTC values (NaT where missing or bad), bad-row masks."""

    values: pd.Series
    unparsable: pd.Series
    impossible: pd.Series


@dataclass(frozen=True)
class ParsedNumbers:
    values: pd.Series
    not_number: pd.Series
    negative: pd.Series


@dataclass
class TableStage:
    """One table on its way through validation: raw cells, normalised ids/text, parsed columns."""

    table: str
    raw: pd.DataFrame
    frame: pd.DataFrame
    times: dict[str, ParsedTimestamps] = field(default_factory=dict)
    numbers: dict[str, ParsedNumbers] = field(default_factory=dict)
    offset: int = 0  # rows of the table before this piece (a table validated in batches)

    def has(self, column: str) -> bool:
        return column in self.frame.columns


def stage_table(table: str, frame: pd.DataFrame, offset: int = 0) -> TableStage:
    raw = frame.reset_index(drop=True)
    # Copy-on-write: the normalised table shares the raw columns it does not replace.
    normalised = raw.copy(deep=False)
    for column in ID_COLUMNS[table]:
        if column in raw.columns:
            normalised[column] = _as_ids(raw[column])
    for column in TEXT_COLUMNS[table]:
        if column in raw.columns:
            keep = column in DICTIONARY_COLUMNS[table]
            normalised[column] = _as_stripped_text(raw[column], keep_dictionary=keep)
    if table == OPPORTUNITIES and "status" in normalised.columns:
        normalised["status"] = normalised["status"].str.lower()
    for column in (*TIMESTAMP_COLUMNS[table], *NUMERIC_COLUMNS[table]):
        if column in raw.columns and not _is_native(raw[column]):
            normalised[column] = _as_stripped_text(raw[column])
    stage = TableStage(table, raw, normalised, offset=offset)
    for column in TIMESTAMP_COLUMNS[table]:
        if column in raw.columns:
            stage.times[column] = _parse_timestamps(normalised[column])
    for column in NUMERIC_COLUMNS[table]:
        if column in raw.columns:
            stage.numbers[column] = _parse_numbers(normalised[column])
    return stage


def _is_native(values: pd.Series) -> bool:
    """Datetimes and numbers as parquet stores them, as opposed to text to be parsed."""
    return pd.api.types.is_datetime64_any_dtype(values) or (
        pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    )


def _as_stripped_text(values: pd.Series, keep_dictionary: bool = False) -> pd.Series:
    """Strings with surrounding whitespace removed; empty strings become missing.

    With `keep_dictionary`, a dictionary-encoded column stays one: its distinct values are
    stripped (those that become equal merge), not every row.
    """
    if keep_dictionary and isinstance(values.dtype, pd.CategoricalDtype):
        return _stripped_categories(values)
    text = values.astype("str").str.strip()
    return text.mask(text == "")


def _stripped_categories(values: pd.Series) -> pd.Series:
    stripped = _as_stripped_text(pd.Series(values.cat.categories, dtype="str"))
    kept = sorted(set(stripped.dropna()))
    recode = pd.Index(kept).get_indexer(stripped)  # -1 where a category strips to ""
    codes = values.cat.codes.to_numpy()
    new_codes = np.where(codes >= 0, np.append(recode, -1)[codes], -1)
    return pd.Series(
        pd.Categorical.from_codes(new_codes, categories=pd.Index(kept, dtype="str")),
        index=values.index,
    )


def _as_ids(values: pd.Series) -> pd.Series:
    """Ids as strings; integral floats (ints that met a missing value) lose their `.0`."""
    if pd.api.types.is_float_dtype(values) and bool(
        (values.dropna() == np.round(values.dropna())).all()
    ):
        values = values.astype("Int64")
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str").mask(values.isna())
    return _as_stripped_text(values)


def _parse_timestamps(raw: pd.Series) -> ParsedTimestamps:
    """Parse stripped ISO-8601 text or native datetimes into tz-naive UTC (no offset = UTC)."""
    present = raw.notna()
    unparsable = pd.Series(False, index=raw.index)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        parsed = utc_naive_column(raw)
    else:
        text = raw.astype("str")
        parsed = utc_naive_column(text)
        failed = present & parsed.isna()
        if failed.any():
            iso_shaped = text[failed].str.fullmatch(_ISO_SHAPE)
            unparsable[failed] = ~iso_shaped.astype(bool)
    out_of_range = (parsed < EARLIEST_TIMESTAMP) | (parsed >= LATEST_TIMESTAMP)
    impossible = (present & parsed.isna() & ~unparsable) | out_of_range
    values = parsed.mask(impossible).astype("datetime64[ns]")
    return ParsedTimestamps(values=values, unparsable=unparsable, impossible=impossible)


def _parse_numbers(raw: pd.Series) -> ParsedNumbers:
    """Parse stripped text or native numbers into floats."""
    present = raw.notna()
    if _is_native(raw):
        values = raw.astype("float64")
    else:
        values = pd.to_numeric(raw.astype("str"), errors="coerce").astype("float64")
    not_number = present & ~pd.Series(np.isfinite(values.to_numpy()), index=raw.index)
    values = values.mask(not_number)
    return ParsedNumbers(values=values, not_number=not_number, negative=values < 0)


def normalised_leads(stage: TableStage) -> pd.DataFrame:
    out = pd.DataFrame(
        {"lead_id": stage.frame["lead_id"], "created_at": stage.times["created_at"].values}
    )
    for column in LEAD_OPTIONAL:
        if column == "company_size":
            out[column] = (
                stage.numbers[column].values
                if column in stage.numbers
                else pd.Series(np.nan, index=out.index, dtype="float64")
            )
        elif column in stage.raw.columns:
            out[column] = stage.raw[column].astype("str").mask(stage.raw[column].isna())
        else:
            out[column] = pd.Series(np.nan, index=out.index, dtype="str")
    for column in stage.raw.columns:
        if column not in out.columns:
            out[column] = _extra_attribute(stage.raw[column])
    return out


def _extra_attribute(values: pd.Series) -> pd.Series:
    """A custom CRM field: numeric when every present value is a number, else kept as it is."""
    if not pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        return values
    present = values.notna()
    if not present.any():
        return values
    numbers = pd.to_numeric(values.astype("str").str.strip(), errors="coerce")
    if numbers[present].notna().all():
        return numbers
    return values


def normalised_activities(stage: TableStage) -> pd.DataFrame:
    detail = (
        stage.raw["detail"].astype("str").mask(stage.raw["detail"].isna())
        if stage.has("detail")
        else pd.Series(np.nan, index=stage.raw.index, dtype="str")
    )
    return pd.DataFrame(
        {
            "lead_id": stage.frame["lead_id"],
            "occurred_at": stage.times["occurred_at"].values,
            "activity_type": stage.frame["activity_type"],
            "detail": detail,
        }
    )


def normalised_opportunities(stage: TableStage) -> pd.DataFrame:
    index = stage.raw.index
    status = stage.frame["status"]
    closed = (
        stage.times["closed_at"].values
        if "closed_at" in stage.times
        else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    )
    amount = (
        stage.numbers["amount"].values
        if "amount" in stage.numbers
        else pd.Series(np.nan, index=index, dtype="float64")
    )
    return pd.DataFrame(
        {
            "opportunity_id": stage.frame["opportunity_id"],
            "lead_id": stage.frame["lead_id"],
            "created_at": stage.times["created_at"].values,
            "closed_at": closed.mask(status == "open"),
            "status": status,
            "amount": amount,
        }
    )
