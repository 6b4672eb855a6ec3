"""Single-table training: labels, options, exclusions, splits, and that the models learn."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.tabular import NAMED_LIKE_ID, UNIQUE_STRINGS
from models.registry import TrackingConfig
from training.pipeline import LIGHTGBM, LOGISTIC
from training.single_table import SingleTableResult, train_single_table, train_table
from training.table_input import (
    DROPPED,
    TableConfig,
    TableError,
    detect_separator,
    parse_labels,
    prepare_table,
    read_table,
    split_cohorts,
    stratified_cohorts,
    time_cohorts,
)

FAST = {"n_jobs": 1, "learning_rate": 0.1, "max_rounds": 300, "early_stopping_rounds": 20}


def synthetic_leads(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """One row per lead with a learnable outcome, ids, a placeholder and a post-contact leak."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["web", "referral", "event", "cold call"], n, p=[0.4, 0.2, 0.2, 0.2])
    visits = rng.poisson(3, n)
    minutes = rng.exponential(10, n)
    occupation = rng.choice(["Working", "Student", "Unemployed", "Select"], n)
    logit = (
        -1.0
        + 1.5 * (source == "referral")
        - 1.2 * (source == "cold call")
        + 0.08 * minutes
        + 0.8 * (occupation == "Working")
        - 0.4 * visits
    )
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "Prospect ID": [f"p-{rng.integers(1 << 40):011x}-{i}" for i in range(n)],
            "Lead Number": rng.permutation(np.arange(500_000, 500_000 + n)),
            "Lead Source": source,
            "TotalVisits": visits,
            "Minutes on site": minutes.round(1),
            "Occupation": occupation,
            "created": pd.date_range("2023-01-01", periods=n, freq="3h"),
            # Filled in by sales after the call: the outcome in other words.
            "Call Outcome": np.where(converted, "Interested", "Not interested"),
            "Converted": np.where(converted, "Yes", "No"),
        }
    )


def config(**changes: object) -> TableConfig:
    base = TableConfig(
        label_column="Converted",
        drop=("Call Outcome",),
        min_category_count=5,
        model=FAST,
        n_bootstrap=20,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 1, 0], [0, 1, 1, 0]),
        ([0.0, 1.0, np.nan, 1.0], [0, 1, np.nan, 1]),
        ([True, False, True, True], [1, 0, 1, 1]),
        (["yes", "No", " YES ", "no"], [1, 0, 1, 0]),
        (["true", "false", "TRUE", None], [1, 0, 1, np.nan]),
        (["Won", "Lost", "won", "lost"], [1, 0, 1, 0]),
        (["1", "0", "", "1"], [1, 0, np.nan, 1]),
    ],
)
def test_parse_labels_accepts_binary_spellings(values: list, expected: list) -> None:
    labels, mapping = parse_labels(pd.Series(values))
    np.testing.assert_array_equal(labels, np.asarray(expected, dtype=float))
    assert set(mapping.values()) <= {0, 1}


def test_parse_labels_reports_the_values_found() -> None:
    with pytest.raises(TableError, match=r"'open'.*'won'|'won'.*'open'") as info:
        parse_labels(pd.Series(["won", "lost", "open", "won"]))
    assert "3 distinct values" in str(info.value)
    with pytest.raises(TableError, match="2"):
        parse_labels(pd.Series([0, 1, 2]))


def test_label_needs_both_outcomes() -> None:
    table = synthetic_leads(200)
    table["Converted"] = "No"
    with pytest.raises(TableError, match="both outcomes"):
        prepare_table(table, config())


def test_unlabelled_rows_are_left_out_and_counted() -> None:
    table = synthetic_leads(300)
    table.loc[:9, "Converted"] = None
    prepared = prepare_table(table, config())
    assert prepared.n_unlabelled == 10
    assert len(prepared.labels) == 290
    assert prepared.rows[0] == 10


# --------------------------------------------------------------------------- reading


def test_detect_separator() -> None:
    assert detect_separator('"age";"job";"marital";"y"\n') == ";"
    assert detect_separator("a,b,c\n") == ","
    assert detect_separator("a\tb\tc\n") == "\t"
    assert detect_separator('"x;y",b,c\n') == ","  # a quoted ; does not count
    assert detect_separator("single\n") == ","


def test_read_semicolon_csv_and_parquet(tmp_path: Path) -> None:
    table = synthetic_leads(50)[["Lead Source", "TotalVisits", "Converted"]]
    path = tmp_path / "leads.csv"
    table.to_csv(path, sep=";", index=False)
    read = read_table(path)
    assert list(read.columns) == list(table.columns)
    assert read["TotalVisits"].tolist() == table["TotalVisits"].tolist()
    table.to_parquet(tmp_path / "leads.parquet")
    assert read_table(tmp_path / "leads.parquet").equals(table)
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv")


# --------------------------------------------------------------------------- options


def test_unknown_drop_columns_are_named() -> None:
    with pytest.raises(TableError, match=r"--drop.*'Call Outcme'.*did you mean 'Call Outcome'"):
        prepare_table(synthetic_leads(100), config(drop=("Call Outcme", "Lead Source")))
    with pytest.raises(TableError, match="'nope', 'gone'"):
        prepare_table(synthetic_leads(100), config(drop=("nope", "gone")))


def test_unknown_label_and_label_in_drop_are_errors() -> None:
    with pytest.raises(TableError, match=r"--label-column.*'converted'"):
        prepare_table(synthetic_leads(100), config(label_column="converted"))
    with pytest.raises(TableError, match="label column"):
        prepare_table(synthetic_leads(100), config(drop=("Converted",)))


def test_id_columns_excluded_and_reported() -> None:
    prepared = prepare_table(synthetic_leads(300), config())
    assert prepared.excluded["Prospect ID"] == UNIQUE_STRINGS
    assert prepared.excluded["Lead Number"] == NAMED_LIKE_ID
    assert prepared.excluded["Call Outcome"] == DROPPED
    assert {"Prospect ID", "Lead Number", "Call Outcome", "Converted"}.isdisjoint(
        prepared.features.columns
    )
    assert {"Lead Source", "TotalVisits", "Minutes on site", "Occupation"} <= set(
        prepared.features.columns
    )


# --------------------------------------------------------------------------- splits


def test_stratified_split_keeps_the_rate() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(5_000) < 0.12).astype(int)
    cohorts = stratified_cohorts(y, 0.20, 0.15, seed=3)
    shares = {c: float(np.mean(cohorts == c)) for c in ("train", "validation", "holdout")}
    assert shares == pytest.approx({"train": 0.65, "validation": 0.15, "holdout": 0.20}, abs=0.002)
    for name in shares:
        assert y[cohorts == name].mean() == pytest.approx(y.mean(), abs=0.003)
    again = stratified_cohorts(y, 0.20, 0.15, seed=3)
    assert (again == cohorts).all()
    assert not (stratified_cohorts(y, 0.20, 0.15, seed=4) == cohorts).all()


def test_time_split_is_ordered_and_ties_stay_together() -> None:
    rng = np.random.default_rng(2)
    key = rng.integers(0, 400, 2_000).astype(float)  # many ties
    cohorts, starts = time_cohorts(key, 0.20, 0.15)
    train, validation, holdout = (key[cohorts == c] for c in ("train", "validation", "holdout"))
    assert train.max() < validation.min() <= validation.max() < holdout.min()
    assert starts == {"validation": validation.min(), "holdout": holdout.min()}
    assert len(holdout) == pytest.approx(400, abs=15)


def test_time_column_orders_the_split_and_is_not_a_feature() -> None:
    table = synthetic_leads(600).sample(frac=1.0, random_state=0)  # file not in time order
    prepared = prepare_table(table, config(time_column="created"))
    cohorts, boundaries = split_cohorts(prepared, config(time_column="created"))
    created = table["created"].to_numpy()
    assert created[cohorts == "train"].max() < created[cohorts == "validation"].min()
    assert created[cohorts == "validation"].max() < created[cohorts == "holdout"].min()
    first_holdout = pd.Timestamp(created[cohorts == "holdout"].min())
    assert boundaries["holdout"] == f"{first_holdout:%Y-%m-%dT%H:%M:%S}"
    assert "created" not in prepared.features.columns


def test_row_order_as_time() -> None:
    prepared = prepare_table(synthetic_leads(500), config(row_order_is_time=True))
    cohorts, boundaries = split_cohorts(prepared, config(row_order_is_time=True))
    assert (cohorts[:325] == "train").all() and (cohorts[400:] == "holdout").all()
    assert boundaries == {"validation": "row 325", "holdout": "row 400"}


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def trained() -> SingleTableResult:
    return train_table(synthetic_leads(), config())


def test_learns_the_signal(trained: SingleTableResult) -> None:
    result = trained
    assert result.evaluations[LIGHTGBM].metrics["roc_auc"].value > 0.75
    assert result.evaluations[LOGISTIC].metrics["roc_auc"].value > 0.75
    holdout = result.holdout
    assert len(holdout) == 600
    assert holdout[LIGHTGBM].between(0, 1).all()
    # calibrated: mean probability near the holdout rate
    assert holdout[LIGHTGBM].mean() == pytest.approx(holdout["label"].mean(), abs=0.05)


def test_dropped_leak_is_gone_from_the_features(trained: SingleTableResult) -> None:
    result = trained
    featurizer = result.featurizer
    assert "Call Outcome" not in featurizer.feature_names_in_
    assert "call_outcome" not in result.importance.index
    assert result.suspected_leaks == {}
    # it would have been noticed if kept
    kept = train_table(synthetic_leads(), config(drop=()))
    assert "Call Outcome" in kept.suspected_leaks
    assert kept.evaluations[LIGHTGBM].metrics["roc_auc"].value > 0.99


def test_shuffled_labels_give_chance_auc() -> None:
    table = synthetic_leads()
    table["Converted"] = np.random.default_rng(5).permutation(table["Converted"].to_numpy())
    result = train_table(table, config())
    for model in (LIGHTGBM, LOGISTIC):
        assert result.evaluations[model].metrics["roc_auc"].value == pytest.approx(0.5, abs=0.06)


def test_train_from_file_with_time_column_and_log_to_mlflow(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    table = synthetic_leads(1_500).sample(frac=1.0, random_state=1)
    table.to_csv(path, sep=";", index=False)
    result = train_single_table(path, config(time_column="created"))
    assert result.source == path
    created = table["created"].to_numpy()
    in_holdout = np.isin(np.arange(len(table)), result.holdout["row"])
    assert created[in_holdout].min() > created[~in_holdout].max()
    assert set(result.boundaries) == {"validation", "holdout"}
    assert result.evaluations[LIGHTGBM].metrics["roc_auc"].value > 0.7

    import mlflow
    from mlflow import MlflowClient

    from training.gate import DataWindow
    from training.table_run import log_single_table_run

    tracking = TrackingConfig(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "artifacts").as_uri(),
        experiment="single-table-test",
        model_name="lead-conversion",
    )
    summary = log_single_table_run(result, tracking)
    client = MlflowClient()
    run = client.get_run(summary.run_id)
    assert run.data.params["split"] == "time"
    assert run.data.params["time_column"] == "created"
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(
        result.evaluations[LIGHTGBM].metrics["roc_auc"].value
    )
    assert run.data.tags["training_data"] == "single_table"
    children = client.search_runs(
        [summary.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{summary.run_id}'"
    )
    assert [c.data.params["model"] for c in children] == [LOGISTIC]
    artifacts = {a.path for a in client.list_artifacts(summary.run_id, "report")}
    assert {"report/report.html", "report/holdout_predictions.parquet"} <= artifacts
    # Registered under the table model's own name, never the export model's.
    assert [m.name for m in client.search_registered_models()] == ["lead-conversion-table"]
    assert summary.gate.promoted and summary.version == "1"
    window = DataWindow.from_tags(client.get_model_version("lead-conversion-table", "1").tags)
    assert window is not None and (window.kind, window.column) == ("table_time", "created")
    fitted = result.table["cohort"] != "holdout"
    assert pd.Timestamp(window.end) == pd.Timestamp(created[~in_holdout].max())
    assert window.leads == fitted.sum()
    # The same table again: the champion (fitted on train and validation) never saw the holdout,
    # so the whole holdout is compared, and an identical model is not worse.
    again = log_single_table_run(result, tracking)
    assert again.gate.metrics["compared_rows"] == len(result.holdout)
    assert again.gate.metrics["champion_roc_auc"] == pytest.approx(
        again.gate.metrics["challenger_roc_auc"]
    )
    assert again.gate.promoted
    mlflow.set_tracking_uri("")
