"""LeadRows: leads and activities given by row read as their history, or are refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.build import LeadFeaturizer
from features.history import LeadHistory, LeadRows
from tests.features.histories import random_history


def lead_rows(history: LeadHistory) -> LeadRows:
    """The same leads and activities, given by row: one row per snapshot, in its order."""
    order = history.snapshots["lead_id"].tolist()
    leads = history.leads.set_index("lead_id").loc[order].reset_index()
    row_of = {lead_id: i for i, lead_id in enumerate(order)}
    acts = history.activities
    ns = pd.to_datetime(acts["occurred_at"], format="ISO8601", errors="coerce")
    return LeadRows(
        leads=leads,
        as_of=pd.to_datetime(history.snapshots["as_of"]).to_numpy("datetime64[ns]").view(np.int64),
        activity_lead=np.array([row_of[x] for x in acts["lead_id"]]),
        activity_time=ns.to_numpy("datetime64[ns]").view(np.int64),
        activity_type=acts["activity_type"].tolist(),
    )


def test_rows_give_the_features_of_the_history_they_come_from() -> None:
    batch = random_history(n_leads=80, n_activities=2_000, snapshots_per_lead=1, seed=21)
    featurizer = LeadFeaturizer(min_activity_count=5).fit(batch)
    # Activities without a time or a type, a lead without activities, snapshots out of order.
    activities = batch.activities.copy()
    activities.loc[activities.index[:15], "occurred_at"] = None
    activities.loc[activities.index[15:30], "activity_type"] = None
    activities = activities[activities["lead_id"] != "lead-3"]
    snapshots = batch.snapshots.sample(frac=1.0, random_state=0).reset_index(drop=True)
    history = LeadHistory(batch.leads, activities.reset_index(drop=True), snapshots)
    expected = featurizer.transform_matrix(history)
    got = featurizer.transform_matrix_rows(lead_rows(history))
    assert np.array_equal(got, expected, equal_nan=True)


def test_rows_read_a_leads_table_of_arrays_as_the_same_frame() -> None:
    batch = random_history(n_leads=60, n_activities=1_500, snapshots_per_lead=1, seed=23)
    # A timestamp extra column, some of it missing, beside the numeric and categorical ones.
    contacted = pd.Series(pd.to_datetime(batch.leads["created_at"]) + pd.Timedelta(days=30))
    contacted[contacted.index % 4 == 0] = pd.NaT
    history = replace(batch, leads=batch.leads.assign(last_contacted=contacted))
    featurizer = LeadFeaturizer(min_activity_count=5).fit(history)
    assert featurizer.extra_columns_["last_contacted"] == "timestamp"
    rows = lead_rows(history)
    assert isinstance(rows.leads, pd.DataFrame)
    arrays = {str(c): rows.leads[c].to_numpy() for c in rows.leads.columns}
    del arrays["industry"]  # a column the service did not get: all missing
    expected = featurizer.transform_matrix_rows(
        replace(rows, leads=rows.leads.assign(industry=None))
    )
    got = featurizer.transform_matrix_rows(replace(rows, leads=arrays))
    assert np.array_equal(got, expected, equal_nan=True)


def test_rows_that_do_not_add_up_are_refused() -> None:
    history = random_history(n_leads=10, n_activities=100, snapshots_per_lead=1, seed=22)
    featurizer = LeadFeaturizer(min_activity_count=1).fit(history)
    rows = lead_rows(history)
    stray = replace(rows, activity_lead=np.where(np.arange(100) == 5, 10, rows.activity_lead))
    with pytest.raises(ValueError, match=r"not in LeadRows\.leads"):
        featurizer.transform_matrix_rows(stray)
    with pytest.raises(ValueError, match="disagree in length"):
        featurizer.transform_matrix_rows(replace(rows, as_of=rows.as_of[:-1]))
    early = replace(rows, as_of=np.where(np.arange(10) == 2, 0, rows.as_of))
    with pytest.raises(ValueError, match="created after"):
        featurizer.transform_matrix_rows(early)
