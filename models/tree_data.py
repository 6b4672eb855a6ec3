"""LightGBM's datasets of a feature frame's rows, binned from batches of float32 rows: no float
copy of the whole frame, nor of the rows a fit reads, ever exists (issue 12's memory).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

# Rows LightGBM reads at a time while it bins a dataset: the frame is never copied whole.
DATASET_BATCH_ROWS = 65_536


def _tree_column(column: pd.Series) -> np.ndarray:
    """A frame's column as the trees read it: float32, category codes as numbers (missing as
    NaN). Codes of a few hundred levels are exact in float32."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, codes, np.nan).astype(np.float32)
    return column.to_numpy(dtype=np.float32, na_value=np.nan)


def tree_rows(X: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """Some rows of a feature frame as the trees read them (`_tree_column`), C-ordered."""
    part = X.iloc[positions]
    matrix = np.empty(part.shape, dtype=np.float32, order="F")
    for j in range(part.shape[1]):
        matrix[:, j] = _tree_column(part.iloc[:, j])
    return np.ascontiguousarray(matrix)


class FrameRows(lgb.Sequence):
    """Rows of a feature frame (by position) as LightGBM's batch reader: a batch of
    `DATASET_BATCH_ROWS` rows at a time, so no float copy of the whole frame exists.

    LightGBM first reads single rows (its sample for the bins, in increasing order: each batch
    is built once and kept until a row beyond it is asked for), then pushes slices.
    """

    batch_size = DATASET_BATCH_ROWS

    def __init__(self, X: pd.DataFrame, positions: np.ndarray) -> None:
        self.X = X
        self.positions = positions
        self._batch: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def _rows(self, start: int, stop: int) -> np.ndarray:
        return tree_rows(self.X, self.positions[start:stop])

    def bin_sample(self, indices: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The rows at `indices` (ascending) as LightGBM's bin sample: per column, its values
        that are not zero (float64) and their positions in the sample, what LightGBM's own
        sampler makes of single rows, read a column at a time instead of as a list of rows
        and a float64 matrix of them (at 200,000 sampled rows ~0.5 GB alive at once)."""
        rows = self.positions[indices]
        values, where = [], []
        for j in range(self.X.shape[1]):
            column = _tree_column(self.X.iloc[:, j])[rows].astype(np.float64)
            kept = (np.abs(column) > lgb.basic.ZERO_THRESHOLD) | np.isnan(column)
            values.append(column[kept])
            where.append(np.flatnonzero(kept).astype(np.int32))
        return values, where

    def __getitem__(self, index: int | slice) -> np.ndarray:  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return self._rows(start, stop)
        first = int(index) - int(index) % self.batch_size
        if self._batch is None or self._batch[0] != first:
            self._batch = (first, self._rows(first, first + self.batch_size))
        # The bins are learned from float64 samples (exact copies of the float32 values).
        return self._batch[1][int(index) - first].astype(np.float64)


class _FrameDataset(lgb.Dataset):
    """A dataset of `FrameRows` whose bin sample is read a column at a time (`bin_sample`).

    Overrides LightGBM's private sampler of sequences (`Dataset.__sample`, LightGBM 4.7; the
    bins are the same, tested against one matrix); without it LightGBM's own runs.
    """

    def _Dataset__sample(
        self, *, seqs: list[FrameRows], total_nrow: int
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        (rows,) = seqs
        return rows.bin_sample(self._create_sample_indices(total_nrow=total_nrow))


def lgb_dataset(
    X: pd.DataFrame,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    reference: lgb.Dataset | None = None,
    rows: np.ndarray | None = None,
) -> lgb.Dataset:
    """LightGBM's dataset of a feature frame's `rows` (positions; None: every row), binned
    from batches of float32 rows (`FrameRows`): the same bins and dataset as from one
    float32 matrix of those rows, without that matrix or a copy of the frame's rows.
    `y` and `sample_weight` are per chosen row. Constructed at once, so only LightGBM's
    binned copy (a byte or two per value) stays.
    """
    positions = np.arange(len(X)) if rows is None else np.asarray(rows)
    categorical = [j for j, dtype in enumerate(X.dtypes) if isinstance(dtype, pd.CategoricalDtype)]
    dataset = _FrameDataset(
        FrameRows(X, positions),
        label=np.asarray(y),
        weight=None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64),
        feature_name=[str(c) for c in X.columns],
        categorical_feature=categorical,
        reference=reference,
        free_raw_data=True,
    ).construct()
    if sample_weight is None and reference is not None and reference.get_weight() is not None:
        # LightGBM (4.7) gives a dataset built from batches against a weighted reference
        # weights of 0, not none: validation log loss NaN, early stopping at the first tree.
        # Weights of 1 are what an unweighted dataset means.
        dataset.set_field("weight", np.ones(len(positions), dtype=np.float32))
    return dataset
