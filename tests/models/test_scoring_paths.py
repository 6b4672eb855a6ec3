"""Every scoring path (batch, pyfunc, service) scores in `LeadScorer.score_matrix`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from demo.world import DemoWorld
from models.pyfunc import LeadScoringModel
from models.scorer import LeadScorer
from serving.engine import ScoringEngine
from serving.schemas import ScoreRequest
from training.batch import score_export
from training.pipeline import TrainingResult
from training.tracking import lead_records


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Rows scored per call of `LeadScorer.score_matrix`, whoever the caller is."""
    seen: list[int] = []
    real = LeadScorer.score_matrix

    def counted(self: LeadScorer, A: np.ndarray, *args: Any, **kwargs: Any) -> dict:
        seen.append(len(A))
        return real(self, A, *args, **kwargs)

    monkeypatch.setattr(LeadScorer, "score_matrix", counted)
    yield seen


def test_batch_pyfunc_and_service_all_score_in_score_matrix(
    trained: TrainingResult, small_world: DemoWorld, calls: list[int]
) -> None:
    scorer, export = trained.scorer, small_world.export
    cutoff = export.cutoff
    ids = export.leads.loc[export.leads["created_at"] < cutoff, "lead_id"].head(5).tolist()

    leads = export.leads[export.leads["lead_id"].isin(ids)]
    small = type(export)(leads, export.activities, export.opportunities.iloc[:0])
    batch = score_export(small, scorer, cutoff, explain=False)
    assert calls == [5]

    model = LeadScoringModel()
    model.scorer = scorer
    records = lead_records(export, ids, cutoff)
    pyfunc = model.predict(None, records, {"as_of": cutoff.isoformat(), "explain": False})
    assert calls == [5, 5]

    body = {"leads": records.to_dict(orient="records"), "as_of": f"{cutoff:%Y-%m-%dT%H:%M:%SZ}"}
    request = ScoreRequest.model_validate_json(json.dumps(body, default=str))
    as_of = [request.as_of] * len(request.leads)
    served = ScoringEngine(scorer).score(request.leads, as_of, explain=False)
    assert calls == [5, 5, 5]

    by_id = batch.set_index("lead_id")["probability"]
    expected = by_id.loc[records["lead_id"]].to_numpy()
    np.testing.assert_allclose(pyfunc["probability"].to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(served.probability, expected, rtol=1e-12)
    assert isinstance(pyfunc, pd.DataFrame)
