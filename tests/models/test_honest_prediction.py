"""Honest probabilities and honest state: online calibration, the cold-start rule, and the
production version of the registry answering ``predict`` (no split brain after a promotion)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from faultcast.ingest import Store
from faultcast.models import UNIT_MODEL, Registry, UnitFeatureSpec
from faultcast.models.backtest import UnitReplay
from faultcast.models.estimators import OnlineCalibrator
from faultcast.models.metrics import expected_calibration_error
from faultcast.models.retrain import BatchClassifier
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import faultcast
from faultcast.cli import app
from faultcast.simulate_graph import simulate_graph


def test_online_calibration_recovers_known_probabilities() -> None:
    # Scores are a distorted probability (p cubed); labels are drawn with probability p.
    rng = np.random.default_rng(7)
    p = rng.beta(0.5, 4.0, size=30_000)
    y = rng.uniform(size=p.size) < p
    score = p**3
    cal = OnlineCalibrator(window=20_000, refit_every=5_000)
    for s, label in zip(score[:20_000], y[:20_000], strict=True):
        cal.update(float(s), bool(label))
    fresh_scores, fresh_y, fresh_p = score[20_000:], y[20_000:], p[20_000:]
    calibrated = cal.transform(fresh_scores)
    assert expected_calibration_error(fresh_y, fresh_scores) > 0.05  # the raw score is not
    assert expected_calibration_error(fresh_y, calibrated) < 0.02
    assert np.abs(calibrated - fresh_p).mean() < 0.03
    # before enough positives it knows nothing better than the base rate
    cold = OnlineCalibrator(min_positives=5)
    for label in (False, True, False, False):
        cold.update(0.9, label)
    assert cold.transform(np.array([0.1, 0.9])).tolist() == [0.25, 0.25]


def _frame(units: int, ticks: int, start: pd.Timestamp) -> pd.DataFrame:
    spec = UnitFeatureSpec()
    names = spec.feature_names()
    tick = pd.Timedelta(minutes=1)
    rows = []
    for t in range(ticks):
        for u in range(units):
            rows.append(
                {
                    "unit": f"u{u}",
                    "tick": start + t * tick,
                    "made_at": start + (t + 1) * tick,
                    "failing": False,
                    "label": False,
                    **dict.fromkeys(names, 1.0),
                }
            )
    return pd.DataFrame(rows)


def test_cold_start_raises_no_alert_until_enough_failures_are_learned() -> None:
    spec = UnitFeatureSpec()
    names = spec.feature_names()
    # A real fitted model that scores every row of the frame at about 0.9.
    X = np.vstack([np.ones((50, len(names))), np.zeros((50, len(names)))])
    clf = LogisticRegression(C=10.0).fit(X, [True] * 45 + [False] * 5 + [False] * 45 + [True] * 5)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    frame = _frame(2, 120, start)
    onset = lambda minutes: np.datetime64((start + pd.Timedelta(minutes=minutes)).tz_localize(None))  # noqa: E731
    onsets = {"u0": np.array([onset(5), onset(30)], dtype="datetime64[ns]")}
    replay = UnitReplay(spec, model=BatchClassifier(clf, names), min_failures=3)
    out = replay.step(frame, names, onsets)
    assert (out["score"] > 0.8).all()
    assert not out["alert"].any()  # two failures seen of three needed
    assert replay.learning_status() == "learning: 2 of 3 failures seen"
    ready = UnitReplay(spec, model=BatchClassifier(clf, names), min_failures=2)
    out = ready.step(frame, names, onsets)
    # alerts once the second failure is a horizon old (15 min after minute 30)
    first = out.loc[out["alert"], "made_at"].min()
    assert first == start + pd.Timedelta(minutes=45)
    assert ready.learning_status() == "ready"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("graph")
    events = folder / "events.jsonl"
    summary = simulate_graph(events, services=3, hours=3, seed=4)
    truth = json.loads(Path(summary.truth_path or "").read_text())
    assert truth["counts"]["outages"] < 5  # a small app's history: too few failures to alert
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(events)
        fc.learn()
    return db


def test_cold_start_is_said_by_predict(small_store: Path) -> None:
    with faultcast.connect(small_store) as fc:
        risk = fc.predict_failure()
    assert len(risk) == 3
    assert not risk["alert"].any()
    assert risk["status"].str.fullmatch(r"learning: \d of 5 failures seen").all()
    result = CliRunner().invoke(app, ["predict", "--db", str(small_store)])
    assert result.exit_code == 0, result.output
    assert "learning:" in result.output and "of 5 failures seen" in result.output


def test_the_production_version_answers_predict(small_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    for f in small_store.parent.glob(small_store.name + "*"):  # the store and its WAL
        shutil.copy(f, tmp_path / f.name)
    registry = Registry(Store(db))
    v1 = registry.load(UNIT_MODEL)
    # A candidate (as retrain saves one, with no predictions of its own), then promoted.
    v2 = registry.save(UNIT_MODEL, copy.deepcopy(v1.model), status="candidate")
    with faultcast.connect(db) as fc:
        assert set(fc.predict_failure()["model_version"]) == {v1.version}
    registry.promote(UNIT_MODEL, v2)
    with faultcast.connect(db) as fc:
        risk = fc.predict_failure()
        models = fc.models(UNIT_MODEL)
    production = int(models.loc[models["status"] == "production", "version"].iloc[0])
    assert production == v2
    assert set(risk["model_version"]) == {v2}  # scored by v2 now, though it stored nothing
    result = CliRunner().invoke(app, ["predict", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"production version {v2} of unit_failure" in result.output
    # a rollback moves the answer back to the version that is production again
    registry.rollback(UNIT_MODEL)
    with faultcast.connect(db) as fc:
        assert set(fc.predict_failure()["model_version"]) == {v1.version}
