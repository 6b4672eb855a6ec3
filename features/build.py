"""Point-in-time lead features: one row per (lead, as_of) from leads and their activities.

`LeadFeaturizer` is a scikit-learn transformer. `fit` learns the activity vocabulary (types
seen at least `min_activity_count` times before their lead's last snapshot, at most
`max_activity_types`), the category levels and the kinds of extra lead columns; `transform`
builds one feature row per snapshot from activities strictly before the snapshot's ``as_of``.
One code path serves a single lead (online scoring) and millions of snapshots (training, batch).

The features, their names and kinds are listed in `features/catalogue.py`.

Inputs are checked: unknown snapshot leads, duplicate lead ids, missing as_of and a lead created
after its snapshot's as_of raise ValueError naming the leads. Activities of leads that no
snapshot asks for, or without a time, are ignored. Optional lead columns may be absent (a
partial online record): their values count as missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from features import info as fi
from features.activity import NS_PER_DAY, ActivityStats, activity_stats, stats_layout
from features.attributes import job_roles
from features.catalogue import (
    ACTIVE_WINDOW_DAYS,
    CATEGORICAL_LEAD_COLUMNS,
    EXTRA_CATEGORY,
    VELOCITY_DAYS,
    day_label,
    describe_features,
    extra_kind,
)
from features.contract import LEAD_OPTIONAL, LEAD_REQUIRED, utc_naive_ns
from features.email_domains import free_mail_flags
from features.history import (
    NAT,
    LeadHistory,
    LeadRows,
    LeadTable,
    Prepared,
    frame_column,
    lead_column,
    n_rows,
    prepare,
    prepare_rows,
)
from features.info import INTENT_MIX, INTENT_PEAK, OTHER_ACTIVITY
from features.intent import intent_infos
from features.intent_features import IntentFeatures
from features.values import normalised_levels, numeric_values

MISSING_LEVEL = "__missing__"
OTHER_LEVEL = "__other__"


# Output is already a DataFrame: opting out of set_output wrapping saves ~0.1 ms per call.
class LeadFeaturizer(IntentFeatures, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Point-in-time features of leads at their snapshot times (see the module docstring)."""

    def __init__(
        self,
        windows_days: Sequence[float] = (7, 30, 90),
        half_lives_days: Sequence[float] = (3, 14, 60),
        share_half_lives_days: Sequence[float] = (3,),
        intent_half_life_days: float | None = 3.0,
        min_activity_count: int = 20,
        min_category_count: int = 20,
        max_category_levels: int = 50,
        max_activity_types: int = 50,
    ) -> None:
        self.windows_days = windows_days
        self.half_lives_days = half_lives_days
        self.share_half_lives_days = share_half_lives_days
        self.intent_half_life_days = intent_half_life_days
        self.min_activity_count = min_activity_count
        self.min_category_count = min_category_count
        self.max_category_levels = max_category_levels
        self.max_activity_types = max_activity_types

    # ----------------------------------------------------------------- fit
    def fit(self, X: LeadHistory, y: object = None) -> LeadFeaturizer:
        """Learn the activity vocabulary, category levels and extra column kinds from X."""
        self._check_params()
        data = prepare(X)
        self.activity_types_ = self._learn_vocabulary(data)
        leads = data.leads
        assert isinstance(leads, pd.DataFrame)  # prepare keeps the frame it was given
        extra = [c for c in X.leads.columns if c not in (*LEAD_REQUIRED, *LEAD_OPTIONAL)]
        self.extra_columns_ = {c: extra_kind(leads[c]) for c in extra}
        categorical = [
            *CATEGORICAL_LEAD_COLUMNS,
            *(c for c, k in self.extra_columns_.items() if k == EXTRA_CATEGORY),
        ]
        levels = {c: self._learn_levels(frame_column(leads, c)) for c in categorical}
        self.intent_lifts_: dict[str, float] | None = None
        self._describe(levels)
        return self

    def _levels(self) -> dict[str, list[str]]:
        return {
            str(info.source_column): list(self.categories_[name])
            for name, info in self.feature_info_.items()
            if info.kind == fi.CATEGORY
        }

    def _check_params(self) -> None:
        for name in ("windows_days", "half_lives_days"):
            values = getattr(self, name)
            if not len(values) or any(not np.isfinite(v) or v <= 0 for v in values):
                raise ValueError(f"{name} must be positive numbers, got {values!r}")
        intent = () if self.intent_half_life_days is None else (self.intent_half_life_days,)
        unknown = set(map(float, [*self.share_half_lives_days, *intent])) - set(
            map(float, self.half_lives_days)
        )
        if unknown:
            raise ValueError(
                "share_half_lives_days and intent_half_life_days must be among "
                f"half_lives_days, not {sorted(unknown)}"
            )
        for name in (
            "min_activity_count",
            "min_category_count",
            "max_category_levels",
            "max_activity_types",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")

    def _learn_vocabulary(self, data: Prepared) -> list[str]:
        """Activity types seen often enough before their lead's last snapshot."""
        last_as_of = np.full(n_rows(data.leads), NAT, dtype=np.int64)
        np.maximum.at(last_as_of, data.snap_lead, data.as_of)
        known = (data.act_time < last_as_of[data.act_lead]) & (data.act_type >= 0)
        per_code = np.bincount(data.act_type[known], minlength=len(data.type_names))
        counts: Counter[str] = Counter()
        for name, n in zip(data.type_names, per_code.tolist(), strict=True):
            counts[name] += n
        frequent = [
            (t, n)
            for t, n in counts.items()
            if n >= self.min_activity_count and t != OTHER_ACTIVITY
        ]
        frequent.sort(key=lambda tn: (-tn[1], tn[0]))
        return sorted(t for t, _ in frequent[: self.max_activity_types])

    def _learn_levels(self, values: pd.Series) -> list[str]:
        """Levels frequent enough among the fitted leads, specials last."""
        codes, labels = normalised_levels(values)
        counts: Counter[str] = Counter()
        for code, n in zip(*np.unique(codes, return_counts=True), strict=True):
            label = labels[code]
            if label is not None and label not in (OTHER_LEVEL, MISSING_LEVEL):
                counts[label] += int(n)
        frequent = [(v, n) for v, n in counts.items() if n >= self.min_category_count]
        frequent.sort(key=lambda vn: (-vn[1], vn[0]))
        kept = sorted(v for v, _ in frequent[: self.max_category_levels])
        return [*kept, OTHER_LEVEL, MISSING_LEVEL]

    def _describe(self, levels: dict[str, list[str]]) -> None:
        """Feature names, order, metadata and categorical dtypes from the fitted state."""
        infos, categories = describe_features(
            levels,
            self.extra_columns_,
            self.activity_types_,
            self.windows_days,
            self.half_lives_days,
            self.share_half_lives_days,
        )
        if self.intent_lifts_ is not None:
            half_life = self.intent_half_life()
            infos += intent_infos(half_life, day_label(half_life))
        self.feature_info_ = {i.name: i for i in infos}
        self.feature_names_out_ = [i.name for i in infos]
        self.categorical_features_ = [i.name for i in infos if i.categorical]
        self.categories_ = categories
        self.category_dtypes_ = {
            n: pd.CategoricalDtype(c, ordered=False) for n, c in categories.items()
        }

        self._plan()

    def fitted_state(self) -> dict[str, Any]:
        """What `fit` learned, as plain JSON values (the rest is derived from it).

        Models are stored as data, never as pickles: loading a pickle runs whatever code it
        names (see docs/security.md).
        """
        check_is_fitted(self, "feature_names_out_")
        levels = self._levels()
        return {
            "params": {
                key: list(value) if isinstance(value, tuple | list) else value
                for key, value in self.get_params().items()
            },
            "activity_types": list(self.activity_types_),
            "extra_columns": dict(self.extra_columns_),
            "levels": levels,
            "intent_lifts": None if self.intent_lifts_ is None else dict(self.intent_lifts_),
        }

    @classmethod
    def from_fitted_state(cls, state: Mapping[str, Any]) -> LeadFeaturizer:
        """The featurizer `fitted_state` describes, ready to transform."""
        # Models stored before share features existed read their activities without them.
        featurizer = cls(**{"share_half_lives_days": (), **state["params"]})
        featurizer._check_params()
        featurizer.activity_types_ = [str(t) for t in state["activity_types"]]
        featurizer.extra_columns_ = {str(k): str(v) for k, v in state["extra_columns"].items()}
        levels = {str(k): [str(v) for v in values] for k, values in state["levels"].items()}
        # Models stored before the intent features existed have none.
        lifts = state.get("intent_lifts")
        featurizer.intent_lifts_ = (
            None if lifts is None else {str(k): float(v) for k, v in lifts.items()}
        )
        featurizer._describe(levels)
        return featurizer

    def _plan(self) -> None:
        """Lookup tables for transform, derived once from the fitted state."""
        self.level_codes_ = {
            name: {level: code for code, level in enumerate(levels)}
            for name, levels in self.categories_.items()
        }
        self.numeric_features_ = [n for n in self.feature_names_out_ if n not in self.categories_]
        n_types = len(self.activity_types_) + 1
        layout = stats_layout(
            n_types,
            [float(w) for w in self.windows_days],
            [float(h) for h in self.half_lives_days],
            ACTIVE_WINDOW_DAYS,
            VELOCITY_DAYS[0],
            [float(h) for h in self.share_half_lives_days],
        )
        type_column = {t: i for i, t in enumerate(self.activity_types_)}
        type_column[OTHER_ACTIVITY] = n_types - 1
        index = []
        for name in self.numeric_features_:
            info = self.feature_info_[name]
            if info.kind in (INTENT_PEAK, INTENT_MIX):
                continue
            if info.group == "engagement" and info.kind != fi.LEAD_AGE:
                column = n_types if info.activity_type is None else type_column[info.activity_type]
                by_half_life = info.kind in (fi.DECAYED_COUNT, fi.SHARE)
                param = info.half_life_days if by_half_life else info.window_days
                index.append(layout[(info.kind, column, param)])
        # Activity features close the feature list: one gather fills them from the stats matrix.
        self.activity_columns_ = np.asarray(index, dtype=np.intp)
        self._plan_intent(layout, n_types)

    # ----------------------------------------------------------- transform
    def set_output(self, *, transform: str | None = None) -> LeadFeaturizer:
        """Output is always a pandas DataFrame; accepted so Pipeline.set_output works."""
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"LeadFeaturizer only outputs pandas DataFrames, not {transform!r}")
        return self

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output columns, in order."""
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def transform(self, X: LeadHistory) -> pd.DataFrame:
        """One feature row per row of X.snapshots, in the same order, with a RangeIndex.

        An output adapter of `transform_matrix` (the implementation): the same parts, laid
        out as a DataFrame with categorical columns, for training and sklearn callers.
        """
        codes, block = self._transform_parts(X)
        index = pd.RangeIndex(block.shape[0])
        categorical = {
            name: pd.Categorical.from_codes(codes[name], dtype=self.category_dtypes_[name])
            for name in self.categorical_features_
        }
        return pd.concat(
            [
                pd.DataFrame(categorical, index=index),
                pd.DataFrame(block, columns=self.numeric_features_, index=index, copy=False),
            ],
            axis=1,
        )

    def transform_matrix(self, X: LeadHistory) -> np.ndarray:
        """The features as one float matrix: category codes, then the numbers (no DataFrame).

        The featurizer's implementation: every entry computes its rows with `_parts` on the
        prepared arrays (`Prepared`); `transform` and `transform_matrix_rows` are adapters
        of it (output as a DataFrame; input as `LeadRows`). The same values as
        `models.float_matrix.feature_matrix(transform(X))` (tested), without building a frame.
        """
        return self._matrix(*self._transform_parts(X))

    def _matrix(self, codes: dict[str, np.ndarray], block: np.ndarray) -> np.ndarray:
        n_cat = len(self.categorical_features_)
        out = np.empty((block.shape[0], n_cat + block.shape[1]), dtype=np.float64)
        for j, name in enumerate(self.categorical_features_):
            out[:, j] = codes[name]
        out[:, n_cat:] = block
        return out

    def matrix_columns(self, A: np.ndarray) -> dict[str, np.ndarray]:
        """Each feature column of a `transform_matrix` result (categoricals as level strings)."""
        columns: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.feature_names_out_):
            if name in self.category_dtypes_:
                levels = np.asarray(self.category_dtypes_[name].categories, dtype=object)
                columns[name] = levels[A[:, j].astype(np.intp)]
            else:
                columns[name] = A[:, j]
        return columns

    def transform_matrix_rows(self, rows: LeadRows) -> np.ndarray:
        """`transform_matrix` for leads scored one row each, their activities given by row.

        An input adapter of `transform_matrix`: only the preparation differs (`prepare_rows`
        instead of `prepare`). The service scores with it: it knows each activity's lead row
        already, so ids are never written out and matched back (tested equal).
        """
        check_is_fitted(self, "feature_names_out_")
        return self._matrix(*self._parts(prepare_rows(rows)))

    def _transform_parts(self, X: LeadHistory) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Category codes per categorical feature, and the numeric block, one row per snapshot."""
        check_is_fitted(self, "feature_names_out_")
        return self._parts(prepare(X))

    def _parts(self, data: Prepared) -> tuple[dict[str, np.ndarray], np.ndarray]:
        per_lead = self._lead_columns(data.leads)
        dated = self._dated_columns(data)
        n_snaps = len(data.snap_lead)
        codes = {name: per_lead[name][data.snap_lead] for name in self.categorical_features_}
        # Categoricals come first in feature_names_out_ and activity features last, so the
        # numeric block is the lead's numbers and then one gather from the activity stats.
        block = np.empty((n_snaps, len(self.numeric_features_)), order="F")
        n_intent = 2 if self.intent_lifts_ is not None else 0
        n_lead_numeric = len(self.numeric_features_) - len(self.activity_columns_) - n_intent
        for j, name in enumerate(self.numeric_features_[:n_lead_numeric]):
            block[:, j] = per_lead[name][data.snap_lead] if name in per_lead else dated[name]
        stats = self._activity_stats(data).matrix
        n_activity = n_lead_numeric + len(self.activity_columns_)
        block[:, n_lead_numeric:n_activity] = stats[:, self.activity_columns_]
        if n_intent:
            block[:, n_activity], block[:, n_activity + 1] = self._intent_from_stats(stats)
        return codes, block

    def _category_codes(self, name: str, values: pd.Series | np.ndarray) -> np.ndarray:
        codes, labels = normalised_levels(values)
        level_codes = self.level_codes_[name]
        other, missing = level_codes[OTHER_LEVEL], level_codes[MISSING_LEVEL]
        label_codes = np.array(
            [missing if v is None else level_codes.get(v, other) for v in labels], dtype=np.int16
        )
        return label_codes[codes]

    def _lead_columns(self, leads: LeadTable) -> dict[str, np.ndarray]:
        """Features of each lead row that do not depend on as_of."""
        columns: dict[str, np.ndarray] = {}
        for name, info in self.feature_info_.items():
            column = info.source_column
            if info.group != "fit" or column is None:
                continue
            if info.kind == fi.CATEGORY:
                columns[name] = self._category_codes(name, lead_column(leads, column))
            elif info.kind == fi.NUMERIC:
                columns[name] = numeric_values(lead_column(leads, column))
            elif info.kind == fi.LOG1P:
                size = numeric_values(lead_column(leads, column))
                with np.errstate(invalid="ignore"):
                    columns[name] = np.log1p(np.where(size >= 0, size, np.nan))
            elif info.kind == fi.FREE_MAIL:
                columns[name] = free_mail_flags(lead_column(leads, column))
        seniority, department = job_roles(lead_column(leads, "job_title"))
        columns["lead__seniority"], columns["lead__department"] = seniority, department
        return columns

    def _dated_columns(self, data: Prepared) -> dict[str, np.ndarray]:
        """Lead features relative to each snapshot's as_of: lead age, timestamp extras."""
        columns: dict[str, np.ndarray] = {}
        for name, info in self.feature_info_.items():
            if info.kind not in (fi.LEAD_AGE, fi.DAYS_SINCE_TIMESTAMP):
                continue
            if info.kind == fi.LEAD_AGE:
                stamp = data.created
            else:
                assert info.source_column is not None
                stamp = utc_naive_ns(lead_column(data.leads, info.source_column))[data.snap_lead]
            known = stamp != NAT
            if info.kind == fi.DAYS_SINCE_TIMESTAMP:
                # A timestamp at or after as_of was not known then.
                known &= stamp < data.as_of
            columns[name] = np.where(known, (data.as_of - stamp) / NS_PER_DAY, np.nan)
        return columns

    def _activity_stats(self, data: Prepared) -> ActivityStats:
        n_types = len(self.activity_types_) + 1
        type_index = {t: i for i, t in enumerate(self.activity_types_)}
        name_codes = np.array(
            [type_index.get(t, n_types - 1) for t in data.type_names], dtype=np.int64
        )
        type_code = np.where(data.act_type >= 0, name_codes[data.act_type], n_types - 1)
        return activity_stats(
            data.act_lead,
            data.act_time,
            type_code,
            n_types,
            data.snap_lead,
            data.as_of,
            n_rows(data.leads),
            [float(w) for w in self.windows_days],
            [float(h) for h in self.half_lives_days],
            ACTIVE_WINDOW_DAYS,
            VELOCITY_DAYS,
            share_half_lives_days=[float(h) for h in self.share_half_lives_days],
        )
