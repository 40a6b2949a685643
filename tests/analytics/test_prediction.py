"""Prediction quality, calibration and the risk timeline, worked out by hand on a tiny store,
and against the models' own definitions (``faultcast.models.metrics``)."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from faultcast.analytics import (
    Metrics,
    prediction_calibration,
    prediction_quality,
    risk_timeline,
)
from faultcast.ingest import Store
from faultcast.models.metrics import episode_metrics

from tests.analytics.conftest import INJECTIONS, at, build, ev

#: Alerting minutes per unit; every other minute predicts 0.1.
ALERTS = {"api": {22, 23, 24, 25, 27, 45}, "db": {10}}


def _store() -> Store:
    # api fails at 00:30-00:31 (one onset) and at 00:50 (19 min later: a second onset);
    # db fails at 00:40.  Quiet info events keep both units alive until 01:10.
    events = [ev(m, "api", "critical", failure=True) for m in (30, 31, 50)]
    events.append(ev(40, "db", "critical", failure=True))
    events += [ev(m, unit) for unit in ("api", "db") for m in range(0, 71, 5)]
    store = build(events)
    rows = []
    for unit, alerting in ALERTS.items():
        for minute in range(1, 61):
            alert = minute in alerting
            rows.append(
                ("unit", "service", unit, at(minute - 1), at(minute), 600.0,
                 0.9 if alert else 0.1, 0.5, alert, 0.0, "unit_failure", 1, None)
            )  # fmt: skip
    # An older model version's prediction of the same tick is ignored.
    rows.append(
        ("unit", "service", "db", at(9), at(10), 600.0, 0.2, 0.5, False, 0.0, "unit_failure", 0, None)
    )  # fmt: skip
    with store.writing() as con:
        con.executemany(
            "INSERT INTO store.predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return store


@pytest.fixture(scope="module")
def store() -> Store:
    return _store()


def test_quality_by_hand(store: Store) -> None:
    # Alerts: api 00:22-00:27 (00:27 is within 5 min of 00:25: one episode) -> onset 00:30,
    # true, 480 s ahead; api 00:45 -> onset 00:50, true, 300 s; db 00:10 -> nothing follows
    # within 10 min: a false alarm.  Onsets from 00:11 (first tick + horizon) to 01:00: api
    # 00:30 and 00:50, db 00:40 (not caught).
    row = prediction_quality(store).iloc[0]
    assert (row["alerts"], row["true_alerts"], row["onsets"], row["caught"]) == (3, 2, 3, 2)
    assert row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(2 / 3)
    assert row["f1"] == pytest.approx(2 / 3)
    assert row["mean_lead_s"] == 390.0
    assert row["median_lead_s"] == 390.0


def test_quality_per_bucket(store: Store) -> None:
    df = prediction_quality(store, bucket="30m")
    assert df["bucket"].dt.strftime("%H:%M").tolist() == ["00:00", "00:30"]
    # Alerts count where they start (00:10 and 00:22 in the first half hour, 00:45 in the
    # second), onsets where they happen (all three at 00:30 or later).
    assert df["alerts"].tolist() == [2, 1]
    assert df["true_alerts"].tolist() == [1, 1]
    assert df["onsets"].tolist() == [0, 3]
    assert math.isnan(df["recall"].iloc[0])
    assert df["recall"].iloc[1] == pytest.approx(2 / 3)


def test_quality_filters_and_gaps(store: Store) -> None:
    db = prediction_quality(store, service="db").iloc[0]
    assert (db["alerts"], db["true_alerts"], db["onsets"], db["caught"]) == (1, 0, 1, 0)
    assert (db["precision"], db["recall"], db["f1"]) == (0.0, 0.0, 0.0)
    assert math.isnan(db["mean_lead_s"])
    # With a 1 min merge gap, 00:27 is an alert of its own (true: the 00:30 onset follows).
    split = prediction_quality(store, merge_gap="1m").iloc[0]
    assert (split["alerts"], split["true_alerts"]) == (4, 3)
    # From 00:30: only the 00:45 alert; onsets from 00:40 (first tick + horizon).
    late = prediction_quality(store, since=at(30)).iloc[0]
    assert (late["alerts"], late["onsets"], late["caught"]) == (1, 2, 1)
    for value in INJECTIONS:
        assert prediction_quality(store, service=value).empty
    assert prediction_quality(store, model_name="other").empty
    with pytest.raises(ValueError, match="unit_column"):
        prediction_quality(store, unit_column="message")


def test_quality_agrees_with_the_models_backtest(store: Store) -> None:
    preds = store.query_df(
        "SELECT unit, made_at, alert FROM store.predictions WHERE model_version = 1"
    )
    onsets = pd.DataFrame(
        {"unit": ["api", "db", "api"], "ts": pd.to_datetime([at(30), at(40), at(50)], utc=True)}
    )
    expected = episode_metrics(preds, onsets, horizon_s=600)
    row = prediction_quality(store).iloc[0]
    assert round(row["precision"], 4) == expected["precision"]
    assert round(row["recall"], 4) == expected["recall"]
    assert row["median_lead_s"] == expected["median_lead_time_s"]
    assert row["alerts"] == expected["alerts"]


def test_calibration_by_hand(store: Store) -> None:
    df = prediction_calibration(store, bins=2)
    # Labelled: made_at + 10 min <= 01:10 (the last event), not within 10 min after a failure
    # of the unit.  High bin (0.9): api 22-25, 27 (onset 00:30 within 10 min) and 45 (00:50):
    # all six followed by an onset; db 00:10 (0.9): not.
    high = df[df["bin"] == 1].iloc[0]
    assert (high["predictions"], high["failures"]) == (7, 6)
    assert high["low"] == 0.5 and high["high"] == 1.0
    low = df[df["bin"] == 0].iloc[0]
    assert low["mean_probability"] == pytest.approx(0.1)
    # api: minutes 1-60 minus 31-41 (failing after 00:30/00:31) minus 51-60 (failing after
    # 00:50) = 39, of which 6 alert; db: 1-60 minus 41-50 = 50, of which 1 alerts.
    assert low["predictions"] == (39 - 6) + (50 - 1)
    # Low predictions followed by an onset within 10 min: api 20, 21, 26, 28, 29 (00:30) and
    # 42-44, 46-49 (00:50; 40 and 41 are failing); db 30-39 (00:40).
    assert low["failures"] == 5 + 7 + 10
    with pytest.raises(ValueError, match="bins"):
        prediction_calibration(store, bins=0)


def test_risk_timeline(store: Store) -> None:
    df = risk_timeline(store, service="api")
    assert set(df["unit"]) == {"api"}
    onsets = df[df["kind"] == "onset"]
    assert onsets["ts"].tolist() == [pd.Timestamp(at(30)), pd.Timestamp(at(50))]
    assert onsets["probability"].isna().all()
    preds = df[df["kind"] == "prediction"]
    assert len(preds) == 60
    assert sorted(int((t - pd.Timestamp(at(0))) / timedelta(minutes=1))
                  for t in preds[preds["alert"] == True]["ts"]) == sorted(ALERTS["api"])  # noqa: E712  # fmt: skip
    window = risk_timeline(store, since=at(35), until=at(45))
    assert window["ts"].min() >= pd.Timestamp(at(35)) and window["ts"].max() < pd.Timestamp(at(45))
    assert (window["kind"] == "onset").sum() == 1  # db at 00:40


def test_a_store_without_predictions_reads_as_empty() -> None:
    store = build([ev(0, "api", "critical", failure=True)])
    metrics = Metrics(store)
    for frame in (
        metrics.prediction_quality(),
        metrics.prediction_calibration(),
        metrics.risk_timeline(),
    ):
        assert frame.empty and len(frame.columns) > 0
