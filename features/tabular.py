"""Features of a single table with one row per lead: numbers as numbers, the rest as categoricals.

For teams whose export is one row per lead with an outcome column (no activities, no
opportunities). Everything here is pure: frames in, frames out.

- :func:`mask_placeholders` turns blank cells and form placeholders ("Select") into missing.
- :func:`screen_columns` names the columns that must not become features (empty, id-like,
  timestamps) and why.
- :class:`TabularFeaturizer` learns, per column, whether it is numeric or categorical and the
  levels of each categorical. Output categoricals have fixed levels: the kept values, then
  ``__other__`` (rare at fit, or unseen) and ``__missing__``; they are never NaN. Numeric
  features are float64 and keep NaN. Output names are lower-case ``[a-z0-9_]`` slugs of the
  input names (LightGBM rejects some characters in feature names), made unique.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from features.build import MISSING_LEVEL, OTHER_LEVEL

NUMERIC = "numeric"
CATEGORY = "category"

DEFAULT_MISSING_VALUES: tuple[str, ...] = ("Select",)
"""Cell values read as missing besides blanks: web forms store an untouched drop-down as its
prompt ("Select"). Compared after stripping whitespace, case-insensitively."""

EMPTY = "empty"
UNIQUE_STRINGS = "id-like: every value is distinct"
NAMED_LIKE_ID = "id-like: named like an id and nearly every value is distinct"
TIMESTAMP = "timestamp"

# Name tokens of identifier columns ("Prospect ID", "lead_id", "LeadNumber", "UUID").
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "number"})
# A column named like an id is only excluded when it also looks like one; "Number of visits"
# with a few dozen values is a feature.
_ID_DISTINCT_SHARE = 0.9
_DATE_PATTERN = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})([ T]|$)")
_DATE_SAMPLE = 500
_DATE_SHARE = 0.95


def _is_text(values: pd.Series) -> bool:
    dtype = values.dtype
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Stripped strings with pd.NA for missing."""
    return values.astype("string").str.strip()


def mask_placeholders(frame: pd.DataFrame, missing_values: Iterable[str]) -> pd.DataFrame:
    """A copy with blank cells and the given placeholder values (any case) set to missing."""
    placeholders = {str(v).strip().lower() for v in missing_values}
    placeholders.add("")
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not _is_text(values):
            continue
        text = _as_text(values)
        placeholder = text.str.lower().isin(placeholders).fillna(False).to_numpy(dtype=bool)
        if placeholder.any():
            out[column] = values.mask(placeholder)
    return out


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a column name, splitting camelCase ("LeadNumber" -> lead, number)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def _looks_like_dates(present: pd.Series) -> bool:
    sample = present.astype(str).head(_DATE_SAMPLE)
    return bool(sample.str.match(_DATE_PATTERN).mean() >= _DATE_SHARE)


def _is_integral(present: pd.Series) -> bool:
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return False
    values = numbers.to_numpy(dtype=np.float64)
    return bool(np.all(values == np.round(values)))


def screen_columns(frame: pd.DataFrame) -> dict[str, str]:
    """Columns that must not become features, with the reason: empty, id-like or timestamps.

    Id-like: text columns whose values are all distinct (uuids, e-mails), and columns named
    like an id (``id``, ``uuid``, ``number`` as a word) whose values are text or integers and
    nearly all distinct. Timestamps: datetime columns and text columns of dates; they are not
    features (a date says when, not who), but one can be the time column of the split.
    Expects placeholders already masked (:func:`mask_placeholders`).
    """
    excluded: dict[str, str] = {}
    for column in frame.columns:
        values = frame[column]
        present = values.dropna()
        if present.empty:
            excluded[column] = EMPTY
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            excluded[column] = TIMESTAMP
            continue
        text = _is_text(values)
        distinct_share = present.nunique() / len(present)
        if text and _looks_like_dates(present):
            excluded[column] = TIMESTAMP
        elif text and len(present) > 1 and distinct_share == 1.0:
            excluded[column] = UNIQUE_STRINGS
        elif (
            _ID_TOKENS.intersection(name_tokens(column))
            and distinct_share >= _ID_DISTINCT_SHARE
            and (text or _is_integral(present))
        ):
            excluded[column] = NAMED_LIKE_ID
    return excluded


def column_kind(values: pd.Series) -> str:
    """Numeric when the dtype is numeric or boolean or every present value parses as a number."""
    if not _is_text(values):
        return NUMERIC
    present = values.dropna()
    if present.empty or isinstance(values.dtype, pd.CategoricalDtype):
        return CATEGORY
    if present.map(lambda v: isinstance(v, bool)).all():
        return NUMERIC
    return NUMERIC if pd.to_numeric(present, errors="coerce").notna().all() else CATEGORY


def _numeric(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(values.astype(object), errors="coerce")
    return np.asarray(converted.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _slug(name: str) -> str:
    return "_".join(name_tokens(name)) or "column"


def unique_slugs(names: Sequence[str]) -> list[str]:
    """Slugs of names, suffixed _2, _3... when two names give the same slug."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        base = candidate = _slug(name)
        k = 2
        while candidate in seen:
            candidate = f"{base}_{k}"
            k += 1
        seen.add(candidate)
        out.append(candidate)
    return out


class TabularFeaturizer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Numbers as float64, everything else as categoricals with fitted levels (see module doc).

    `fit` takes the feature columns only (no label, ids or leaks). Columns missing at
    `transform` are read as all-missing, so a partial record still scores; extra columns are
    ignored.
    """

    def __init__(
        self,
        missing_values: Sequence[str] = DEFAULT_MISSING_VALUES,
        min_category_count: int = 20,
        max_category_levels: int = 50,
    ) -> None:
        self.missing_values = missing_values
        self.min_category_count = min_category_count
        self.max_category_levels = max_category_levels

    def fit(self, X: pd.DataFrame, y: object = None) -> TabularFeaturizer:
        """Learn each column's kind and the levels of the categorical ones."""
        if self.min_category_count < 1 or self.max_category_levels < 1:
            raise ValueError("min_category_count and max_category_levels must be at least 1")
        if X.columns.has_duplicates:
            raise ValueError("column names must be unique")
        data = mask_placeholders(X, self.missing_values)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.column_kinds_ = {str(c): column_kind(data[c]) for c in X.columns}
        slugs = unique_slugs(list(self.feature_names_in_))
        self.source_columns_ = dict(zip(slugs, self.feature_names_in_, strict=True))
        self.feature_names_out_ = slugs
        self.categories_ = {
            slug: self._learn_levels(data[source])
            for slug, source in self.source_columns_.items()
            if self.column_kinds_[source] == CATEGORY
        }
        self.categorical_features_ = [s for s in slugs if s in self.categories_]
        self.numeric_features_ = [s for s in slugs if s not in self.categories_]
        self.category_dtypes_ = {
            slug: pd.CategoricalDtype(levels, ordered=False)
            for slug, levels in self.categories_.items()
        }
        return self

    def fitted_state(self) -> dict[str, Any]:
        """What `fit` learned, as plain JSON values (models are stored as data, never pickles)."""
        check_is_fitted(self, "feature_names_out_")
        return {
            "params": {
                "missing_values": list(self.missing_values),
                "min_category_count": self.min_category_count,
                "max_category_levels": self.max_category_levels,
            },
            "columns": [
                {"name": str(source), "slug": slug, "kind": self.column_kinds_[source]}
                for slug, source in self.source_columns_.items()
            ],
            "levels": {slug: list(levels) for slug, levels in self.categories_.items()},
        }

    @classmethod
    def from_fitted_state(cls, state: Mapping[str, Any]) -> TabularFeaturizer:
        """The featurizer `fitted_state` describes, ready to transform."""
        params = state["params"]
        featurizer = cls(
            missing_values=tuple(str(v) for v in params["missing_values"]),
            min_category_count=int(params["min_category_count"]),
            max_category_levels=int(params["max_category_levels"]),
        )
        columns = state["columns"]
        names = [str(c["name"]) for c in columns]
        slugs = [str(c["slug"]) for c in columns]
        featurizer.feature_names_in_ = np.asarray(names, dtype=object)
        featurizer.n_features_in_ = len(names)
        featurizer.column_kinds_ = {str(c["name"]): str(c["kind"]) for c in columns}
        featurizer.source_columns_ = dict(zip(slugs, names, strict=True))
        featurizer.feature_names_out_ = slugs
        featurizer.categories_ = {
            str(slug): [str(v) for v in levels] for slug, levels in state["levels"].items()
        }
        featurizer.categorical_features_ = [s for s in slugs if s in featurizer.categories_]
        featurizer.numeric_features_ = [s for s in slugs if s not in featurizer.categories_]
        featurizer.category_dtypes_ = {
            slug: pd.CategoricalDtype(levels, ordered=False)
            for slug, levels in featurizer.categories_.items()
        }
        return featurizer

    def _learn_levels(self, values: pd.Series) -> list[str]:
        counts = _as_text(values).dropna().value_counts()
        counts = counts[counts >= self.min_category_count]
        # Most frequent first; ties by value so refits on the same data give the same levels.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        kept = [str(v) for v, _ in ranked[: self.max_category_levels]]
        return [v for v in kept if v not in (OTHER_LEVEL, MISSING_LEVEL)] + [
            OTHER_LEVEL,
            MISSING_LEVEL,
        ]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output columns, in input column order."""
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """One feature row per row of X, same index."""
        check_is_fitted(self, "feature_names_out_")
        present = [c for c in self.feature_names_in_ if c in X.columns]
        data = mask_placeholders(X[present], self.missing_values)
        columns: dict[str, object] = {}
        for slug, source in self.source_columns_.items():
            values = (
                data[source]
                if source in data.columns
                else pd.Series(pd.NA, index=X.index, dtype=object)
            )
            if slug in self.categories_:
                columns[slug] = self._categorical(slug, values)
            else:
                columns[slug] = _numeric(values)
        return pd.DataFrame(columns, index=X.index)

    def _categorical(self, slug: str, values: pd.Series) -> pd.Categorical:
        levels = self.categories_[slug]
        text = _as_text(values)
        missing = text.isna().to_numpy(dtype=bool)
        codes = pd.Categorical(text.astype(object).where(~missing, None), categories=levels)
        out = np.asarray(codes.codes, dtype=np.int16).copy()
        out[out < 0] = len(levels) - 2  # unseen at fit (or rare): __other__
        out[missing] = len(levels) - 1  # __missing__
        return pd.Categorical.from_codes(out, dtype=self.category_dtypes_[slug])
