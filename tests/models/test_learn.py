"""Online learning over a store: delayed labels, resumability, the registry and predictions."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from faultcast.ingest import Store
from faultcast.models import (
    ModelNotFoundError,
    Registry,
    RegistryWarning,
    UnitFeatureSpec,
    learn,
    read_labels,
)
from faultcast.models.backtest import UnitReplay, backtest, onset_index
from faultcast.models.features import event_time_range, failure_onsets, unit_features
from river import base

import faultcast
from faultcast.simulate import simulate


@pytest.fixture(scope="module")
def sim_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("sim") / "events.jsonl"
    simulate(out, services=3, hours=8, seed=11)
    return out.read_bytes().splitlines(keepends=True)


@pytest.fixture(scope="module")
def sim_store(tmp_path_factory: pytest.TempPathFactory, sim_lines: list[bytes]) -> Path:
    folder = tmp_path_factory.mktemp("store")
    events = folder / "events.jsonl"
    events.write_bytes(b"".join(sim_lines))
    path = folder / "store.duckdb"
    with faultcast.connect(path) as fc:
        assert fc.ingest(events).quarantined == 0
    return path


class SpyClassifier(base.Classifier):
    """Records every predict and learn with the tick of the row (a hidden feature)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, bool | None]] = []

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.calls.append(("learn", x["_made_at_s"], bool(y)))

    def predict_proba_one(self, x: dict[str, Any], **kwargs: Any) -> dict[Any, float]:
        self.calls.append(("predict", x["_made_at_s"], None))
        return {True: 0.1, False: 0.9}


def test_no_label_reaches_the_model_before_it_is_due(sim_store: Path) -> None:
    spec = UnitFeatureSpec(horizon_s=900)
    store = Store(sim_store)
    with store.reading() as con:
        lo, hi = event_time_range(con, "service")  # type: ignore[misc]
        feats = unit_features(con, spec, lo.floor("min"), hi.floor("min"))
        onsets = failure_onsets(con, spec)
    feats["_made_at_s"] = (feats["made_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    spy = SpyClassifier()
    replay = UnitReplay(spec, model=spy)
    names = [*spec.feature_names(), "_made_at_s"]
    # In two steps, as learn() does across runs.
    half = feats["tick"].iloc[len(feats) // 2]
    replay.step(feats[feats["tick"] < half], names, onset_index(onsets))
    replay.step(feats[feats["tick"] >= half], names, onset_index(onsets))
    # Learning for a tick happens just before its predictions, at the end of that tick: a
    # learned row's label is due when that next prediction's made_at is >= its made_at + horizon.
    predicted: set[float] = set()
    waiting: list[float] = []
    learned = 0
    for kind, t, _y in spy.calls:
        if kind == "predict":
            for learned_t in waiting:
                assert t >= learned_t + spec.horizon_s, (
                    f"the label of a row made at {learned_t} was learned at {t}, before it was due"
                )
            waiting.clear()
            predicted.add(t)
        else:
            learned += 1
            assert t in predicted, "a row was learned before it was predicted"
            waiting.append(t)
    assert learned > 0.8 * len(feats)
    assert any(y for kind, _, y in spy.calls if kind == "learn"), "no failure was learned"


def test_learn_is_resumable_and_gives_the_same_predictions_as_one_run(
    tmp_path: Path, sim_lines: list[bytes]
) -> None:
    cut = len(sim_lines) // 2
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"".join(sim_lines[:cut]))
    second.write_bytes(b"".join(sim_lines[cut:]))

    with faultcast.connect(tmp_path / "twice.duckdb") as fc:
        fc.ingest(first)
        one = fc.learn()
        assert one["ticks"] > 0 and one["model_version"] == 1
        assert fc.learn()["ticks"] == 0  # idempotent: nothing new
        fc.ingest(second)
        two = fc.learn()
        assert two["model_version"] == 2
        twice = fc.store.query_df(
            "SELECT unit, tick, probability FROM store.predictions ORDER BY tick, unit"
        )
    with faultcast.connect(tmp_path / "once.duckdb") as fc:
        # The same ingests (a template can fold at a later chunk, and stored lines keep the id
        # they were given), one learn.
        fc.ingest(first)
        fc.ingest(second)
        fc.learn()
        once = fc.store.query_df(
            "SELECT unit, tick, probability FROM store.predictions ORDER BY tick, unit"
        )
    assert len(twice) == len(once)
    assert (twice["tick"] == once["tick"]).all()
    np.testing.assert_allclose(twice["probability"], once["probability"], rtol=1e-9)


def test_a_crash_while_learning_leaves_the_previous_state(
    tmp_path: Path, sim_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copy(sim_store, path)
    store = Store(path)
    learn_module = sys.modules["faultcast.models.learn"]  # the package's `learn` is the function

    def boom(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("killed while saving")

    monkeypatch.setattr(learn_module.Registry, "save", boom)
    with pytest.raises(RuntimeError):
        learn(store)
    monkeypatch.undo()
    assert store.query_df("SELECT count(*) AS n FROM store.predictions")["n"][0] == 0
    assert Registry(store).versions().empty
    assert learn(store)["model_version"] == 1


def test_predict_failure_explains_in_words(tmp_path: Path, sim_store: Path) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copy(sim_store, path)
    with faultcast.connect(path) as fc:
        assert fc.predict_failure().empty
        fc.learn()
        risks = fc.predict_failure()
        assert set(risks.columns) >= {
            "unit",
            "risk",
            "alert",
            "threshold",
            "anomaly_score",
            "as_of",
            "model_version",
            "top_features",
        }
        assert len(risks) == 3 and risks["risk"].between(0, 1).all()
        assert risks["risk"].is_monotonic_decreasing
        words = [w for ws in risks["top_features"] for w in ws]
        assert words and all(isinstance(w, str) and w for w in words)
        one = fc.predict_failure(unit=risks["unit"].iloc[0])
        assert len(one) == 1
        with pytest.raises(ValueError, match="15 min ahead"):
            fc.predict_failure(horizon="1h")


def test_registry_falls_back_past_a_corrupt_or_missing_blob(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    registry = Registry(store)
    with pytest.raises(ModelNotFoundError):
        registry.load("m")
    assert registry.save("m", {"v": 1}) == 1
    assert registry.save("m", {"v": 2}) == 2
    assert registry.save("m", {"v": 3}) == 3
    with store.writing() as con:
        con.execute("UPDATE store.model_registry SET blob = 'not a pickle'::BLOB WHERE version = 3")
        con.execute("UPDATE store.model_registry SET blob = NULL WHERE version = 2")
    with pytest.warns(RegistryWarning) as caught:
        loaded = Registry(Store(tmp_path / "store.duckdb")).load("m")
    assert loaded.version == 1 and loaded.model == {"v": 1}
    messages = " ".join(str(w.message) for w in caught)
    assert "version 3" in messages and "SHA-256" in messages and "version 2" in messages


def test_registry_promote_rollback_and_loads_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.duckdb")
    registry = Registry(store)
    for v in range(3):
        registry.save("m", {"v": v})
    assert registry.load("m").version == 3
    assert registry.rollback("m") == 2
    assert registry.load("m").version == 2
    registry.promote("m", 3)
    first, again = registry.load("m"), registry.load("m")
    assert first.version == 3 and first.model is again.model  # unpickled once per process
    statuses = dict(
        zip(registry.versions("m")["version"], registry.versions("m")["status"], strict=True)
    )
    assert statuses == {3: "production", 2: "archived", 1: "archived"}
    with pytest.raises(ModelNotFoundError):
        registry.promote("m", 9)


def test_read_labels_accepts_the_documented_forms(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("BlockId,Label\nblk_1,Anomaly\nblk_2,normal\nb3,1\nb4,0\nb5,TRUE\nb6,false\n")
    assert read_labels(path) == {
        "blk_1": True,
        "blk_2": False,
        "b3": True,
        "b4": False,
        "b5": True,
        "b6": False,
    }
    path.write_text("key,label\nb1,Anomaly\nb2,maybe\n")
    with pytest.raises(ValueError, match=r"labels.csv:3: label 'maybe'"):
        read_labels(path)


def test_unit_backtest_reports_metrics_and_baselines(sim_store: Path) -> None:
    result = backtest(Store(sim_store))
    for key in ("precision", "recall", "f1", "pr_auc", "alerts", "positives", "median_lead_time_s"):
        assert key in result
    assert result["positives"] > 0 and result["alerts"] > 0
    assert set(result["baselines"]) >= {"static_threshold", "batch_sklearn"}
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    json.dumps(result)  # one JSON object
    detailed = backtest(Store(sim_store), rows=True)
    rows = detailed["rows"]
    assert len(rows) == result["rows"] and {"probability", "label", "alert"} <= set(rows.columns)
    assert len(detailed["onsets"]) >= result["positives"]


def test_session_backtest_from_failure_events_and_unsupervised(sim_store: Path) -> None:
    fc = faultcast.connect(sim_store)
    supervised = fc.backtest("session", session_column="host")
    assert supervised["label_source"] == "failure events" and supervised["sessions"] > 0
    unsupervised = fc.backtest("session", session_column="host", unsupervised=True)
    assert unsupervised["model"] == "RareTemplateDetector"
    with pytest.raises(ValueError, match="session mode"):
        fc.backtest("unit", unsupervised=True)


def test_empty_store_gives_empty_results(tmp_path: Path) -> None:
    fc = faultcast.connect(tmp_path / "empty.duckdb")
    assert fc.learn()["ticks"] == 0
    assert fc.predict_failure().empty
    assert fc.models().empty
    pd.testing.assert_index_equal(
        fc.models().columns,
        pd.Index(["name", "version", "created_at", "status", "bytes", "metrics", "params"]),
    )


def test_sessions_are_learned_once_each_and_resumably(
    tmp_path: Path, sim_lines: list[bytes]
) -> None:
    cut = len(sim_lines) // 2
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"".join(sim_lines[:cut]))
    second.write_bytes(b"".join(sim_lines[cut:]))
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(first)
    one = fc.learn(sessions=True, session_idle="1m")["sessions"]
    assert one["sessions"] > 0 and one["model_version"] == 1
    assert fc.learn(sessions=True, session_idle="1m")["sessions"]["sessions"] == 0  # idempotent
    fc.ingest(second)
    two = fc.learn(sessions=True, session_idle="1m")["sessions"]
    assert two["sessions"] > 0 and two["model_version"] == 2
    stored = fc.store.query_df(
        "SELECT unit, count(*) AS n FROM store.predictions WHERE mode = 'session' GROUP BY unit"
    )
    assert int(stored["n"].sum()) == one["sessions"] + two["sessions"]
    # A session is learned when it ends; only one that resumes after it ended is seen twice.
    assert (stored["n"] == 1).mean() > 0.95
