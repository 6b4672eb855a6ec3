from __future__ import annotations

import re
from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training.evaluate import (
    MISSING_SEGMENT,
    MetricValue,
    ModelEvaluation,
    compare_table,
    evaluate_model,
    evaluate_predictions,
    evaluate_segments,
    flatten_metrics,
    format_segment_table,
)
from training.metrics import (
    METRIC_NAMES,
    calibration_curve,
    capture_at,
    decile_table,
    expected_calibration_error,
    expected_log_loss,
    gains_curve,
    lift_at,
    soft_auc,
    weighted_metrics,
)


def synthetic(n: int, seed: int = 0, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities for a rare outcome and outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 12.0, n)
    if ties:
        p = np.round(p, 2)
    y = (rng.random(n) < p).astype(int)
    return y, p


# --------------------------------------------------------------------------- point metrics


@pytest.mark.parametrize("ties", [False, True])
def test_point_metrics_match_sklearn(ties: bool) -> None:
    y, p = synthetic(3000, seed=1, ties=ties)
    m = evaluate_predictions(y, p, n_bootstrap=0)
    assert m["roc_auc"].value == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"].value == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m["log_loss"].value == pytest.approx(log_loss(y, p), abs=1e-12)
    assert m["brier"].value == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["base_rate"].value == pytest.approx(y.mean())
    assert m["ece"].value == pytest.approx(expected_calibration_error(y, p))
    assert m["lift_top10"].value == pytest.approx(lift_at(y, p, 0.1))
    assert m["capture_top20"].value == pytest.approx(capture_at(y, p, 0.2))
    assert all(v.low is None and v.high is None for v in m.values())


def test_weighted_metrics_match_sklearn_sample_weight() -> None:
    # The bootstrap engine: each row of weights is one resample's row multiplicities.
    y, p = synthetic(800, seed=2, ties=True)
    weights = np.random.default_rng(3).integers(0, 4, size=(4, y.size))
    out = weighted_metrics(y, p, weights)
    for i, w in enumerate(weights):
        assert out["roc_auc"][i] == pytest.approx(roc_auc_score(y, p, sample_weight=w))
        assert out["pr_auc"][i] == pytest.approx(average_precision_score(y, p, sample_weight=w))
        assert out["log_loss"][i] == pytest.approx(log_loss(y, p, sample_weight=w))
        assert out["brier"][i] == pytest.approx(brier_score_loss(y, p, sample_weight=w))
        assert out["base_rate"][i] == pytest.approx(np.average(y, weights=w))


def test_weighted_metrics_equal_explicitly_resampled_rows() -> None:
    y, p = synthetic(500, seed=4)
    idx = np.random.default_rng(5).integers(0, y.size, y.size)
    counts = np.bincount(idx, minlength=y.size)
    weighted = weighted_metrics(y, p, counts[None, :])
    resampled = evaluate_predictions(y[idx], p[idx], n_bootstrap=0)
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "lift_top10", "capture_top20"):
        assert weighted[name][0] == pytest.approx(resampled[name].value), name


# --------------------------------------------------------------------------- lift, capture, deciles


def test_lift_and_capture_hand_worked() -> None:
    p = np.linspace(0.9, 0.0, 10)  # already in descending order
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])  # 3 conversions, base rate 0.3
    assert capture_at(y, p, 0.1) == pytest.approx(1 / 3)
    assert lift_at(y, p, 0.1) == pytest.approx(1.0 / 0.3)
    assert capture_at(y, p, 0.2) == pytest.approx(1 / 3)
    assert lift_at(y, p, 0.2) == pytest.approx(0.5 / 0.3)
    assert capture_at(y, p, 0.3) == pytest.approx(2 / 3)
    assert capture_at(y, p, 1.0) == pytest.approx(1.0)
    assert lift_at(y, p, 1.0) == pytest.approx(1.0)
    # Shuffling rows changes nothing: only scores decide the order.
    perm = np.random.default_rng(0).permutation(10)
    assert capture_at(y[perm], p[perm], 0.3) == pytest.approx(2 / 3)


def test_ties_at_the_top_share_boundary_count_in_proportion() -> None:
    p = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    y = np.array([0, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    # Top 2 rows: the 0.9 row (no conversion) and one of three tied rows holding 2 conversions.
    for perm in permutations(range(1, 4)):
        order = np.array([0, *perm, 4, 5, 6, 7, 8, 9])
        assert capture_at(y[order], p[order], 0.2) == pytest.approx((2 / 3) / 3)


def test_decile_table_hand_worked() -> None:
    p = np.linspace(0.99, 0.01, 20)
    y = np.zeros(20, dtype=int)
    y[[0, 1, 2, 5, 12]] = 1  # deciles 1, 1, 2, 3, 7
    table = decile_table(y, p)
    assert list(table.columns) == [
        "decile",
        "n",
        "conversions",
        "conversion_rate",
        "mean_probability",
        "lift",
        "cumulative_capture",
    ]
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["n"].tolist() == [2] * 10
    assert table["conversions"].tolist() == pytest.approx([2, 1, 1, 0, 0, 0, 1, 0, 0, 0])
    assert table["conversion_rate"].iloc[0] == pytest.approx(1.0)
    assert table["lift"].iloc[0] == pytest.approx(1.0 / 0.25)
    assert table["cumulative_capture"].tolist() == pytest.approx(
        [0.4, 0.6, 0.8, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0, 1.0]
    )
    assert table["mean_probability"].iloc[0] == pytest.approx(p[:2].mean())
    assert table["mean_probability"].is_monotonic_decreasing


def test_decile_table_agrees_with_lift_and_capture() -> None:
    y, p = synthetic(2000, seed=6, ties=True)
    table = decile_table(y, p)
    assert table["n"].sum() == y.size
    assert table["conversions"].sum() == pytest.approx(y.sum())
    assert table["lift"].iloc[0] == pytest.approx(lift_at(y, p, 0.1))
    assert table["cumulative_capture"].iloc[1] == pytest.approx(capture_at(y, p, 0.2))
    assert table["mean_probability"].mean() == pytest.approx(p.mean())


def test_gains_curve_ends_and_matches_capture() -> None:
    y, p = synthetic(1000, seed=7)
    share, captured = gains_curve(y, p)
    assert (share[0], captured[0]) == (0.0, 0.0)
    assert share[-1] == pytest.approx(1.0) and captured[-1] == pytest.approx(1.0)
    assert np.interp(0.1, share, captured) == pytest.approx(capture_at(y, p, 0.1))


# --------------------------------------------------------------------------- calibration


def test_ece_near_zero_when_calibrated_and_large_when_not() -> None:
    rng = np.random.default_rng(8)
    p_true = rng.uniform(0, 1, 50_000)
    y = (rng.random(p_true.size) < p_true).astype(int)
    assert expected_calibration_error(y, p_true) < 0.01
    assert expected_calibration_error(y, p_true, strategy="uniform") < 0.01
    assert expected_calibration_error(y, p_true**2) > 0.1
    assert expected_calibration_error(y, np.clip(p_true + 0.2, 0, 1)) > 0.15


def test_ece_hand_worked_uniform_bins() -> None:
    p = np.array([0.2, 0.2, 0.8, 0.8])
    y = np.array([0, 1, 1, 1])
    # Bin [0, .5): rate .5 vs .2 -> .3 ; bin [.5, 1]: rate 1 vs .8 -> .2 ; each holds half.
    assert expected_calibration_error(y, p, n_bins=2, strategy="uniform") == pytest.approx(0.25)


def test_calibration_curve_bins_ascend_and_count_all_rows() -> None:
    y, p = synthetic(1000, seed=9)
    mean_p, rate, counts = calibration_curve(y, p, n_bins=10)
    assert counts.sum() == y.size
    assert np.all(np.diff(mean_p) > 0)
    assert np.average(rate, weights=counts) == pytest.approx(y.mean())


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_intervals_contain_point_and_narrow_with_more_data() -> None:
    small_y, small_p = synthetic(1000, seed=10)
    large_y, large_p = synthetic(16_000, seed=11)
    small = evaluate_predictions(small_y, small_p, n_bootstrap=200, seed=0)
    large = evaluate_predictions(large_y, large_p, n_bootstrap=200, seed=0)
    assert set(small) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        widths = []
        for m in (small, large):
            low, value, high = m[name].low, m[name].value, m[name].high
            assert low is not None and high is not None
            assert low <= high
            assert low <= value <= high, name
            widths.append(high - low)
        assert widths[1] < widths[0] / 2, name


def test_ece_interval_is_corrected_for_resampling_bias() -> None:
    # Calibrated by construction: every resample looks worse than the full sample.
    rng = np.random.default_rng(21)
    p = rng.uniform(0.05, 0.5, 4000)
    y = (rng.random(p.size) < p).astype(int)
    ece = evaluate_predictions(y, p, n_bootstrap=200)["ece"]
    assert ece.low is not None and ece.high is not None
    assert 0.0 <= ece.low <= ece.value <= ece.high


def test_bootstrap_is_reproducible_by_seed() -> None:
    y, p = synthetic(2000, seed=12)
    first = evaluate_predictions(y, p, n_bootstrap=50, seed=3)
    again = evaluate_predictions(y, p, n_bootstrap=50, seed=3)
    other = evaluate_predictions(y, p, n_bootstrap=50, seed=4)
    assert first == again
    assert first["roc_auc"].low != other["roc_auc"].low


def test_single_class_sample_gives_nan_not_a_crash() -> None:
    p = np.linspace(0.05, 0.6, 50)
    no_positives = evaluate_predictions(np.zeros(50), p, n_bootstrap=20)
    assert np.isnan(no_positives["roc_auc"].value) and no_positives["roc_auc"].low is None
    assert np.isnan(no_positives["pr_auc"].value)
    assert np.isnan(no_positives["lift_top10"].value)
    assert np.isfinite(no_positives["log_loss"].value)
    assert no_positives["log_loss"].value == pytest.approx(log_loss(np.zeros(50), p, labels=[0, 1]))
    all_positive = evaluate_predictions(np.ones(50), p, n_bootstrap=20)
    assert np.isnan(all_positive["roc_auc"].value)
    assert all_positive["capture_top20"].value == pytest.approx(0.2)


def test_rare_positives_leave_roc_auc_defined_with_interval() -> None:
    # Many resamples will miss the lone positives; they are ignored rather than crashing.
    y = np.zeros(300, dtype=int)
    y[[10, 200]] = 1
    p = np.random.default_rng(14).uniform(size=300)
    m = evaluate_predictions(y, p, n_bootstrap=100)
    assert np.isfinite(m["roc_auc"].value)


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="binary"):
        evaluate_predictions([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="probabilities"):
        evaluate_predictions([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="rows"):
        evaluate_predictions([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="top_share"):
        lift_at([0, 1], [0.1, 0.2], 0)


# --------------------------------------------------------------------------- oracle metrics


def brute_force_soft_auc(p_true: np.ndarray, score: np.ndarray) -> float:
    num = den = 0.0
    for i in range(p_true.size):
        for j in range(p_true.size):
            if i == j:
                continue
            pair = p_true[i] * (1 - p_true[j])
            den += pair
            num += pair * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0)
    return num / den


@pytest.mark.parametrize("n", [2, 7, 40, 120])
@pytest.mark.parametrize("ties", [False, True])
def test_soft_auc_equals_brute_force(n: int, ties: bool) -> None:
    rng = np.random.default_rng(n)
    p_true = rng.uniform(size=n)
    score = p_true + rng.normal(0, 0.2, n)
    if ties:
        score = np.round(score, 1)
    assert soft_auc(p_true, score) == pytest.approx(brute_force_soft_auc(p_true, score), abs=1e-12)


def test_soft_auc_with_hard_labels_is_roc_auc() -> None:
    y, p = synthetic(500, seed=15, ties=True)
    assert soft_auc(y.astype(float), p) == pytest.approx(roc_auc_score(y, p))


def test_soft_auc_of_the_oracle_beats_a_noisy_score() -> None:
    rng = np.random.default_rng(16)
    p_true = rng.beta(1, 10, 5000)
    noisy = p_true * np.exp(rng.normal(0, 1, p_true.size))
    assert soft_auc(p_true, p_true) > soft_auc(p_true, noisy)
    assert soft_auc(p_true, np.full(p_true.size, 0.3)) == pytest.approx(0.5)


def test_expected_log_loss() -> None:
    y, p = synthetic(400, seed=17)
    assert expected_log_loss(y.astype(float), p) == pytest.approx(log_loss(y, p))
    p_true = np.array([0.1, 0.5, 0.9])
    model = np.array([0.2, 0.5, 0.7])
    manual = -np.mean(p_true * np.log(model) + (1 - p_true) * np.log(1 - model))
    assert expected_log_loss(p_true, model) == pytest.approx(manual)
    # The truth minimises the expected loss; a 0/1 prediction is clipped, not infinite.
    assert expected_log_loss(p_true, p_true) < expected_log_loss(p_true, model)
    assert np.isfinite(expected_log_loss(p_true, np.array([0.0, 0.5, 1.0])))


# --------------------------------------------------------------------------- segments


def segment_data() -> tuple[np.ndarray, np.ndarray, pd.Series]:
    y, p = synthetic(3000, seed=18)
    values = np.array(
        ["web"] * 1500 + ["event"] * 1000 + ["partner"] * 300 + ["tiny"] * 150 + [None] * 50,
        dtype=object,
    )
    return y, p, pd.Series(values, name="source")


def test_segments_evaluate_large_groups_and_pool_small_ones() -> None:
    y, p, source = segment_data()
    y[2500:2800] = 0  # "partner": enough rows, no conversions
    table = evaluate_segments(y, p, source, min_count=200, min_positives=10, n_bootstrap=30)
    assert table["segment"].tolist() == ["web", "event", "other"]
    assert table["n"].tolist() == [1500, 1000, 500]
    assert table["n"].sum() == y.size
    assert table["evaluated"].tolist() == [True, True, True]
    other = table.iloc[2]["includes"]
    assert "partner" in other and "tiny" in other and MISSING_SEGMENT in other
    web = evaluate_predictions(y[:1500], p[:1500], n_bootstrap=0)
    assert table.iloc[0]["roc_auc"] == pytest.approx(web["roc_auc"].value)
    assert table.iloc[0]["rate"] == pytest.approx(y[:1500].mean())
    assert table.iloc[0]["mean_p"] == pytest.approx(p[:1500].mean())
    assert table.iloc[0]["roc_auc_low"] <= table.iloc[0]["roc_auc"] <= table.iloc[0]["roc_auc_high"]


def test_segments_too_small_pool_is_listed_but_not_evaluated() -> None:
    y, p, source = segment_data()
    table = evaluate_segments(y, p, source, min_count=1200, n_bootstrap=0)
    assert table["segment"].tolist() == ["web", "other"]
    assert table["evaluated"].tolist() == [True, True]
    table = evaluate_segments(y[1000:], p[1000:], source.iloc[1000:], min_count=2500, n_bootstrap=0)
    assert table["segment"].tolist() == ["other"]
    row = table.iloc[0]
    assert not row["evaluated"] and np.isnan(row["roc_auc"]) and row["n"] == 2000
    assert "web" in row["includes"] and "event" in row["includes"]


def test_format_segment_table() -> None:
    y, p, source = segment_data()
    table = format_segment_table(evaluate_segments(y, p, source, n_bootstrap=20))
    assert re.fullmatch(r"0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]", table["roc_auc"].iloc[0])


# --------------------------------------------------------------------------- model comparison


def test_evaluate_model_and_compare_table() -> None:
    y, p = synthetic(2000, seed=19)
    rng = np.random.default_rng(20)
    noisy = np.clip(p + rng.normal(0, 0.05, p.size), 0.001, 0.999)
    frame = pd.DataFrame({"source": rng.choice(["a", "b"], p.size), "country": "DE"})
    evals = [
        evaluate_model("lightgbm", y, p, frame, n_bootstrap=30, segment_bootstrap=10),
        evaluate_model("points", y, noisy, n_bootstrap=30),
    ]
    assert isinstance(evals[0], ModelEvaluation)
    assert set(evals[0].segments) == {"source", "country"}
    assert evals[0].segments["country"]["segment"].tolist() == ["DE"]
    assert len(evals[0].deciles) == 10 and evals[1].segments == {}
    table = compare_table(evals)
    assert table.index.tolist() == ["lightgbm", "points"]
    assert table.columns.tolist() == list(METRIC_NAMES)
    cell = str(table.loc["lightgbm", "roc_auc"])
    assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", cell)
    assert float(cell.split()[0]) == pytest.approx(evals[0].metrics["roc_auc"].value, abs=5e-4)
    assert compare_table(evals, metrics=["log_loss"]).shape == (2, 1)


def test_metric_value_format_and_flatten() -> None:
    assert MetricValue(0.81234, 0.8011, 0.8229).format() == "0.812 [0.801, 0.823]"
    assert MetricValue(0.5).format(2) == "0.50"
    assert MetricValue(float("nan")).format() == "n/a"
    flat = flatten_metrics(
        {"roc_auc": MetricValue(0.8, 0.7, 0.9), "ece": MetricValue(0.01)}, "lgbm_"
    )
    assert flat == {
        "lgbm_roc_auc": 0.8,
        "lgbm_roc_auc_ci_low": 0.7,
        "lgbm_roc_auc_ci_high": 0.9,
        "lgbm_ece": 0.01,
    }
