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
from faultcast.models.features import unit_features
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
    # (plus a millionth of the score, which keeps the scores' order)
    assert np.allclose(cold.transform(np.array([0.1, 0.9])), [0.25, 0.25], atol=1e-6)


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


def test_learn_says_it_is_learning_and_shows_no_threshold_yet(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    simulate_graph(events, services=2, hours=1, seed=4)  # an hour: fewer than 5 failures
    db = tmp_path / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(events)
    result = CliRunner().invoke(app, ["learn", "--db", str(db)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "alert threshold none yet" in said and "no alerts until then" in said


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


def test_template_features_see_new_patterns_and_failing_peers(tmp_path: Path) -> None:
    # "api" calls "db"; from minute 100 api logs a pattern it never logged, and db fails at 110.
    start = pd.Timestamp("2026-01-01", tz="UTC")
    lines = []
    for m in range(130):
        at = lambda s, m=m: (start + pd.Timedelta(minutes=m, seconds=s)).isoformat()  # noqa: E731
        for s in (5, 25, 45):
            lines.append({"timestamp": at(s), "level": "info", "service": "api",
                          "event": f"served request {m * 60 + s} in 12 ms"})  # fmt: skip
            lines.append({"timestamp": at(s + 1), "level": "info", "service": "db",
                          "event": f"query {m * 60 + s} took 3 ms"})  # fmt: skip
        if m >= 100:
            lines.append({"timestamp": at(50), "level": "warning", "service": "api",
                          "event": f"pool lease waited {m} ms for a connection"})  # fmt: skip
        if 110 <= m < 115:
            lines.append({"timestamp": at(30), "level": "critical", "service": "db",
                          "event": "storage halted", "failure": True})  # fmt: skip
            lines.append({"timestamp": at(31), "level": "error", "service": "api",
                          "event": f"call to db failed after {m} ms", "peer": "db"})  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    db = tmp_path / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(events)
    spec = UnitFeatureSpec(feature_set="all")
    with Store(db).reading() as con:
        feats = unit_features(con, spec, start, start + pd.Timedelta(minutes=129))
    api = feats[feats["unit"] == "api"].set_index("tick")
    minute = lambda m: start + pd.Timedelta(minutes=m)  # noqa: E731
    assert api.loc[minute(99), "tmpl_novel"] == 0
    assert api.loc[minute(101), "tmpl_novel"] > 0  # two events of a pattern new to api
    assert api.loc[minute(101), "tmpl_max_surge"] > api.loc[minute(95), "tmpl_max_surge"]
    assert api.loc[minute(105), "peer_failures"] == 0
    assert api.loc[minute(111), "peer_failures"] > 0  # db, which api calls, is failing
    assert np.isfinite(feats[spec.feature_names()].to_numpy()).all()


def test_calibrated_probabilities_keep_the_scores_order() -> None:
    """Before a fit (the base rate) and on the flat runs of an isotonic fit, probabilities still
    rank units as their scores do; the values move by at most a millionth."""
    cal = OnlineCalibrator(window=1000, refit_every=100, min_positives=5)
    scores = np.array([0.9, 0.1, 0.5, 0.3])
    for s, y in [(0.2, False)] * 50:
        cal.update(s, y)
    cold = cal.transform(scores)
    assert list(np.argsort(cold)) == list(np.argsort(scores))
    assert np.allclose(cold, cal.base_rate(), atol=1e-6)
    rng = np.random.default_rng(1)
    for s in rng.uniform(size=400):
        cal.update(float(s), bool(s > 0.7))  # a step: isotonic is flat on each side of it
    warm = cal.transform(scores)
    assert list(np.argsort(warm)) == list(np.argsort(scores))
    assert warm[0] > 0.99 and warm[1] < 0.01
