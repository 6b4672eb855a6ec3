"""Fits side by side: the same models as one piece at a time, on every core or one each."""

from __future__ import annotations

import threading
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.conversion import ConversionModel
from models.refit import refit_all
from models.side_by_side import side_by_side, threads_each
from models.tree_data import lgb_dataset
from tests.models.test_conversion import lead_frame


def wide_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """`lead_frame` with a dozen more numbers, some informative, so that LightGBM's threads
    have columns and rows to split between them."""
    X, y = lead_frame(n, seed)
    rng = np.random.default_rng(seed + 100)
    for j in range(12):
        column = rng.gamma(1.0 + j % 3, 1.0, n) + 0.4 * y * (j % 2)
        column[rng.random(n) < 0.05] = np.nan
        X[f"act__t{j}__count"] = column
    return X, y


def tree_text(booster: lgb.Booster) -> str:
    """The trees of a booster, without the parameters it was trained with."""
    return booster.model_to_string().split("end of trees")[0]


def test_side_by_side_keeps_order_runs_at_most_cores_at_once_and_raises() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def task(value: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return value

    assert side_by_side([lambda v=v: task(v) for v in range(5)], cores=2) == list(range(5))
    assert most == 2
    most = 0
    assert side_by_side([lambda v=v: task(v) for v in range(3)], cores=1) == [0, 1, 2]
    assert most == 1

    def broken() -> int:
        raise RuntimeError("this fit failed")

    with pytest.raises(RuntimeError, match="this fit failed"):
        side_by_side([lambda: task(1), broken], cores=2)
    assert [threads_each(2, 1), threads_each(2, 2), threads_each(2, 5), threads_each(4, 2)] == [
        2,
        1,
        1,
        2,
    ]


def test_lightgbm_grows_the_same_trees_on_one_thread_as_on_two() -> None:
    """What lets a fit run on one core beside another instead of on both in turn."""
    X, y = wide_frame(10_000, 11)
    weight = np.where(y == 1, 1.0, 2.0)
    params = ConversionModel(learning_rate=0.1).lgb_params()
    trees = {
        threads: tree_text(lgb.train({**params, "num_threads": threads}, dataset, 40))
        for threads in (1, 2)
        for dataset in [lgb_dataset(X, y, weight)]
    }
    assert trees[1] == trees[2]


def test_side_by_side_refit_is_the_refit_one_piece_at_a_time() -> None:
    X, y = wide_frame(12_000, 12)
    folds = np.arange(len(X)) % 3
    weight = np.where(y == 1, 1.0, 1.5)
    fit, val = slice(0, 9_000), slice(9_000, None)
    every_other = np.arange(0, 4_000, 2)  # a target by position, and one whole frame
    targets = [(X, every_other, folds[every_other]), (X.iloc[-500:], None, folds[-500:])]
    models, raws = {}, {}
    for cores in (1, 2):
        model = ConversionModel(linear_weight=0.5, learning_rate=0.1, max_rounds=80, n_jobs=cores)
        model.fit(X[fit], y[fit], X[val], y[val], sample_weight=weight[fit])
        raws[cores] = refit_all(model, X, y, weight, folds, targets)
        models[cores] = model
    one, two = models[1], models[2]
    assert tree_text(one.booster_) == tree_text(two.booster_)
    assert one.best_iteration_ == two.best_iteration_
    # BLAS sums in another order on one thread: equal to rounding.
    assert np.allclose(one.linear_.numeric_coef_, two.linear_.numeric_coef_, rtol=1e-9, atol=0)
    for a, b in zip(raws[1], raws[2], strict=True):
        assert not np.isnan(a).any()
        assert np.allclose(a, b, rtol=1e-9, atol=0)
    assert np.allclose(one.predict_raw(X), two.predict_raw(X), rtol=1e-9, atol=0)
    # Trees grown on one thread each predict the same on two.
    rows = np.arange(0, len(X), 3)
    assert np.array_equal(
        one.predict_proba(X, rows, num_threads=2), one.predict_proba(X.iloc[rows])
    )


def test_refit_grows_on_every_row_and_scores_each_fold_by_trees_of_the_others() -> None:
    X, y = wide_frame(6_000, 13)
    folds = np.arange(len(X)) % 3
    weight = np.where(y == 1, 1.0, np.where(np.arange(len(X)) % 5 == 0, 3.0, 1.0))
    model = ConversionModel(linear_weight=0.0, learning_rate=0.1, max_rounds=40)
    model.fit(X.iloc[:4_500], y[:4_500], X.iloc[4_500:], y[4_500:])
    target = X.iloc[:1_500]
    (raw,) = refit_all(model, X, y, weight, folds, [(target, None, folds[:1_500])])
    (by_position,) = refit_all(model, X, y, weight, folds, [(X, np.arange(1_500), folds[:1_500])])
    assert np.array_equal(raw, by_position)
    params = model.lgb_params(threads=1)
    served = lgb.train(params, lgb_dataset(X, y, weight), model.best_iteration_)
    assert tree_text(model.booster_) == tree_text(served)
    for k in range(3):
        other = folds != k
        grown = lgb.train(
            params, lgb_dataset(X[other], y[other], weight[other]), model.best_iteration_
        )
        mine = folds[:1_500] == k
        expected = grown.predict(model.matrix(target[mine]))
        assert np.allclose(raw[mine], expected, rtol=1e-12)
    # The served trees have seen the target rows: they score them otherwise.
    assert not np.allclose(model.predict_raw(target), raw)
