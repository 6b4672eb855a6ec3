"""What the served model's calibrator is fitted on: out-of-fold scores of the newest labelled
leads, enough of them for its shape, and from how many folds.

The calibrator's slope is learnt from realised outcomes, and on a small export the newest
180 days hold only a few hundred won leads: the slope then moves by +-0.05-0.1 from one export
to the next, and the top tier's mean with it (docs/modeling.md). The rows therefore reach back
over older cohorts, newest first, until they hold `won_leads` won leads; the level is then set
on the newest `days` alone (and after that on the level window, `training.level`), so older
cohorts lend the shape and never the level.

The out-of-fold scores come from models grown on (k-1)/k of the leads, which are noisier than
the served model grown on all of them: a calibrator fitted for them is too flat for the served
model's scores. On a 10,000-lead world the gap in the fitted slope was 8 % with 3 folds and 3 %
with 6 (docs/benchmarks.md). The gap shrinks as the export grows, and each fold is one more
growth, so small exports get `SMALL_EXPORT_FOLDS` and large ones `LARGE_EXPORT_FOLDS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.calibration import ProbabilityCalibrator
from training.sampling import TrainingRows

log = logging.getLogger(__name__)

SMALL_EXPORT_FOLDS = 6
LARGE_EXPORT_FOLDS = 3
# Won leads among the labelled periodic snapshots below which an export is small for the folds:
# the gap falls with the won leads (about 1-2 % of the slope at this many), while the 50,000-lead
# default world (about 2,800 won leads) keeps 3 folds and `leadscore train`'s time with them.
SMALL_EXPORT_WON_LEADS = 1_500


def won_leads(rows: TrainingRows) -> int:
    """Leads with a won periodic snapshot among the training rows."""
    table = rows.table
    return int(table.loc[table["periodic"] & (table["label"] == 1), "lead_id"].nunique())


def fold_count(configured: int | None, rows: TrainingRows) -> int:
    """The folds of the out-of-fold calibration: as configured, or by the export's size (None)."""
    if configured is not None:
        return configured
    small = won_leads(rows) < SMALL_EXPORT_WON_LEADS
    return SMALL_EXPORT_FOLDS if small else LARGE_EXPORT_FOLDS


@dataclass(frozen=True)
class CalibrationSet:
    """Rows of the training table the calibrator is fitted on, and which of them set its level."""

    rows: np.ndarray  # mask over the training table
    newest: np.ndarray  # mask over `rows`' selected rows: created in the last `days`


def calibration_set(
    rows: TrainingRows, last_as_of: pd.Timestamp, days: int | None, won_leads: int
) -> CalibrationSet:
    """Periodic snapshots of unsampled cohorts (a calibrator reads rows unweighted): those of
    leads created in the `days` before the last labelled as_of (None: every lead), and of older
    leads, newest first, until the rows hold at least `won_leads` won leads."""
    table = rows.table
    chosen = (table["periodic"] & table["unsampled"]).to_numpy()
    created = table["created_at"]
    if days is None:
        return CalibrationSet(chosen, np.ones(int(chosen.sum()), dtype=bool))
    newest = (created >= last_as_of - pd.Timedelta(days=days)).to_numpy()
    # the creation time of each won lead, newest first: the first `won_leads` set the start
    won = table.loc[chosen & (table["label"] == 1).to_numpy()]
    starts = won.groupby("lead_id")["created_at"].first().sort_values(ascending=False)
    start = last_as_of - pd.Timedelta(days=days)
    if len(starts) >= won_leads:
        start = min(start, starts.iloc[won_leads - 1])
    elif chosen.any():
        start = min(start, created[chosen].min())
    selected = chosen & (created >= start).to_numpy()
    return CalibrationSet(selected, newest[selected])


def level_on_newest(
    calibrator: ProbabilityCalibrator, raw: np.ndarray, y: np.ndarray, newest: np.ndarray
) -> None:
    """Set a calibrator fitted on the whole calibration set to the level of its newest rows
    (their wins expected = observed): older cohorts lend the shape, not the level."""
    if newest.all():
        return
    try:
        calibrator.set_level(raw[newest], float(np.asarray(y)[newest].sum()))
    except ValueError as error:
        log.warning("calibration level of the older cohorts kept: %s", error)
