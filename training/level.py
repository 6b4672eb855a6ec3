"""The newest snapshots the served model's level is set on, with their partly observed outcomes.

Fully labelled snapshots end `horizon` before the cut-off, so a level set on them lags the
leads scored at the cut-off by at least that long; where the base rate moves (drift, season)
that lag is the error. The snapshots after the last labelled as_of are observed for less than
the horizon: counting their wins as if the horizon were complete would bias the level low
(right-censoring). Each such snapshot is weighed instead by its *exposure*: the share of wins
within the horizon that close within its observed window, read from the delays of the recent
fully labelled wins. Expected wins = sum(exposure x p) is then unbiased against observed wins.

The window's wins are few and clustered by lead, so its own ratio of observed to expected wins
is noisy (a standard error of 0.08-0.16 log-odds on 10,000-lead worlds: `level_standard_error`).
By default (`TrainConfig.level_followed`) the level is therefore followed over 30-day
periods of the calibration's labelled snapshots and the window's (`followed_wins`): a
local-level model whose step between periods is fitted by maximum likelihood pools the periods
where the base rate holds and follows the newest ones where it moves (with a lag).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import Export
from training.labels import DAY, SnapshotScheme, TrainingExamples, build_snapshots

log = logging.getLogger(__name__)

# The delays of wins (as_of to close) are read from fully labelled snapshots of this many days
# before the last labelled as_of: recent enough to follow the current sales cycle.
DELAY_DAYS = 180


@dataclass(frozen=True)
class LevelSnapshots:
    """Periodic snapshots in the level window: who, when, what was seen, and how much could be."""

    snapshots: pd.DataFrame  # lead_id, as_of
    observed: np.ndarray  # 1 when a win closed within the observed window
    exposure: np.ndarray  # share of the horizon's wins the observed window can show
    end: pd.Timestamp  # the newest as_of the window may hold


def won_delay_days(snapshots: pd.DataFrame, export: Export) -> np.ndarray:
    """Days from each snapshot's as_of to the close of its lead's first won opportunity created
    at or after as_of (infinity when there is none)."""
    delay = np.full(len(snapshots), np.inf)
    won = export.opportunities.loc[
        export.opportunities["status"] == "won", ["lead_id", "created_at", "closed_at"]
    ]
    if won.empty or snapshots.empty:
        return delay
    pairs = snapshots[["lead_id", "as_of"]].reset_index(drop=True).reset_index(names="row")
    pairs = pairs.merge(won, on="lead_id")
    pairs = pairs[pairs["created_at"] >= pairs["as_of"]]
    days = (pairs["closed_at"] - pairs["as_of"]).dt.total_seconds() / DAY.total_seconds()
    first = days.groupby(pairs["row"]).min()
    delay[first.index.to_numpy()] = first.to_numpy()
    return delay


def exposure(observed_days: np.ndarray, win_delays: np.ndarray) -> np.ndarray:
    """Share of `win_delays` (wins within the horizon) at most each observed window long."""
    ordered = np.sort(win_delays)
    return np.searchsorted(ordered, observed_days, side="right") / max(ordered.size, 1)


def level_snapshots(
    export: Export,
    examples: TrainingExamples,
    scheme: SnapshotScheme,
    window_days: int,
    min_observed_days: int,
) -> LevelSnapshots:
    """Periodic snapshots with as_of in the `window_days` that end `min_observed_days` before
    the cut-off, each with its outcome as observed by the cut-off and its exposure."""
    cutoff = examples.cutoff
    horizon = examples.horizon_days
    last = cutoff - min_observed_days * DAY
    snapshots = build_snapshots(export, last, scheme)
    snapshots = snapshots[snapshots["as_of"] > last - window_days * DAY].reset_index(drop=True)
    until_cutoff = (cutoff - snapshots["as_of"]).dt.total_seconds().to_numpy() / DAY.total_seconds()
    observed_days = np.minimum(until_cutoff, horizon)
    observed = (won_delay_days(snapshots, export) <= observed_days).astype(np.int8)

    labelled = examples.snapshots
    recent = labelled[
        (labelled["label"] == 1)
        & (labelled["as_of"] > examples.boundaries["last_as_of"] - DELAY_DAYS * DAY)
    ]
    delays = won_delay_days(recent, export)
    log.info(
        "level window: %d snapshots, %d wins observed; win delays from %d recent wins",
        len(snapshots),
        int(observed.sum()),
        delays.size,
    )
    return LevelSnapshots(
        snapshots=snapshots[["lead_id", "as_of"]],
        observed=observed,
        exposure=exposure(observed_days, delays),
        end=last,
    )


# The level is followed period by period: as_of in bins of this many days, the newest ending
# where the level window ends.
PERIOD_DAYS = 30
# Candidate drifts of the level (standard deviation of its log change per period) for the
# maximum-likelihood fit; 0 says the base rate holds, 0.3 that it can move 35 % a month.
DRIFT_GRID = np.linspace(0.0, 0.3, 31)


@dataclass(frozen=True)
class LevelPeriods:
    """Per period of as_of: wins observed, wins expected at the calibrated level, and the
    variance of their log ratio (leads' snapshots are counted together: one lead's snapshots
    win or lose together)."""

    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray

    @property
    def log_ratio(self) -> np.ndarray:
        return np.log((self.observed + 0.5) / (self.expected + 0.5))


def _log_ratio_variance(
    group: np.ndarray, lead_ids: np.ndarray, observed: np.ndarray, expected: np.ndarray
) -> pd.DataFrame:
    """Per group: wins observed and expected, and the variance of log(observed / expected).

    The variance is read from the residuals summed per lead (a lead's snapshots win or lose
    together, so they are not independent) and is never below the Poisson variance.
    """
    frame = pd.DataFrame(
        {
            "group": group,
            "lead": lead_ids,
            "observed": np.asarray(observed, dtype=float),
            "expected": np.asarray(expected, dtype=float),
        }
    )
    frame["residual"] = frame["observed"] - frame["expected"]
    per_lead = frame.groupby(["group", "lead"], sort=False)["residual"].sum()
    sums = frame.groupby("group")[["observed", "expected"]].sum()
    spread = (per_lead**2).groupby(level="group").sum().reindex(sums.index).to_numpy()
    expected_wins = sums["expected"].to_numpy()
    sums["variance"] = np.maximum(spread, expected_wins) / np.maximum(expected_wins, 0.5) ** 2
    return sums


def level_standard_error(lead_ids: np.ndarray, observed: np.ndarray, expected: np.ndarray) -> float:
    """Standard error of a level read from these snapshots alone: of log(observed / expected
    wins), the log-odds shift that `ProbabilityCalibrator.set_level` makes (for small p).

    It says how far the mean at the cut-off may be off by the window's luck alone.
    """
    sums = _log_ratio_variance(np.zeros(len(lead_ids)), lead_ids, observed, expected)
    return float(np.sqrt(sums["variance"].iloc[0]))


def level_periods(
    as_of: pd.Series,
    lead_ids: np.ndarray,
    observed: np.ndarray,
    expected: np.ndarray,
    end: pd.Timestamp,
) -> LevelPeriods:
    """Bin snapshots into periods of PERIOD_DAYS of as_of ending at `end`, oldest first.

    `expected` is each snapshot's expected win (exposure x p at the calibrated level); the
    variance of log(observed / expected) per period is `_log_ratio_variance`'s.
    """
    days = (end - pd.to_datetime(as_of)).dt.total_seconds().to_numpy() / DAY.total_seconds()
    period = np.floor(np.maximum(days, 0.0) / PERIOD_DAYS).astype(np.int64)
    # oldest period (largest distance to end) first
    sums = _log_ratio_variance(period, lead_ids, observed, expected).sort_index(ascending=False)
    return LevelPeriods(
        sums["observed"].to_numpy(), sums["expected"].to_numpy(), sums["variance"].to_numpy()
    )


def followed_level(periods: LevelPeriods) -> tuple[float, float, float]:
    """The newest period's log level of observed over expected wins, by a local-level model.

    Each period's log ratio is the level plus noise of its known variance; the level moves by a
    random step between periods, whose size is fitted by maximum likelihood over DRIFT_GRID.
    Where the base rate holds, the fitted step is ~0 and the level pools every period (the
    newest, partly observed ones are few wins: alone they are noise); where it moves, the level
    follows the newest periods. Returns (level, its variance, fitted step).
    """
    z = periods.log_ratio
    r = periods.variance
    best: tuple[float, float, float, float] = (-np.inf, 0.0, np.inf, 0.0)
    for step in DRIFT_GRID:
        level, variance, loglik = z[0], r[0], 0.0  # diffuse start: the oldest period alone
        for k in range(1, z.size):
            predicted = variance + step**2
            spread = predicted + r[k]
            error = z[k] - level
            loglik -= 0.5 * (np.log(spread) + error**2 / spread)
            gain = predicted / spread
            level, variance = level + gain * error, (1 - gain) * predicted
        if loglik > best[0]:
            best = (loglik, float(level), float(variance), float(step))
    return best[1], best[2], best[3]


def followed_wins(
    level: LevelSnapshots, p_level: np.ndarray, labelled: pd.DataFrame | None
) -> float:
    """The wins the level window would show at the level followed to its newest period.

    `p_level`: the window's probabilities at the calibrated level. `labelled` (lead_id, as_of,
    label, p): the fully labelled snapshots the calibrator was fitted on, with their
    probabilities; they tell how much the level moves from period to period (None: the
    window's own periods alone).
    """
    expected = level.exposure * np.asarray(p_level, dtype=float)
    as_of, leads = level.snapshots["as_of"], level.snapshots["lead_id"].to_numpy()
    observed = level.observed.astype(float)
    if labelled is not None:
        as_of = pd.concat([labelled["as_of"], as_of], ignore_index=True)
        leads = np.concatenate([labelled["lead_id"].to_numpy(), leads])
        observed = np.concatenate([labelled["label"].to_numpy(dtype=float), observed])
        expected = np.concatenate([labelled["p"].to_numpy(dtype=float), expected])
    log_level, variance, step = followed_level(
        level_periods(as_of, leads, observed, expected, level.end)
    )
    window_expected = float((level.exposure * p_level).sum())
    log.info(
        "level followed to the newest period: log ratio %+.3f (sd %.3f, step %.3f a period)",
        log_level,
        np.sqrt(variance),
        step,
    )
    return window_expected * float(np.exp(log_level))
