"""The gate's tie rule: a paired bootstrap of metric differences that draws whole leads."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import paired_differences
from training.gate import GateRule


def leads(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leads with a true probability each, their outcome, and a noisier guess of it."""
    rng = np.random.default_rng(seed)
    truth = 1 / (1 + np.exp(-rng.normal(-2.5, 1.2, n)))
    outcome = (rng.random(n) < truth).astype(int)
    noisy = 1 / (1 + np.exp(-(np.log(truth / (1 - truth)) + rng.normal(0, 1.0, n))))
    return truth, outcome, noisy


def test_identical_models_differ_by_exactly_nothing() -> None:
    truth, outcome, _ = leads(2_000, seed=1)
    ids = np.arange(truth.size)
    differences = paired_differences(outcome, truth, truth.copy(), ids, n_bootstrap=200)
    for difference in differences.values():
        assert (difference.value, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_a_better_model_is_better_beyond_the_interval() -> None:
    truth, outcome, noisy = leads(4_000, seed=2)
    ids = np.arange(truth.size)
    differences = paired_differences(outcome, truth, noisy, ids, n_bootstrap=300)
    log_loss, roc_auc = differences["log_loss"], differences["roc_auc"]
    assert log_loss.high is not None and log_loss.low is not None
    assert log_loss.low < log_loss.value < log_loss.high < 0
    assert roc_auc.low is not None and roc_auc.low > 0
    # The other way round, the same distance on the other side.
    reverse = paired_differences(outcome, noisy, truth, ids, n_bootstrap=300)["log_loss"]
    assert reverse.value == pytest.approx(-log_loss.value)
    assert reverse.low is not None and reverse.low > 0


def test_a_leads_snapshots_are_drawn_together() -> None:
    truth, outcome, noisy = leads(1_500, seed=3)
    ids = np.arange(truth.size)
    once = paired_differences(outcome, truth, noisy, ids, n_bootstrap=400)["log_loss"]
    # Every lead seen five times, as a lead's periodic snapshots are: no more information.
    five = paired_differences(
        np.repeat(outcome, 5),
        np.repeat(truth, 5),
        np.repeat(noisy, 5),
        np.repeat(ids, 5),
        n_bootstrap=400,
    )["log_loss"]
    assert five.value == pytest.approx(once.value)
    assert once.low is not None and once.high is not None
    assert five.low is not None and five.high is not None
    width_once, width_five = once.high - once.low, five.high - five.low
    # Drawing rows would narrow it by about sqrt(5); drawing leads keeps it.
    assert width_five == pytest.approx(width_once, rel=0.2)


def test_the_rule_needs_leads_converted_leads_and_resamples() -> None:
    with pytest.raises(ValueError, match="one converted lead"):
        GateRule(min_leads=10, min_converted=0)
    with pytest.raises(ValueError, match="100 bootstrap resamples"):
        GateRule(n_bootstrap=10)
    assert "paired bootstrap (1000 resamples of whole leads)" in GateRule().describe()
