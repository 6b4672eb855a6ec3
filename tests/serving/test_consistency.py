"""The service, batch scoring (`leadscore score`) and the MLflow model give the same scores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from features.contract import Export
from models.pyfunc import load_scorer_from_uri
from tests.serving.conftest import Server, TrainedModel, lead_payloads
from training.batch import open_leads, score_export

N_LEADS = 120


@pytest.fixture(scope="module")
def batch_scores(trained_model: TrainedModel, export: Export) -> pd.DataFrame:
    mlflow.set_tracking_uri(trained_model.tracking_uri)
    scorer = load_scorer_from_uri(trained_model.model_uri)
    as_of = export.cutoff
    scores = score_export(export, scorer, as_of, explain=True)
    # Leads with the most activities and some with none: both ends of the feature space.
    ids = open_leads(export, as_of)["lead_id"]
    counts = export.activities["lead_id"].value_counts().reindex(ids, fill_value=0)
    chosen = [*counts.nlargest(N_LEADS - 20).index, *counts[counts == 0].index[:20]]
    return scores.set_index("lead_id").loc[chosen].reset_index()


def _as_of(export: Export) -> str:
    return f"{export.cutoff:%Y-%m-%dT%H:%M:%SZ}"


def test_service_batch_and_mlflow_model_agree(
    server: Server, trained_model: TrainedModel, export: Export, batch_scores: pd.DataFrame
) -> None:
    ids = batch_scores["lead_id"].tolist()
    leads = lead_payloads(export, ids, export.cutoff)
    response = server.client.post("/score", json={"leads": leads, "as_of": _as_of(export)})
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["scores"])

    mlflow.set_tracking_uri(trained_model.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(trained_model.model_uri)
    records = pd.DataFrame(leads)
    predicted = pyfunc.predict(records, params={"as_of": _as_of(export), "explain": True})

    assert served["lead_id"].tolist() == ids
    assert predicted["lead_id"].tolist() == ids
    np.testing.assert_array_equal(served["probability"], batch_scores["probability"])
    np.testing.assert_array_equal(predicted["probability"], batch_scores["probability"])
    assert served["tier"].tolist() == batch_scores["tier"].tolist()
    assert predicted["tier"].tolist() == batch_scores["tier"].tolist()
    np.testing.assert_array_equal(served["percentile"], batch_scores["percentile"])
    np.testing.assert_array_equal(served["fit_score"], batch_scores["fit_score"])
    np.testing.assert_array_equal(served["engagement_score"], batch_scores["engagement_score"])
    assert [r["positive"] for r in served["reasons"]] == batch_scores["reasons_positive"].tolist()
    assert [r["negative"] for r in served["reasons"]] == batch_scores["reasons_negative"].tolist()
    # The MLflow model reads the same reasons, in the same order.
    assert predicted["reasons_positive"].tolist() == batch_scores["reasons_positive"].tolist()
    assert predicted["reasons_negative"].tolist() == batch_scores["reasons_negative"].tolist()
    np.testing.assert_array_equal(predicted["fit_score"], batch_scores["fit_score"])
    assert set(batch_scores["tier"]) >= {"nurture"}


def test_concurrent_single_lead_requests_score_as_in_batch(
    server: Server, export: Export, batch_scores: pd.DataFrame
) -> None:
    """Requests that the service batches together still get their own lead's exact score."""
    ids = batch_scores["lead_id"].tolist()[:48]
    leads = lead_payloads(export, ids, export.cutoff)

    def post(lead: dict[str, object]) -> dict[str, object]:
        body = {"leads": [lead], "as_of": _as_of(export), "explain": False}
        response = server.client.post("/score", json=body)
        assert response.status_code == 200, response.text
        scores: list[dict[str, object]] = response.json()["scores"]
        return scores[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, leads))
    assert [r["lead_id"] for r in results] == ids
    expected = batch_scores.set_index("lead_id").loc[ids]
    # Without reasons the probability is read off the trees, with reasons (the batch here) off
    # the contributions, which add up to the same log-odds: equal to rounding, not bit for bit.
    np.testing.assert_allclose(
        [r["probability"] for r in results], expected["probability"], rtol=0, atol=1e-12
    )
    assert [r["tier"] for r in results] == expected["tier"].tolist()
    assert all(r["reasons"] is None and r["fit_score"] is None for r in results)
