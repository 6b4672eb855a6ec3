"""Small value helpers shared by the featurizer: distinct values and id lookups.

Online scoring builds features for one lead with a few dozen activities, where the fixed cost
of each pandas call dominates; below `SMALL` rows these helpers use plain Python containers.
Both paths give identical results.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SMALL = 256


def is_missing(value: object) -> bool:
    """None, NaN, pd.NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def factorize(values: pd.Series | pd.Index | np.ndarray) -> tuple[np.ndarray, list[object]]:
    """Codes into the distinct non-missing values in order of appearance; -1 marks missing."""
    if len(values) <= SMALL:
        seen: dict[object, int] = {}
        codes = np.empty(len(values), dtype=np.int64)
        objects = values if isinstance(values, np.ndarray) else values.to_numpy(dtype=object)
        for i, value in enumerate(objects):
            codes[i] = -1 if is_missing(value) else seen.setdefault(value, len(seen))
        return codes, list(seen)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), list(uniques)


def locate(keys: list[str], queries: list[str]) -> np.ndarray:
    """Position of each query in the distinct `keys`, -1 when absent."""
    if len(keys) <= SMALL and len(queries) <= SMALL:
        where = {key: i for i, key in enumerate(keys)}
        return np.fromiter((where.get(q, -1) for q in queries), dtype=np.int64, count=len(queries))
    index = pd.Index(keys, dtype=object)
    return index.get_indexer(pd.Index(queries, dtype=object)).astype(np.int64, copy=False)


def normalised_levels(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Codes into distinct stripped string values (None: missing or blank), and those values."""
    codes, uniques = factorize(values)
    labels: list[str | None] = [str(value).strip() or None for value in uniques]
    # Missing values have code -1, which indexes the trailing None.
    return codes, [*labels, None]


def numeric_values(values: pd.Series | np.ndarray) -> np.ndarray:
    """Float values; text that is not a number becomes NaN."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "bfiu":
            return values.astype(np.float64)
        values = pd.Series(values, dtype=object)
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(values, errors="coerce")
    return np.asarray(converted.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def distinct_values(values: pd.Series | np.ndarray) -> tuple[list[object], np.ndarray]:
    """Distinct values (missing as None) and the inverse index, so parsing runs once per value."""
    codes, uniques = factorize(values)
    labels: list[object] = [*uniques, None]
    # Missing values have code -1, which indexes the trailing None.
    return labels, codes
