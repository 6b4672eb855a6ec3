"""The feature list: name, group, kind and wording of every feature a fitted featurizer outputs.

`describe_features` turns what `LeadFeaturizer.fit` learned (category levels, the kinds of the
extra lead columns, the activity vocabulary) and its window settings into `FeatureInfo` records
in output order; the featurizer derives its columns, dtypes and stats layout from them, and the
reasons read their wording. Names are stable: a model's stored state rebuilds the same list.

Feature names (``<slug>`` is a lower-case ``[a-z0-9_]`` form of a raw name, made unique;
`FeatureInfo` in `feature_info_` keeps the raw activity type and source column):
- ``lead__source``, ``lead__campaign``, ``lead__country``, ``lead__industry``,
  ``lead__seniority``, ``lead__department`` and categorical ``extra__<slug>``: pandas
  Categoricals with the fitted levels (`categories_`). They are never NaN: a missing or blank
  value is the level ``__missing__``; a value unseen at fit, rarer than `min_category_count` or
  beyond the `max_category_levels` most frequent is ``__other__``. Seniority and department
  have fixed levels (`features.attributes`), ``unknown`` for missing or junk titles.
- ``lead__company_size_log1p``, ``lead__free_mail`` (1 free-mail, 0 business, NaN missing),
  numeric ``extra__<slug>`` (NaN stays NaN; text that is not a number becomes NaN) and
  ``extra__<slug>_days`` for timestamp extras (days before as_of; NaN when missing or not before
  as_of, since a later value was not known then).
- ``lead__age_days``: days from created_at to as_of. Group "engagement", with the activity
  features: it is how long the journey has run, which gives the counts their meaning.
- per vocabulary type, for the ``other`` bucket (unseen and rare types) and for ``any`` (all
  activities): ``act__<type>__count_<w>d`` (``as_of - w days <= occurred_at < as_of``),
  ``act__<type>__count_all``, ``act__<type>__days_since_last`` (NaN: never), and
  ``act__<type>__decayed_hl<h>d`` (sum of ``0.5 ** (age_days / h)``); per vocabulary type and
  ``other``, ``act__<type>__share_hl<h>d`` for each of `share_half_lives_days` (3 by
  default): the type's decayed count over all activities' (0 without activity). A fresh demo
  request of a lead that did nothing else lately is all of its recent activity (share near 1);
  the same request amid a burst of visits is a small part of it. The truth of a demo world says
  the first moves the odds far more (the burst already showed a hot lead), and the counts alone
  let an additive model only learn the average of the two, which under-reads the lone
  hand-raise. Per type, a rare type's share was learned from a few dozen leads; the pooled
  ``act__any__intent_mix_hl3d`` below reads the same thing from every type's rows;
- ``act__any__active_days_all`` and ``act__any__active_days_30d`` (distinct UTC calendar days
  with activity) and ``act__any__velocity_7d_vs_30d``: with r the daily rate over the last 7
  days and q the daily rate over the 23 days before, ``(r - q) / (r + q)`` in [-1, 1], 0 without
  activity in the last 30 days.
- once the featurizer has learned each type's lift from labelled rows (`fit_intent`, in
  training: `features/intent.py`), ``act__any__intent_peak_hl<h>d`` and
  ``act__any__intent_mix_hl<h>d`` (h = `intent_half_life_days`, 3): the strongest fresh
  activity and the lift of the recent activity mix, over all types.
Days are float days (``timedelta / 1 day``). All non-categorical features are float64;
categoricals come first, in the order of `feature_names_out_`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from features import info as fi
from features.attributes import DEPARTMENTS, SENIORITY_LEVELS
from features.info import OTHER_ACTIVITY, FeatureInfo

CATEGORICAL_LEAD_COLUMNS = ("source", "campaign", "country", "industry")
ACTIVE_WINDOW_DAYS = 30.0
VELOCITY_DAYS = (7.0, 30.0)

EXTRA_NUMERIC = "numeric"
EXTRA_CATEGORY = "category"
EXTRA_TIMESTAMP = "timestamp"


def day_label(value: float) -> str:
    """Compact day count for names: 7 -> '7', 0.5 -> '0p5'."""
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", "p")


def _slug(name: object) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    return slug or "unnamed"


def unique_slugs(names: Iterable[object], taken: set[str]) -> list[str]:
    """Slugs of names, suffixed _2, _3... when they collide with each other or with `taken`."""
    slugs = []
    for name in names:
        base = slug = _slug(name)
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}_{n}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


def extra_kind(values: pd.Series) -> str:
    """Whether an extra lead column is numeric, a timestamp or categorical, by its values."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return EXTRA_NUMERIC
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return EXTRA_TIMESTAMP
    present = values.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype) or not len(present):
        return EXTRA_CATEGORY
    if present.map(lambda v: isinstance(v, bool)).all():
        return EXTRA_NUMERIC
    if pd.to_numeric(present, errors="coerce").notna().all():
        return EXTRA_NUMERIC
    # Exports read from CSV hold custom date fields as ISO-8601 text.
    text = present.astype(str)
    if text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        stamps = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        if stamps.notna().all():
            return EXTRA_TIMESTAMP
    return EXTRA_CATEGORY


def describe_features(
    levels: Mapping[str, Sequence[str]],
    extra_columns: Mapping[str, str],
    activity_types: Sequence[str],
    windows_days: Sequence[float],
    half_lives_days: Sequence[float],
    share_half_lives_days: Sequence[float],
) -> tuple[list[FeatureInfo], dict[str, list[str]]]:
    """Every feature in output order, and the levels of each categorical one.

    `levels` holds the fitted levels of each categorical lead column (the fixed ones and the
    categorical extras), keyed by source column.
    """
    infos: list[FeatureInfo] = []
    categories: dict[str, list[str]] = {}
    taken: set[str] = set()

    def category(name: str, kind: str, column: str, cats: Sequence[str], text: str) -> None:
        infos.append(FeatureInfo(name, "fit", kind, text, column, categorical=True))
        categories[name] = list(cats)

    for column in CATEGORICAL_LEAD_COLUMNS:
        category(f"lead__{column}", fi.CATEGORY, column, levels[column], f"lead {column}")
    category("lead__seniority", fi.SENIORITY, "job_title", SENIORITY_LEVELS, "seniority")
    category("lead__department", fi.DEPARTMENT, "job_title", DEPARTMENTS, "department")
    extras = list(extra_columns)
    stems = [c + "_days" if extra_columns[c] == EXTRA_TIMESTAMP else c for c in extras]
    names = {c: f"extra__{s}" for c, s in zip(extras, unique_slugs(stems, taken), strict=True)}
    for column, kind in extra_columns.items():
        if kind == EXTRA_CATEGORY:
            category(names[column], fi.CATEGORY, column, levels[column], f"{column}")
    infos.append(
        FeatureInfo(
            "lead__company_size_log1p", "fit", fi.LOG1P, "log1p(company size)", "company_size"
        )
    )
    infos.append(
        FeatureInfo("lead__free_mail", "fit", fi.FREE_MAIL, "free-mail address", "email_domain")
    )
    for column, kind in extra_columns.items():
        if kind == EXTRA_NUMERIC:
            infos.append(FeatureInfo(names[column], "fit", fi.NUMERIC, column, column))
        elif kind == EXTRA_TIMESTAMP:
            infos.append(
                FeatureInfo(
                    names[column],
                    "fit",
                    fi.DAYS_SINCE_TIMESTAMP,
                    f"days since {column}",
                    column,
                )
            )
    infos.append(
        FeatureInfo("lead__age_days", "engagement", fi.LEAD_AGE, "lead age (days)", "created_at")
    )

    type_slugs = unique_slugs(activity_types, {"any", "other"})
    activity_groups: list[tuple[str | None, str, str]] = [
        *((t, s, f"'{t}' activities") for t, s in zip(activity_types, type_slugs, strict=True)),
        (OTHER_ACTIVITY, "other", "other activities"),
        (None, "any", "all activities"),
    ]
    for activity, slug, what in activity_groups:
        infos += _activity_infos(
            f"act__{slug}__",
            activity,
            what,
            windows_days,
            half_lives_days,
            share_half_lives_days if activity is not None else (),
        )
    recent, reference = VELOCITY_DAYS
    infos += [
        FeatureInfo(
            "act__any__active_days_all", "engagement", fi.ACTIVE_DAYS, "distinct active days"
        ),
        FeatureInfo(
            f"act__any__active_days_{day_label(ACTIVE_WINDOW_DAYS)}d",
            "engagement",
            fi.ACTIVE_DAYS,
            f"distinct active days in the last {day_label(ACTIVE_WINDOW_DAYS)} days",
            window_days=ACTIVE_WINDOW_DAYS,
        ),
        FeatureInfo(
            f"act__any__velocity_{day_label(recent)}d_vs_{day_label(reference)}d",
            "engagement",
            fi.VELOCITY,
            f"activity rate of the last {day_label(recent)} days vs the "
            f"{day_label(recent)}-{day_label(reference)} days before",
            window_days=recent,
            reference_window_days=reference,
        ),
    ]
    return infos, categories


def _activity_infos(
    prefix: str,
    activity: str | None,
    what: str,
    windows_days: Sequence[float],
    half_lives_days: Sequence[float],
    share_half_lives_days: Sequence[float] = (),
) -> list[FeatureInfo]:
    """Counts, recency, decayed counts and shares of one activity type (or of all activities)."""

    def info(
        suffix: str,
        kind: str,
        text: str,
        window_days: float | None = None,
        half_life_days: float | None = None,
    ) -> FeatureInfo:
        return FeatureInfo(
            prefix + suffix,
            "engagement",
            kind,
            text,
            activity_type=activity,
            window_days=window_days,
            half_life_days=half_life_days,
        )

    infos = [
        info(
            f"count_{day_label(w)}d",
            fi.COUNT,
            f"{what} in the last {day_label(w)} days",
            window_days=w,
        )
        for w in map(float, windows_days)
    ]
    infos.append(info("count_all", fi.COUNT, f"{what}, all time"))
    infos.append(info("days_since_last", fi.DAYS_SINCE_LAST, f"days since the last of {what}"))
    by_half_life: list[tuple[float, str, str, str]] = [
        *(
            (float(h), "decayed", fi.DECAYED_COUNT, f"{what} decayed with a")
            for h in half_lives_days
        ),
        *(
            (float(h), "share", fi.SHARE, f"{what}' share of recent activity, a")
            for h in share_half_lives_days
        ),
    ]
    infos += [
        info(
            f"{stem}_hl{day_label(h)}d",
            kind,
            f"{text} {day_label(h)}-day half-life",
            half_life_days=h,
        )
        for h, stem, kind, text in by_half_life
    ]
    return infos
