"""The store keeps what learning wrote: predictions once per (mode, unit column, unit, tick,
horizon) however often learning starts over, and the registry in the .duckdb file itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from faultcast.ingest import Store
from faultcast.models import UNIT_MODEL, Registry, learn, learn_sessions
from faultcast.models.registry import _CACHE

import faultcast
from faultcast.simulate import simulate

KEY = "mode, unit_column, unit, tick, horizon_s"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated store, ingested, never learned (tests copy it)."""
    folder = tmp_path_factory.mktemp("durability")
    events = folder / "events.jsonl"
    simulate(events, services=3, hours=3, seed=5, rate=6)
    path = folder / "store.duckdb"
    with faultcast.connect(path) as fc:
        assert fc.ingest(events).quarantined == 0
    Store(path).checkpoint()
    return path


@pytest.fixture
def store(ingested: Path, tmp_path: Path) -> Store:
    _CACHE.clear()
    target = tmp_path / "store.duckdb"
    shutil.copy(ingested, target)
    return Store(target)


def _counts(path: str) -> tuple[int, int]:
    with duckdb.connect(path, read_only=True) as con:
        total, distinct = con.execute(
            f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT {KEY} FROM predictions)) FROM predictions"
        ).fetchall()[0]
    return int(total), int(distinct)


def test_learning_again_from_scratch_after_a_lost_registry_stores_no_duplicates(
    store: Store,
) -> None:
    first = learn(store)
    sessions = learn_sessions(store, idle=300)
    assert first["predictions"] > 0 and sessions["predictions"] > 0
    stored = _counts(store.path)
    assert stored[0] == stored[1] == first["predictions"] + sessions["predictions"]
    with duckdb.connect(store.path) as con:  # the registry is lost; the predictions stay
        con.execute("DELETE FROM model_registry")
    _CACHE.clear()
    again = learn(store)
    sessions_again = learn_sessions(store, idle=300)
    assert again["predictions"] == first["predictions"]
    assert sessions_again["predictions"] == sessions["predictions"]
    assert _counts(store.path) == stored  # replaced, not doubled
    with duckdb.connect(store.path, read_only=True) as con:
        versions = {
            r[0] for r in con.execute("SELECT DISTINCT model_version FROM predictions").fetchall()
        }
    assert versions == {again["model_version"], sessions_again["model_version"]}


def test_the_duckdb_file_alone_holds_the_registry_after_learn(store: Store, tmp_path: Path) -> None:
    summary = learn(store)
    assert summary["model_version"] == 1
    copy = tmp_path / "copy" / "alone.duckdb"
    copy.parent.mkdir()
    shutil.copy(store.path, copy)  # without its .wal, as a careless backup would
    assert not Path(f"{copy}.wal").exists()
    _CACHE.clear()
    loaded = Registry(Store(copy)).load(UNIT_MODEL)
    assert loaded.version == summary["model_version"]
    assert _counts(str(copy))[0] == summary["predictions"]


def test_migration_7_keeps_the_newest_of_predictions_stored_twice(store: Store) -> None:
    learn(store)
    before = _counts(store.path)
    with duckdb.connect(store.path) as con:  # a store from before: learned twice, doubled
        con.execute(
            "INSERT INTO predictions SELECT * REPLACE (model_version - 1 AS model_version) FROM predictions"
        )
        con.execute("ALTER TABLE model_registry DROP COLUMN signature")
        con.execute("DELETE FROM schema_version WHERE version >= 7")
    assert _counts(store.path) == (2 * before[0], before[1])
    with store.writing():
        pass  # migrates
    assert _counts(store.path) == before
    with duckdb.connect(store.path, read_only=True) as con:
        assert con.execute("SELECT min(model_version) FROM predictions").fetchall()[0][0] == 1
