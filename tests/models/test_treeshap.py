"""Tree SHAP by table look-up equals LightGBM's own `pred_contrib`, whatever the row holds."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest

from models import treeshap
from models.conversion import ConversionModel
from models.treeshap import MAX_SPLITS, TreeShapTable
from tests.models.test_conversion import lead_frame


def booster(zero_as_missing: bool = False, num_leaves: int = 7, seed: int = 0) -> lgb.Booster:
    """Trees with categorical splits and numeric ones of every missing-value kind."""
    rng = np.random.default_rng(seed)
    n = 4_000
    code = rng.integers(0, 12, n).astype(float)
    with_nan = rng.normal(size=n)
    with_nan[rng.random(n) < 0.2] = np.nan  # NaN-as-missing splits
    dense = rng.normal(size=n)  # no missing values in training: "None" splits
    zeros = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n))
    X = np.column_stack([code, with_nan, dense, zeros])
    logit = (
        np.isin(code, [1, 4, 7]) * 1.2
        + np.nan_to_num(with_nan, nan=1.0)
        - 0.8 * dense * (zeros > 0.5)
        + (zeros == 0) * 0.7
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": num_leaves,
        "min_child_samples": 20,
        "min_data_per_group": 10,
        "cat_smooth": 1,
        "zero_as_missing": zero_as_missing,
        "verbosity": -1,
        "seed": seed,
    }
    data = lgb.Dataset(X, label=y, categorical_feature=[0])
    return lgb.train(params, data, num_boost_round=40)


def awkward_rows(seed: int) -> np.ndarray:
    """Rows with what a served request may hold: NaN, zeros, unseen and negative codes."""
    rng = np.random.default_rng(seed)
    n = 600
    X = np.column_stack(
        [
            rng.integers(-2, 16, n).astype(float),  # codes past the trained ones, negatives
            rng.normal(size=n),
            rng.normal(size=n),
            np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n)),
        ]
    )
    X[rng.random(X.shape) < 0.15] = np.nan
    X[rng.random(X.shape) < 0.05] = 0.0
    X[rng.random(X.shape) < 0.02] = 1e-40  # within LightGBM's zero threshold
    X[:, 0][rng.random(n) < 0.05] = 3.7  # a fractional code is truncated
    return X


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_table_contributions_equal_lightgbm_pred_contrib(zero_as_missing: bool) -> None:
    model = booster(zero_as_missing)
    kinds = {s["missing_type"] for s in _split_nodes(model)}
    assert kinds >= ({"Zero"} if zero_as_missing else {"NaN", "None"})
    assert any(s["decision_type"] == "==" for s in _split_nodes(model))
    X = awkward_rows(1)
    table = TreeShapTable.from_booster(model, model.num_trees())
    assert table is not None
    expected = model.predict(X, pred_contrib=True)
    got = table.contributions(X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # Contributions add up to the raw score, row by row.
    np.testing.assert_allclose(got.sum(axis=1), model.predict(X, raw_score=True), atol=1e-12)


def test_table_follows_the_first_trees_only_when_asked() -> None:
    model = booster(seed=3)
    X = awkward_rows(2)
    table = TreeShapTable.from_booster(model, 15)
    assert table is not None
    expected = model.predict(X, pred_contrib=True, num_iteration=15)
    np.testing.assert_allclose(table.contributions(X), expected, rtol=0, atol=1e-12)


def test_trees_too_big_to_tabulate_are_left_to_lightgbm() -> None:
    big = booster(num_leaves=MAX_SPLITS + 4)
    assert TreeShapTable.from_booster(big, big.num_trees()) is None


def test_conversion_model_explains_with_the_table_and_drops_it_from_pickles() -> None:
    X, y = lead_frame(6_000, 4)
    X_val, y_val = lead_frame(3_000, 5)
    model = ConversionModel(max_rounds=60, linear_weight=0.0).fit(X, y, X_val, y_val)
    A = model.matrix(X_val)
    assert model.tree_shap() is not None
    lightgbm = model.booster_.predict(A, num_iteration=model.best_iteration_, pred_contrib=True)
    np.testing.assert_allclose(model.contributions_from_matrix(A), lightgbm, atol=1e-12)
    restored = pickle.loads(pickle.dumps(model))
    assert "_tree_shap" not in vars(restored)
    np.testing.assert_allclose(restored.contributions_from_matrix(A), lightgbm, atol=1e-12)
    # Bigger trees: the model asks LightGBM instead, with the same answer.
    big = ConversionModel(max_rounds=30, num_leaves=31, min_child_samples=20, linear_weight=0.0)
    big.fit(X, y, X_val, y_val)
    assert big.tree_shap() is None
    expected = big.booster_.predict(A, num_iteration=big.best_iteration_, pred_contrib=True)
    np.testing.assert_allclose(big.contributions_from_matrix(A), expected, atol=1e-12)


def _split_nodes(model: lgb.Booster) -> list[dict]:
    out: list[dict] = []

    def walk(node: dict) -> None:
        if "split_index" in node:
            out.append(node)
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in model.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def test_many_rows_are_explained_in_chunks_with_the_same_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = booster(seed=5)
    X = awkward_rows(3)
    table = TreeShapTable.from_booster(model, model.num_trees())
    assert table is not None
    whole = table.contributions(X)
    monkeypatch.setattr(treeshap, "CHUNK_ROWS", 128)  # 600 rows: 5 chunks, the last short
    np.testing.assert_array_equal(table.contributions(X), whole)
    np.testing.assert_allclose(whole, model.predict(X, pred_contrib=True), rtol=0, atol=1e-12)
