"""TabularFeaturizer and the column screening of single-table exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.build import MISSING_LEVEL, OTHER_LEVEL
from features.tabular import (
    CATEGORY,
    EMPTY,
    NAMED_LIKE_ID,
    NUMERIC,
    TIMESTAMP,
    UNIQUE_STRINGS,
    TabularFeaturizer,
    mask_placeholders,
    name_tokens,
    screen_columns,
)


def leads_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Lead Source": ["web"] * 5 + ["event"] * 3 + ["fax"] + [None],
            "Total Visits": ["3", "1", "Select", "7", "2", "0", "4", "5", "1", " "],
            "Do Not Call": ["Yes", "No", "No", "No", "Yes", "No", "No", "No", "No", "No"],
            "Score": np.linspace(0.1, 1.0, 10),
        }
    )


def test_placeholders_and_blanks_become_missing_in_any_case() -> None:
    frame = pd.DataFrame({"city": ["Select", "select ", "  ", "", "Pune"], "n": [1, 2, 3, 4, 5]})
    masked = mask_placeholders(frame, ["Select"])
    assert masked["city"].isna().tolist() == [True, True, True, True, False]
    assert masked["n"].tolist() == [1, 2, 3, 4, 5]
    assert frame["city"].notna().all()  # the input is not modified


def test_kinds_numbers_with_placeholders_are_numeric() -> None:
    featurizer = TabularFeaturizer(min_category_count=1).fit(leads_frame())
    assert featurizer.column_kinds_ == {
        "Lead Source": CATEGORY,
        "Total Visits": NUMERIC,
        "Do Not Call": CATEGORY,
        "Score": NUMERIC,
    }
    X = featurizer.transform(leads_frame())
    assert list(X.columns) == ["lead_source", "total_visits", "do_not_call", "score"]
    assert X["total_visits"].dtype == np.float64
    assert X["total_visits"].isna().tolist() == [False, False, True] + [False] * 6 + [True]
    assert X.loc[0, "total_visits"] == 3.0


def test_categoricals_rare_unseen_and_missing_levels() -> None:
    featurizer = TabularFeaturizer(min_category_count=3).fit(leads_frame())
    levels = featurizer.categories_["lead_source"]
    assert levels == ["web", "event", OTHER_LEVEL, MISSING_LEVEL]
    new = pd.DataFrame(
        {
            "Lead Source": ["web", "fax", "carrier pigeon", None, "Select", " event "],
            "Total Visits": [1, 2, 3, 4, 5, 6],
            "Do Not Call": ["No"] * 6,
            "Score": [0.5] * 6,
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    X = featurizer.transform(new)
    assert list(X.index) == [10, 11, 12, 13, 14, 15]
    assert X["lead_source"].tolist() == [
        "web",
        OTHER_LEVEL,  # rare at fit
        OTHER_LEVEL,  # unseen
        MISSING_LEVEL,
        MISSING_LEVEL,  # placeholder
        "event",  # stripped
    ]
    assert X["lead_source"].notna().all()
    assert X["lead_source"].dtype == featurizer.category_dtypes_["lead_source"]


def test_max_category_levels_keeps_the_most_frequent() -> None:
    frame = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["c"] * 3})
    featurizer = TabularFeaturizer(min_category_count=1, max_category_levels=2).fit(frame)
    assert featurizer.categories_["c"] == ["a", "b", OTHER_LEVEL, MISSING_LEVEL]


def test_missing_columns_read_as_missing_and_extra_columns_ignored() -> None:
    featurizer = TabularFeaturizer(min_category_count=1).fit(leads_frame())
    partial = pd.DataFrame({"Lead Source": ["web"], "Unrelated": ["x"]})
    X = featurizer.transform(partial)
    assert list(X.columns) == featurizer.feature_names_out_
    assert X.loc[0, "do_not_call"] == MISSING_LEVEL
    assert X["score"].isna().all()


def test_slugs_are_unique() -> None:
    frame = pd.DataFrame({"A b": [1.0, 2.0], "a_b": [3.0, 4.0], "emp.var.rate": [0.1, 0.2]})
    featurizer = TabularFeaturizer().fit(frame)
    assert featurizer.feature_names_out_ == ["a_b", "a_b_2", "emp_var_rate"]
    assert featurizer.source_columns_["a_b_2"] == "a_b"


def test_sklearn_contract() -> None:
    featurizer = TabularFeaturizer(missing_values=("n/a",), min_category_count=2)
    with pytest.raises(NotFittedError):
        featurizer.transform(leads_frame())
    copy = clone(featurizer)
    assert copy.get_params() == featurizer.get_params()
    assert not hasattr(copy, "categories_")
    fitted = featurizer.fit(leads_frame())
    assert list(fitted.get_feature_names_out()) == fitted.feature_names_out_


def test_name_tokens_split_camel_case_and_punctuation() -> None:
    assert name_tokens("LeadNumber") == ["lead", "number"]
    assert name_tokens("Prospect ID") == ["prospect", "id"]
    assert name_tokens("customerID") == ["customer", "id"]
    assert name_tokens("nr.employed") == ["nr", "employed"]
    assert "id" not in name_tokens("Paid Search")


def test_screen_columns_finds_empty_id_like_and_dates() -> None:
    n = 50
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Prospect ID": [f"7927b2df-{i:04d}" for i in range(n)],
            "Lead Number": np.arange(660_000, 660_000 + n),
            "Number of Visits": rng.integers(0, 5, n),
            "email": [f"person{i}@example.com" for i in range(n)],
            "Unnamed: 37": np.full(n, np.nan),
            "signup_date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "created": pd.date_range("2024-01-01", periods=n),
            "score": rng.random(n),  # continuous, all distinct: a feature
            "source": rng.choice(["web", "event"], n),
        }
    )
    assert screen_columns(frame) == {
        "Prospect ID": UNIQUE_STRINGS,
        "Lead Number": NAMED_LIKE_ID,
        "email": UNIQUE_STRINGS,
        "Unnamed: 37": EMPTY,
        "signup_date": TIMESTAMP,
        "created": TIMESTAMP,
    }
