"""Fits that bound their memory (terms by blocks of columns, datasets from batches of rows,
rows read by position) give what the whole-matrix computations give."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, _linear_loss

from models import linear_solver, tree_data
from models.conversion import ConversionModel
from models.linear import TERM_BLOCK, LinearLogOdds, training_range
from models.tree_data import lgb_dataset, tree_rows
from tests.models.test_conversion import lead_frame


def whole_matrix_fit(
    A: np.ndarray, y: np.ndarray, n_levels: tuple[int, ...], w: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """The linear model's coefficients computed on the whole matrix at once, as it was first
    written: statistics of every numeric column, then one design of stacked copies."""

    def signed_log1p(x: np.ndarray) -> np.ndarray:
        return np.sign(x) * np.log1p(np.abs(x))

    categorical = list(range(len(n_levels)))
    values = A[:, len(n_levels) :]
    missing = np.isnan(values)
    median = np.nan_to_num(np.nanmedian(np.where(missing.all(axis=0), 0.0, values), axis=0))
    low, high = training_range(values)
    logged = signed_log1p(np.where(missing, median, values))
    scale = logged.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    filled = np.clip(np.where(missing, median, values), low, high)
    z = (signed_log1p(filled) - logged.mean(axis=0)) / scale
    indicators = missing[:, missing.any(axis=0)].astype(np.float64)
    one_hot = [np.eye(n)[A[:, k].astype(int)] for k, n in zip(categorical, n_levels, strict=True)]
    design = np.hstack([z, indicators, *one_hot])
    model = LogisticRegression(C=0.1, max_iter=500, solver="newton-cholesky")
    model.fit(design, y, sample_weight=w)
    return model.coef_.ravel(), float(model.intercept_[0])


@pytest.mark.parametrize("weighted", [False, True])
def test_linear_terms_by_blocks_give_the_whole_matrix_coefficients(
    weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linear_solver, "HESSIAN_BLOCK_ROWS", 1_500)  # the Hessian in 3 blocks
    sandwich = _linear_loss.sandwich_dot
    rng = np.random.default_rng(7)
    n, n_numbers = 4_000, 3 * TERM_BLOCK + 5  # several blocks, the last one partial
    numbers = rng.lognormal(1.0, 1.2, (n, n_numbers)) * rng.choice([-1, 1], (n, n_numbers))
    numbers[rng.random((n, n_numbers)) < 0.15] = np.nan
    numbers[:, 3] = np.nan  # never seen: median 0, unbounded range
    levels = np.column_stack([rng.integers(0, 4, n), rng.integers(0, 3, n)]).astype(float)
    A = np.hstack([levels, numbers])
    logit = -1.5 + 0.4 * np.nan_to_num(np.log1p(np.abs(numbers[:, 0]))) + 0.5 * levels[:, 0]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    w = rng.uniform(1.0, 4.0, n) if weighted else None

    model = LinearLogOdds((0, 1), (4, 3)).fit(A, y, w)
    assert _linear_loss.sandwich_dot is sandwich  # sklearn's own Hessian is back
    coef, intercept = whole_matrix_fit(A, y, (4, 3), w)
    fitted = np.concatenate([model.numeric_coef_, model.indicator_coef_, *model.level_coef_])
    assert np.allclose(fitted, coef, rtol=1e-10, atol=1e-12)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-10)
    # Contributions (per block of columns) still add up to the log-odds of the same fit.
    contrib = model.contributions(A)
    assert np.allclose(contrib.sum(axis=1) + model.bias_, model.decision_function(A))
    if w is None:  # centred on the training population
        assert np.allclose(contrib.mean(axis=0), 0.0, atol=1e-9)


def test_dataset_from_batches_of_rows_is_the_dataset_of_one_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = lead_frame(4_000, 11)
    X = X.astype({"act__visit__count": np.float32, "lead__noise": np.float32})
    rows = np.sort(np.random.default_rng(1).choice(len(X), 3_000, replace=False))
    monkeypatch.setattr(tree_data.FrameRows, "batch_size", 700)  # several batches
    params = ConversionModel(min_child_samples=50).lgb_params()
    one_matrix = lgb.Dataset(
        tree_rows(X, rows),
        label=y[rows],
        feature_name=list(X.columns),
        categorical_feature=[0],
    )
    expected = lgb.train(params, one_matrix, 30).model_to_string()
    sampled: list[int] = []
    bin_sample = tree_data.FrameRows.bin_sample

    def counted(self: tree_data.FrameRows, indices: np.ndarray) -> object:
        sampled.append(len(indices))
        return bin_sample(self, indices)

    monkeypatch.setattr(tree_data.FrameRows, "bin_sample", counted)
    assert lgb.train(params, lgb_dataset(X, y[rows], rows=rows), 30).model_to_string() == expected
    assert sampled == [len(rows)]  # the bins' sample read by columns, not row by row
    # Beyond LightGBM's sample count (200,000 rows) the sample is some of the rows: per
    # column, the values of those rows that are not zero and where they are in the sample.
    some = np.arange(0, len(rows), 7)
    values, where = bin_sample(tree_data.FrameRows(X, rows), some)
    matrix = tree_rows(X, rows[some]).astype(np.float64)
    for j, column in enumerate(matrix.T):
        kept = (column != 0) | np.isnan(column)
        assert np.array_equal(values[j], column[kept], equal_nan=True)
        assert np.array_equal(where[j], np.flatnonzero(kept))


def test_a_validation_set_of_a_weighted_dataset_scores_every_row() -> None:
    # Sampled negatives weigh more than 1; the validation rows (never sampled) weigh 1 each.
    # LightGBM gave a dataset built from batches against a weighted reference weights of 0:
    # NaN validation log loss, and early stopping at the first tree.
    X, y = lead_frame(4_000, 12)
    weight = np.where(y == 0, 4.0, 1.0)
    params = {**ConversionModel(min_child_samples=50).lgb_params(), "metric": "binary_logloss"}
    losses = []
    for train_set in (
        lgb_dataset(X, y, weight),
        lgb.Dataset(
            tree_rows(X, np.arange(len(X))),
            label=y,
            weight=weight,
            feature_name=list(X.columns),
            categorical_feature=[0],
        ).construct(),
    ):
        val_set = lgb_dataset(X.iloc[:1_000], y[:1_000], reference=train_set)
        recorded: dict[str, dict[str, list[float]]] = {}
        lgb.train(
            params, train_set, 40, valid_sets=[val_set],
            callbacks=[lgb.record_evaluation(recorded)],
        )  # fmt: skip
        losses.append(recorded["valid_0"]["binary_logloss"])
    assert np.isfinite(losses[0]).all() and losses[0][-1] < losses[0][0]
    assert losses[0] == losses[1]  # as a validation set of the one-matrix dataset
    assert lgb_dataset(X, y, reference=lgb_dataset(X, y)).get_weight() is None


def test_fitting_rows_by_position_is_fitting_a_copy_of_them() -> None:
    X, y = lead_frame(5_000, 12)
    X_val, y_val = lead_frame(2_000, 13)
    rows = np.flatnonzero(np.random.default_rng(2).random(len(X)) < 0.7)
    w = np.random.default_rng(3).uniform(1.0, 2.0, len(X))
    settings = {"linear_weight": 0.5, "min_child_samples": 50, "max_rounds": 30}
    by_position = ConversionModel(**settings).fit(X, y, X_val, y_val, sample_weight=w, rows=rows)
    copied = X.iloc[rows].reset_index(drop=True)
    by_copy = ConversionModel(**settings).fit(copied, y[rows], X_val, y_val, sample_weight=w[rows])
    assert by_position.booster_.model_to_string() == by_copy.booster_.model_to_string()
    assert by_position.linear_ is not None and by_copy.linear_ is not None
    assert by_position.linear_.to_dict() == by_copy.linear_.to_dict()
    # The linear part read the frame's columns a few at a time: the fit of the whole matrix.
    whole = LinearLogOdds((0,), (len(X["lead__source"].cat.categories),), C=0.1)
    whole.fit(by_position.matrix(X, rows), y[rows], w[rows])
    assert whole.to_dict() == by_position.linear_.to_dict()
    assert np.array_equal(by_position.feature_low_, by_copy.feature_low_)
    p = by_position.predict_proba(X, rows)[:, 1]
    assert np.array_equal(p, by_copy.predict_proba(copied)[:, 1])
