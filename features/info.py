"""What each feature means: the metadata that reason texts and fit/engagement sub-scores read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FeatureGroup = Literal["fit", "engagement"]

# Feature kinds. Lead attributes (group "fit"):
CATEGORY = "category"  # a categorical lead column (source, campaign, country, industry, extra)
SENIORITY = "seniority"  # level parsed from job_title (attributes.SENIORITY_LEVELS)
DEPARTMENT = "department"  # department parsed from job_title (attributes.DEPARTMENTS)
LOG1P = "log1p"  # log1p of a numeric lead column (company_size); expm1 gives the raw value
FREE_MAIL = "free_mail"  # 1.0 free-mail domain, 0.0 business domain, NaN missing
NUMERIC = "numeric"  # a numeric extra lead column, as it is
DAYS_SINCE_TIMESTAMP = "days_since_timestamp"  # days from a timestamp extra column to as_of
# Journey features (group "engagement"):
LEAD_AGE = "lead_age_days"  # days from created_at to as_of
COUNT = "count"  # activities in the last window_days (None: all time)
DAYS_SINCE_LAST = "days_since_last"  # days since the last activity (NaN: never)
DECAYED_COUNT = "decayed_count"  # sum of 0.5 ** (age_days / half_life_days)
SHARE = "share"  # a type's decayed count over all activities' (half_life_days); 0 without any
ACTIVE_DAYS = "active_days"  # distinct UTC calendar days with activity (window_days or all time)
VELOCITY = "velocity"  # (r - q) / (r + q) of daily rates, last window vs the rest of reference
INTENT_PEAK = "intent_peak"  # strongest learned lift of fresh activity (features.intent)
INTENT_MIX = "intent_mix"  # learned lift of the recent activity mix (features.intent)

# `activity_type` of the bucket that holds types outside the fitted vocabulary.
OTHER_ACTIVITY = "__other__"


@dataclass(frozen=True)
class FeatureInfo:
    """Meaning of one output column of `LeadFeaturizer`.

    `activity_type` is the raw CRM activity name, `OTHER_ACTIVITY` for the bucket of unseen and
    rare types, and None for lead attributes and for features over all activities.
    `window_days` is the look-back window (None: all time). For `VELOCITY` the rate over the
    last `window_days` is compared with the rate over the rest of `reference_window_days`.
    """

    name: str
    group: FeatureGroup
    kind: str
    description: str
    source_column: str | None = None
    activity_type: str | None = None
    window_days: float | None = None
    reference_window_days: float | None = None
    half_life_days: float | None = None
    categorical: bool = False
