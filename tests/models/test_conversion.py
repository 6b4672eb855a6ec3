"""The conversion model: trees averaged with a linear model, on one float matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import LeadFeaturizer
from models.conversion import ConversionModel
from models.float_matrix import feature_matrix
from models.linear import LinearLogOdds
from models.refit import refit_all
from tests.features.histories import random_history

LEVELS = ["paid", "organic", "event", "__other__", "__missing__"]


def lead_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A categorical source, a count with missing values and a noise column; known log-odds."""
    rng = np.random.default_rng(seed)
    source = rng.choice(LEVELS, n, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    visits = rng.poisson(3.0, n).astype(float)
    visits[rng.random(n) < 0.1] = np.nan
    noise = rng.normal(size=n)
    effect = pd.Series(source).map({"paid": 0.8, "organic": 0.0, "event": -0.6}).fillna(-0.2)
    logit = -2.5 + effect.to_numpy() + 0.9 * np.log1p(np.nan_to_num(visits, nan=3.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "lead__source": pd.Categorical(source, categories=LEVELS),
            "act__visit__count": visits,
            "lead__noise": noise,
        }
    )
    return X, y


def test_feature_matrix_holds_codes_and_numbers_and_refuses_other_levels() -> None:
    X, _ = lead_frame(50, 0)
    dtype = X["lead__source"].dtype
    A = feature_matrix(X, {"lead__source": dtype})
    same_levels = {"lead__source": pd.CategoricalDtype(LEVELS)}
    assert np.array_equal(A, feature_matrix(X, same_levels), equal_nan=True)
    assert np.array_equal(A[:, 0], X["lead__source"].cat.codes.to_numpy())
    assert np.array_equal(np.isnan(A[:, 1]), X["act__visit__count"].isna().to_numpy())
    reordered = X.assign(lead__source=X["lead__source"].cat.reorder_categories(LEVELS[::-1]))
    with pytest.raises(ValueError, match="other category levels"):
        feature_matrix(reordered, {"lead__source": dtype})


def test_linear_contributions_add_up_and_point_the_right_way() -> None:
    X, y = lead_frame(20_000, 1)
    A = feature_matrix(X)
    linear = LinearLogOdds(categorical_positions=(0,), n_levels=(len(LEVELS),)).fit(A, y)
    contrib = linear.contributions(A)
    assert np.allclose(contrib.sum(axis=1) + linear.bias_, linear.decision_function(A))
    # Centred on the training population: each feature's contributions average zero there.
    assert np.allclose(contrib.mean(axis=0), 0.0, atol=1e-9)
    paid = X["lead__source"].to_numpy() == "paid"
    event = X["lead__source"].to_numpy() == "event"
    assert contrib[paid, 0].mean() > 0 > contrib[event, 0].mean()
    many = X["act__visit__count"].to_numpy() >= 6
    assert contrib[many, 1].mean() > 0.3
    assert abs(linear.numeric_coef_[1]) < 0.05  # the noise column


def test_blended_model_is_calibrated_and_contributions_explain_its_log_odds() -> None:
    X, y = lead_frame(30_000, 2)
    X_val, y_val = lead_frame(10_000, 3)
    model = ConversionModel(min_child_samples=50, max_rounds=300).fit(X, y, X_val, y_val)
    raw = model.predict_raw(X_val)
    contrib = model.contributions(X_val).to_numpy()
    assert np.allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)), atol=1e-6)
    A = model.matrix(X_val)
    trees = model.booster_.predict(A, num_iteration=model.best_iteration_, raw_score=True)
    linear = model.linear_.decision_function(A)
    w = model.linear_weight_
    assert w > 0  # log-odds additive in log counts: validation keeps the linear model
    assert np.allclose(np.log(raw / (1 - raw)), (1 - w) * trees + w * linear)
    p = model.predict_proba(X_val)[:, 1]
    assert abs(p.mean() - y_val.mean()) < 0.01
    assert np.array_equal(p, model.proba_from_matrix(A, num_threads=1))
    # Scoring with reasons reads probabilities off the contributions: the same numbers.
    explained = model.contributions_from_matrix(A, num_threads=1)
    assert np.allclose(model.proba_from_contributions(explained), p, rtol=0, atol=1e-12)


def test_linear_weight_zero_is_the_trees_alone_and_out_of_range_is_refused() -> None:
    X, y = lead_frame(5_000, 4)
    X_val, y_val = lead_frame(2_000, 5)
    trees_only = ConversionModel(linear_weight=0.0, max_rounds=50).fit(X, y, X_val, y_val)
    assert trees_only.linear_ is None
    expected = trees_only.booster_.predict(X_val, num_iteration=trees_only.best_iteration_)
    assert np.allclose(trees_only.predict_raw(X_val), expected)
    with pytest.raises(ValueError, match="linear_weight"):
        ConversionModel(linear_weight=1.0).fit(X, y, X_val, y_val)


def test_auto_weight_drops_a_linear_model_that_extrapolates_badly() -> None:
    """The effect saturates; validation leads have far larger values than training ones."""

    def drifting(n: int, shift: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.normal(shift, 1.0, n)
        logit = -2.0 + 1.5 * np.minimum(x, 1.0)
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        source = pd.Categorical(rng.choice(LEVELS, n), categories=LEVELS)
        return pd.DataFrame({"lead__source": source, "lead__x": x}), y

    X, y = drifting(20_000, 0.0, 8)
    X_val, y_val = drifting(8_000, 2.5, 9)
    model = ConversionModel(min_child_samples=50, max_rounds=200).fit(X, y, X_val, y_val)
    assert model.linear_weight_ == 0.0 and model.linear_ is None
    fixed = ConversionModel(linear_weight=0.5, min_child_samples=50, max_rounds=200)
    fixed.fit(X, y, X_val, y_val)
    assert fixed.linear_weight_ == 0.5 and fixed.linear_ is not None


def test_refit_all_regrows_both_models_on_all_rows() -> None:
    X, y = lead_frame(5_000, 6)
    X_val, y_val = lead_frame(2_000, 7)
    model = ConversionModel(linear_weight=0.5, max_rounds=50).fit(X, y, X_val, y_val)
    before = model.linear_.intercept_
    calibrator = model.calibrator_
    refit_all(model, pd.concat([X, X_val], ignore_index=True), np.concatenate([y, y_val]))
    assert model.linear_.intercept_ != before
    assert model.calibrator_ is calibrator  # calibrated on rows the trees had not seen


def test_transform_matrix_is_the_frame_as_the_model_reads_it() -> None:
    batch = random_history(n_leads=60, n_activities=1200, snapshots_per_lead=2, seed=11)
    featurizer = LeadFeaturizer(min_activity_count=5).fit(batch)
    X = featurizer.transform(batch)
    A = featurizer.transform_matrix(batch)
    assert np.array_equal(A, feature_matrix(X, featurizer.category_dtypes_), equal_nan=True)
    columns = featurizer.matrix_columns(A)
    for name in featurizer.categorical_features_:
        assert columns[name].tolist() == X[name].astype(object).tolist()
