"""Training examples: point-in-time lead snapshots, their labels, censoring, and the time split.

Definitions (docs/modeling.md says the same in prose):
- A *snapshot* is a (lead, as_of) pair at which the lead has no opportunity yet.
- Its *label* is 1 when the lead has an opportunity that is created at or after as_of and
  closes won within `horizon_days` after as_of.
- A snapshot whose horizon ends after the export's cut-off is *censored* and left out.
- Besides the periodic snapshots (every lead, every `every_days`), training also looks at leads
  just after they act (*activity snapshots*): hot leads raise their hands and get an
  opportunity within days, so periodic looks rarely see a lead in the moment the service is
  called for it. Activity snapshots only ever add training rows; validation (early stopping,
  calibration), the holdout and everything evaluated stay periodic.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import Export

log = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
MAX_REPEATS = 4


@dataclass(frozen=True)
class SnapshotScheme:
    """When a lead is looked at: a per-lead random phase, then every `every_days`, capped.

    For training, also `activity_share` of all activities (a seeded random pick) each give a
    snapshot up to `activity_delay_days` after the activity.
    """

    every_days: int = 14
    max_snapshots: int = 8
    seed: int = 0
    activity_share: float = 0.15
    activity_delay_days: float = 2.0
    # Rare activity types (hand-raises among them) get a snapshot after up to this many of their
    # activities (all of them when fewer), so the trees see enough leads just after a rare act.
    activity_per_type: int = 4_000

    def __post_init__(self) -> None:
        if self.every_days < 1 or self.max_snapshots < 1:
            raise ValueError("every_days and max_snapshots must be at least 1")
        if self.activity_per_type < 0:
            raise ValueError("activity_per_type must not be negative")
        if not 0.0 <= self.activity_share <= 1.0 or self.activity_delay_days <= 0:
            raise ValueError("activity_share must be in [0, 1] and activity_delay_days positive")


@dataclass(frozen=True)
class SplitConfig:
    """Lead cohorts by creation time: train, then validation, then the holdout."""

    holdout_days: int = 120
    validation_days: int = 60


def lead_phases(lead_ids: pd.Series, seed: int) -> np.ndarray:
    """A stable per-lead fraction in [0, 1): the same lead gets the same phase in every run."""
    digests = [
        hashlib.blake2b(f"{seed}:{lead}".encode(), digest_size=8).digest() for lead in lead_ids
    ]
    as_int = np.frombuffer(b"".join(digests), dtype=">u8").astype(np.float64)
    return as_int / 2.0**64


def first_opportunity_at(export: Export) -> pd.Series:
    """Per lead_id, when its first opportunity was created (NaT when none)."""
    if export.opportunities.empty:
        return pd.Series(pd.NaT, index=export.leads.index, dtype="datetime64[ns]")
    first = export.opportunities.groupby("lead_id")["created_at"].min()
    return export.leads["lead_id"].map(first).astype("datetime64[ns]")


def build_snapshots(
    export: Export, last_as_of: pd.Timestamp, scheme: SnapshotScheme | None = None
) -> pd.DataFrame:
    """Every (lead_id, as_of) snapshot up to `last_as_of` at which the lead has no opportunity.

    Columns: lead_id, as_of, created_at, age_days.
    """
    scheme = scheme or SnapshotScheme()
    leads = export.leads[["lead_id", "created_at"]].reset_index(drop=True)
    first_opp = first_opportunity_at(export).reset_index(drop=True)
    phase = lead_phases(leads["lead_id"], scheme.seed) * scheme.every_days
    ks = np.arange(scheme.max_snapshots)
    age_days = (phase[:, None] + ks[None, :] * scheme.every_days).ravel()
    lead_index = np.repeat(np.arange(len(leads)), scheme.max_snapshots)
    created = leads["created_at"].to_numpy()[lead_index]
    as_of = created + pd.to_timedelta(age_days, unit="D").to_numpy()
    opp_at = first_opp.to_numpy()[lead_index]
    no_opportunity_yet = pd.isna(opp_at) | (as_of < opp_at)
    keep = no_opportunity_yet & (as_of <= last_as_of.to_datetime64())
    snapshots = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy()[lead_index][keep],
            "as_of": as_of[keep],
            "created_at": created[keep],
            "age_days": age_days[keep],
        }
    )
    log.info("built %d snapshots of %d leads", len(snapshots), snapshots["lead_id"].nunique())
    return snapshots.sort_values(["as_of", "lead_id"], kind="stable").reset_index(drop=True)


def build_activity_snapshots(
    export: Export, last_as_of: pd.Timestamp, scheme: SnapshotScheme | None = None
) -> pd.DataFrame:
    """Snapshots shortly after a seeded random `activity_share` of activities, and after up to
    `activity_per_type` activities of each rarer type (see module doc).

    Each picked activity gives one snapshot a uniform 0.01 to `activity_delay_days` days after
    it, kept while the lead has no opportunity and up to `last_as_of`. Same columns as
    `build_snapshots`.
    """
    scheme = scheme or SnapshotScheme()
    activities = export.activities
    rng = np.random.default_rng(scheme.seed)
    # Per activity, how many activities share its type (codes: the column may be
    # dictionary-encoded, and millions of rows need not be compared as text).
    type_code, _ = pd.factorize(activities["activity_type"], use_na_sentinel=False)
    counts = np.bincount(type_code)[type_code]
    wanted = scheme.activity_per_type / counts.astype(float)
    share = np.maximum(np.clip(wanted, 0.0, 1.0), scheme.activity_share)
    # The rarest types (hand-raises in a small CRM) get up to `MAX_REPEATS` looks per activity,
    # at independent delays, so enough rows describe a lead just after one.
    repeats = np.clip(np.floor(wanted), 1, MAX_REPEATS).astype(np.int64)
    chosen = rng.random(len(activities)) < share
    picked = activities.iloc[np.repeat(np.flatnonzero(chosen), repeats[chosen])]
    delay = rng.uniform(0.01, scheme.activity_delay_days, len(picked))
    as_of = picked["occurred_at"].to_numpy() + pd.to_timedelta(delay, unit="D").to_numpy()
    leads = export.leads.set_index("lead_id")
    created = picked["lead_id"].map(leads["created_at"]).to_numpy(dtype="datetime64[ns]")
    first_opp = first_opportunity_at(export).set_axis(export.leads["lead_id"])
    opp = picked["lead_id"].map(first_opp).to_numpy(dtype="datetime64[ns]")
    keep = (pd.isna(opp) | (as_of < opp)) & (as_of <= last_as_of.to_datetime64())
    snapshots = pd.DataFrame(
        {
            "lead_id": picked["lead_id"].to_numpy()[keep],
            "as_of": as_of[keep],
            "created_at": created[keep],
            "age_days": (as_of[keep] - created[keep]) / np.timedelta64(1, "D"),
        }
    )
    log.info("built %d activity snapshots", len(snapshots))
    return snapshots.sort_values(["as_of", "lead_id"], kind="stable").reset_index(drop=True)


def label_snapshots(snapshots: pd.DataFrame, export: Export, horizon_days: int) -> np.ndarray:
    """1 where the lead's opportunity opened at or after as_of closes won within the horizon."""
    won = export.opportunities.loc[
        export.opportunities["status"] == "won", ["lead_id", "created_at", "closed_at"]
    ]
    label = np.zeros(len(snapshots), dtype=np.int8)
    if won.empty or snapshots.empty:
        return label
    pairs = snapshots[["lead_id", "as_of"]].reset_index(names="row").merge(won, on="lead_id")
    horizon_end = pairs["as_of"] + horizon_days * DAY
    hit = (pairs["created_at"] >= pairs["as_of"]) & (pairs["closed_at"] <= horizon_end)
    label[pairs.loc[hit, "row"].unique()] = 1
    return label


@dataclass(frozen=True)
class TrainingExamples:
    """Labelled, uncensored snapshots with their cohort: train, validation or holdout."""

    snapshots: pd.DataFrame  # lead_id, as_of, created_at, age_days, label, cohort
    cutoff: pd.Timestamp
    horizon_days: int
    boundaries: dict[str, pd.Timestamp]
    # Training-only rows of train and holdout leads (same columns); never evaluated on.
    activity_snapshots: pd.DataFrame = field(default_factory=pd.DataFrame)

    def cohort(self, name: str) -> pd.DataFrame:
        return self.snapshots[self.snapshots["cohort"] == name].reset_index(drop=True)


def build_training_examples(
    export: Export,
    horizon_days: int,
    cutoff: pd.Timestamp | None = None,
    scheme: SnapshotScheme | None = None,
    split: SplitConfig | None = None,
) -> TrainingExamples:
    """Snapshots whose horizon is fully observed by `cutoff`, labelled and split by lead cohort.

    The split is by the lead's creation time, so a lead is in exactly one cohort (it never
    straddles train and holdout) and every cohort is later than the one before.
    """
    split = split or SplitConfig()
    cutoff = export.cutoff if cutoff is None else cutoff
    last_as_of = cutoff - horizon_days * DAY
    snapshots = build_snapshots(export, last_as_of, scheme)
    snapshots["label"] = label_snapshots(snapshots, export, horizon_days)
    holdout_start = last_as_of - split.holdout_days * DAY
    validation_start = holdout_start - split.validation_days * DAY

    def cohorts(created: pd.Series) -> np.ndarray:
        return np.select(
            [created >= holdout_start, created >= validation_start],
            ["holdout", "validation"],
            default="train",
        )

    snapshots["cohort"] = cohorts(snapshots["created_at"])
    extra = build_activity_snapshots(export, last_as_of, scheme)
    extra["label"] = label_snapshots(extra, export, horizon_days)
    extra["cohort"] = cohorts(extra["created_at"])
    extra = extra[extra["cohort"] != "validation"].reset_index(drop=True)
    counts = snapshots.groupby("cohort")["label"].agg(["size", "sum"])
    for name in ("train", "validation", "holdout"):
        if name not in counts.index or counts.loc[name, "sum"] == 0:
            raise ValueError(
                f"the {name} cohort has no won leads: the export's history is too short for "
                f"a {horizon_days}-day horizon with {split.validation_days} validation and "
                f"{split.holdout_days} holdout days (cut-off {cutoff:%Y-%m-%d})"
            )
    return TrainingExamples(
        snapshots=snapshots,
        cutoff=cutoff,
        horizon_days=horizon_days,
        boundaries={
            "validation_start": validation_start,
            "holdout_start": holdout_start,
            "last_as_of": last_as_of,
        },
        activity_snapshots=extra,
    )
