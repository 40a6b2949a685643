"""Batch retraining: chronological holdout, promotion rules, crash safety, schedule, serialisation."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from faultcast.ingest import Store
from faultcast.models import Registry, UnitFeatureSpec
from faultcast.models.features import event_time_range, unit_features
from faultcast.models.schedule import RetrainSchedule

import faultcast
from faultcast.simulate import simulate
from tests.conftest import copy_store

retrain_module = sys.modules["faultcast.models.retrain"]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    simulate(folder / "events.jsonl", services=4, hours=20, seed=21)
    path = folder / "store.duckdb"
    with faultcast.connect(path) as fc:
        fc.ingest(folder / "events.jsonl")
    return path


@pytest.fixture(scope="module")
def learned_history(tmp_path_factory: pytest.TempPathFactory, history: Path) -> Path:
    """The history after one ``learn()``: model version 1 in production, its predictions."""
    path = copy_store(history, tmp_path_factory.mktemp("learned") / "store.duckdb")
    with faultcast.connect(path) as fc:
        fc.learn()
    return path


@pytest.fixture
def store_copy(tmp_path: Path, history: Path) -> Path:
    return copy_store(history, tmp_path / "store.duckdb")


@pytest.fixture
def learned_copy(tmp_path: Path, learned_history: Path) -> Path:
    return copy_store(learned_history, tmp_path / "store.duckdb")


def test_the_holdout_never_reaches_training(
    store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted: list[np.ndarray] = []
    hgb = retrain_module.HistGradientBoostingClassifier
    real_fit = hgb.fit

    def spy_fit(self: Any, X: np.ndarray, y: Any, **kw: Any) -> Any:
        fitted.append(np.asarray(X).copy())
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(hgb, "fit", spy_fit)
    fc = faultcast.connect(store_copy)
    result = fc.retrain(since="20h", holdout="4h")
    split = result["split"]
    holdout_from = pd.Timestamp(split["holdout_from"])
    spec = UnitFeatureSpec()
    assert pd.Timestamp(split["train_to"]) + pd.Timedelta(seconds=spec.horizon_s) <= holdout_from
    assert fitted, "the batch candidate was not trained"
    # Every training row must exist before the holdout minus one horizon; rows whose features
    # occur only later would mean the holdout leaked into training.
    store = Store(store_copy)
    with store.reading() as con:
        lo, hi = event_time_range(con, "service")  # type: ignore[misc]
        feats = unit_features(con, spec, lo.floor("min"), hi.floor("min"))
    names = spec.feature_names()
    earliest: dict[bytes, pd.Timestamp] = {}
    for row, made in zip(feats[names].to_numpy(dtype=float), feats["made_at"], strict=True):
        earliest.setdefault(row.tobytes(), made)
    latest_train = max(earliest[row.tobytes()] for row in fitted[0])
    assert latest_train + pd.Timedelta(seconds=spec.horizon_s) <= holdout_from
    assert len(fitted[0]) < split["train_rows"] + 1


def _store_holdout_predictions(path: Path, oracle: bool) -> None:
    """Give production stored predictions over the holdout: perfect ones or useless ones."""
    store = Store(path)
    spec = UnitFeatureSpec()
    with store.reading() as con:
        lo, hi = event_time_range(con, "service")  # type: ignore[misc]
        feats = unit_features(con, spec, lo.floor("min"), hi.floor("min"))
    with store.writing() as con:
        con.execute("DELETE FROM store.predictions")
        frame = pd.DataFrame(
            {
                "unit": feats["unit"],
                "made_at": feats["made_at"],
                "probability": feats["label"].astype(float) if oracle else 0.5,
            }
        )
        con.register("p", frame)
        con.execute(
            """INSERT INTO store.predictions (mode, unit_column, unit, tick, made_at, horizon_s,
                   probability, threshold, alert, anomaly_score, model_name, model_version)
               SELECT 'unit', 'service', unit, made_at - INTERVAL 1 MINUTE, made_at, 900,
                   probability, 0.5, probability >= 0.5, 0, 'unit_failure', 1 FROM p"""
        )
        con.unregister("p")


def test_promotes_a_better_candidate_and_keeps_a_better_production(learned_copy: Path) -> None:
    fc = faultcast.connect(learned_copy)
    assert fc.models()["version"].max() == 1
    _store_holdout_predictions(learned_copy, oracle=True)
    kept = fc.retrain(since="20h", holdout="4h")
    assert kept["decision"] == "kept" and not kept["promoted"]
    assert "does not beat production" in kept["reason"]
    assert Registry(fc.store).load("unit_failure").version == 1
    statuses = set(fc.models()["status"])
    assert statuses == {"production", "candidate"}

    _store_holdout_predictions(learned_copy, oracle=False)
    promoted = fc.retrain(since="20h", holdout="4h")
    assert promoted["decision"] == "promoted" and promoted["promoted"]
    best = promoted["best"]
    assert promoted["promoted_version"] == promoted["candidates"][best]["version"]
    assert (
        Registry(Store(learned_copy)).load("unit_failure").version == promoted["promoted_version"]
    )
    runs = fc.retrain_runs()
    assert list(runs["decision"]) == ["promoted", "kept"]
    assert all(isinstance(r, str) and r for r in runs["reason"])


def test_a_crash_during_retrain_leaves_production_untouched(
    learned_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fc = faultcast.connect(learned_copy)
    before = fc.models()
    assert list(before["status"]) == ["production"]
    calls = {"n": 0}
    real_save = Registry.save

    def save_then_crash(self: Registry, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut in the middle of the retrain")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "save", save_then_crash)
    with pytest.raises(RuntimeError):
        fc.retrain(since="20h", holdout="4h")
    monkeypatch.undo()
    after = faultcast.connect(learned_copy)
    pd.testing.assert_frame_equal(
        after.models()[["version", "status"]], before[["version", "status"]]
    )
    assert after.retrain_runs().empty
    assert Registry(after.store).load("unit_failure").version == 1


def test_too_little_history_is_skipped_with_a_reason(store_copy: Path) -> None:
    result = faultcast.connect(store_copy).retrain(since="20h", holdout="30d")
    assert result["decision"] == "skipped" and "too little history" in result["reason"]


def test_concurrent_retrains_are_serialised(
    store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    inside = {"now": 0, "most": 0, "calls": 0}
    real_features = retrain_module.unit_features

    def slow_features(*args: Any, **kwargs: Any) -> Any:
        # Counts the retrains inside at once; the pause leaves the other thread time to enter.
        with lock:
            inside["now"] += 1
            inside["calls"] += 1
            inside["most"] = max(inside["most"], inside["now"])
        try:
            time.sleep(0.5)
            return real_features(*args, **kwargs)
        finally:
            with lock:
                inside["now"] -= 1

    monkeypatch.setattr(retrain_module, "unit_features", slow_features)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            faultcast.connect(store_copy).retrain(since="20h", holdout="4h")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert inside["calls"] == 2
    assert inside["most"] == 1, "two retrains of one store ran at the same time"
    assert len(faultcast.connect(store_copy).retrain_runs()) == 2


def test_schedule_fires_at_the_cron_times_and_debounces_drift() -> None:
    schedule = RetrainSchedule("0 3 * * *", drift_debounce=timedelta(hours=1))
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert schedule.next_runs(start, 3) == [
        datetime(2026, 3, 1, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
    ]
    fired: list[tuple[datetime, str]] = []
    now = start
    drift_at = {datetime(2026, 3, 1, 10, 0, tzinfo=UTC), datetime(2026, 3, 1, 10, 20, tzinfo=UTC)}
    pending_drift = 0
    while now < datetime(2026, 3, 2, 4, 0, tzinfo=UTC):  # a fake clock, one minute a step
        if now in drift_at:
            pending_drift += 1
        trigger = schedule.due(now, pending_drift)
        if trigger:
            fired.append((now, trigger))
            schedule.ran(now)
            pending_drift = 0
        now += timedelta(minutes=1)
    assert fired[0] == (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "schedule")
    # The 10:00 drift fires at once (last run 7 h ago); the 10:20 one waits out the hour.
    assert (datetime(2026, 3, 1, 10, 0, tzinfo=UTC), "drift") in fired
    assert (datetime(2026, 3, 1, 11, 0, tzinfo=UTC), "drift") in fired
    assert fired[-1] == (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "schedule")
    assert len(fired) == 4
    with pytest.raises(ValueError, match="not a cron expression"):
        RetrainSchedule("every day")
