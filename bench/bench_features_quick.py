"""Quick timing of LeadFeaturizer: one lead online, and a synthetic batch of leads."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from features.build import LeadFeaturizer
from features.history import LeadHistory

TYPES = [
    "page_view",
    "pricing_page_view",
    "email_open",
    "email_click",
    "form_submission",
    "demo_request",
    "contact_sales",
    "careers_page_view",
    "webinar_registration",
    "blog_view",
]
WEIGHTS = np.array([30, 5, 25, 8, 3, 1, 1, 3, 2, 10], dtype=float)


def synthetic_history(n_leads: int, n_activities: int, seed: int = 0) -> LeadHistory:
    """Leads over 18 months with activities after their creation, one snapshot at the cut-off."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01").value
    cutoff = pd.Timestamp("2025-07-01").value
    created = rng.integers(start, cutoff - 86_400 * 10**9, n_leads)
    lead_ids = np.array([f"L{i:07d}" for i in range(n_leads)], dtype=object)
    leads = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": pd.to_datetime(created),
            "source": rng.choice(["organic", "paid", "referral", "outbound", None], n_leads),
            "campaign": rng.choice([f"c{i}" for i in range(40)], n_leads),
            "country": rng.choice(["US", "GB", "DE", "IN", "BR", None], n_leads),
            "industry": rng.choice(["software", "retail", "finance", "health"], n_leads),
            "company_size": rng.choice([5.0, 50.0, 500.0, 5000.0, np.nan], n_leads),
            "job_title": rng.choice(
                ["VP of Marketing", "CEO", "Student", "Head of Sales Ops", "engineer", None],
                n_leads,
            ),
            "email_domain": rng.choice(["gmail.com", "acme.com", "corp.io", None], n_leads),
            "lead_form_score": rng.normal(size=n_leads),
            "crm_tier": rng.choice(["gold", "silver", "bronze"], n_leads),
        }
    )
    who = rng.integers(0, n_leads, n_activities)
    span = cutoff - created[who]
    occurred = created[who] + (rng.random(n_activities) * span).astype(np.int64)
    activities = pd.DataFrame(
        {
            "lead_id": lead_ids[who],
            "occurred_at": pd.to_datetime(occurred),
            "activity_type": rng.choice(TYPES, n_activities, p=WEIGHTS / WEIGHTS.sum()),
        }
    )
    snapshots = pd.DataFrame({"lead_id": lead_ids, "as_of": pd.Timestamp(cutoff)})
    return LeadHistory(leads, activities, snapshots)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--activities", type=int, default=1_500_000)
    parser.add_argument("--snapshots-per-lead", type=int, default=6)
    args = parser.parse_args()

    history = synthetic_history(args.leads, args.activities)
    featurizer = LeadFeaturizer().fit(history)
    print(f"{len(featurizer.feature_names_out_)} features")

    t0 = time.perf_counter()
    features = featurizer.transform(history)
    batch = time.perf_counter() - t0
    print(f"batch: {len(features)} snapshots, {len(history.activities)} activities: {batch:.2f} s")

    lead_id = history.activities.groupby("lead_id").size().sub(30).abs().idxmin()
    one = LeadHistory(
        history.leads[history.leads["lead_id"] == lead_id].reset_index(drop=True),
        history.activities[history.activities["lead_id"] == lead_id].reset_index(drop=True),
        history.snapshots[history.snapshots["lead_id"] == lead_id].reset_index(drop=True),
    )
    featurizer.transform(one)
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        featurizer.transform(one)
    per = (time.perf_counter() - t0) / n
    print(f"one lead with {len(one.activities)} activities: {per * 1e3:.2f} ms")

    rng = np.random.default_rng(1)
    created = history.leads["created_at"].to_numpy()
    cutoff = history.snapshots["as_of"].iloc[0].to_datetime64()
    reps = np.repeat(np.arange(args.leads), args.snapshots_per_lead)
    as_of = created[reps] + (rng.random(len(reps)) * (cutoff - created[reps]))
    many = LeadHistory(
        history.leads,
        history.activities,
        pd.DataFrame({"lead_id": history.leads["lead_id"].to_numpy()[reps], "as_of": as_of}),
    )
    t0 = time.perf_counter()
    featurizer.transform(many)
    print(f"training: {len(reps)} snapshots: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
