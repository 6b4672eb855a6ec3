"""The float matrix both parts of the conversion model read: category codes (missing as NaN)
and numbers as float64, one column per feature, as LightGBM predicts from it; and its columns
taken a few at a time (`FeatureColumns`), so the linear part reads its terms without the matrix
of its fitting rows existing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd


class FeatureColumns(Protocol):
    """Columns of the float matrix (`feature_matrix`) of some rows, taken a few at a time:
    the linear model reads its terms from them without the whole matrix existing."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def take(self, positions: np.ndarray) -> np.ndarray:
        """float64 values of the columns at `positions`, column-major (one row per row)."""
        ...


class MatrixColumns:
    """`FeatureColumns` of a float matrix that exists."""

    def __init__(self, A: np.ndarray) -> None:
        self.A = np.asarray(A, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.A.shape[0], self.A.shape[1])

    def take(self, positions: np.ndarray) -> np.ndarray:
        return self.A[:, positions]  # a column selection: column-major


def feature_matrix(
    X: pd.DataFrame,
    categories: Mapping[str, pd.CategoricalDtype] | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Features as LightGBM's float matrix: category codes (missing as NaN), numbers as floats.

    With `categories` (a dtype per categorical column), each categorical column must carry
    exactly those levels, so the codes mean what they meant in training; a mismatch raises
    instead of scoring the wrong level. With `rows` (positions), only those rows, gathered
    column by column: no copy of the frame's rows on the way.
    """
    out = np.empty((len(X) if rows is None else len(rows), X.shape[1]), dtype=np.float64)
    numeric: list[int] = []
    for j, dtype in enumerate(X.dtypes):
        if not isinstance(dtype, pd.CategoricalDtype):
            numeric.append(j)
            continue
        name = X.columns[j]
        # Identity is the common case (the featurizer's own dtype objects); otherwise the
        # levels must match in order.
        expected = None if categories is None else categories[name]
        if (
            expected is not None
            and dtype is not expected
            and list(dtype.categories) != list(expected.categories)
        ):
            raise ValueError(f"feature {name!r} has other category levels than in training")
        codes = np.asarray(X.iloc[:, j].array.codes)
        if rows is not None:
            codes = codes[rows]
        out[:, j] = np.where(codes >= 0, codes, np.nan)
    if rows is not None:
        for j in numeric:
            out[:, j] = X.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    elif numeric:
        first = numeric[0]
        # One block copy (a slice when the numbers are the trailing columns, as the
        # featurizer lays them out): column-by-column access costs more than a prediction.
        block = (
            X.iloc[:, first:] if numeric == list(range(first, X.shape[1])) else X.iloc[:, numeric]
        )
        out[:, numeric] = block.to_numpy(dtype=np.float64, na_value=np.nan)
    return out
