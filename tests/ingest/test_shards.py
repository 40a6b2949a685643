"""Several store files read as one: unions, merged template ids, read-only, missing and locked
shards, and the metrics over shards."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultcast.analytics import Metrics
from faultcast.ingest import StorageError, Store, _duck
from faultcast.ingest.shards import ShardedStore

import faultcast
from tests.conftest import event

T = "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_minutes(?)"


def _shard(path: Path, rows: list[tuple[str, int, str, str, str]]) -> Path:
    """A shard with events (event_id, minute, service, template_id, template) and their
    patterns, as that shard's miner would have numbered them."""
    store = Store(path)
    with store.writing() as con:
        for event_id, minute, service, template_id, template in rows:
            con.execute(
                f"INSERT INTO store.events (event_id, ts, service, level, template_id, template, "
                f"message) VALUES (?, {T}, ?, 'error', ?, ?, ?)",
                [event_id, minute, service, template_id, template, f"{template} #{event_id}"],
            )
        con.execute(
            """INSERT INTO store.patterns SELECT template_id, any_value(template), count(*),
            min(ts), max(ts), arg_min(message, ts), now() FROM store.events GROUP BY template_id"""
        )
    store.close()
    return path


@pytest.fixture
def shards(tmp_path: Path) -> ShardedStore:
    # Shard 0: T1 = "disk full", T2 = "user logged in".
    # Shard 1 numbered its own: T1 = "user logged in" (shard 0's T2), T2 = "cache miss" (new,
    # but its id T2 is taken by shard 0's "user logged in").
    a = _shard(
        tmp_path / "a.duckdb",
        [
            ("a1", 0, "api", "T1", "disk full"),
            ("a2", 1, "api", "T2", "user logged in"),
            ("a3", 2, "api", "T2", "user logged in"),
        ],
    )
    b = _shard(
        tmp_path / "b.duckdb",
        [
            ("b1", 3, "db", "T1", "user logged in"),
            ("b2", 4, "db", "T2", "cache miss"),
            ("b3", 5, "db", "T2", "cache miss"),
            ("b4", 6, "db", "T2", "cache miss"),
        ],
    )
    return ShardedStore([a, b])


def test_events_are_the_union_of_the_shards(shards: ShardedStore) -> None:
    assert shards.counts() == {"events": 7, "quarantined": 0}
    df = shards.query_df(
        "SELECT service, count(*) AS n FROM store.events WHERE service = ? GROUP BY service",
        ["db"],
    )
    assert df.to_dict("records") == [{"service": "db", "n": 4}]
    assert shards.schema_version() == Store(shards.paths[0]).schema_version()
    assert shards.exists()


def test_template_ids_are_merged_by_template_text(shards: ShardedStore) -> None:
    events = shards.query_df("SELECT event_id, template_id FROM store.events ORDER BY event_id")
    assert dict(zip(events["event_id"], events["template_id"], strict=True)) == {
        "a1": "T1",
        "a2": "T2",
        "a3": "T2",
        "b1": "T2",  # shard 1's T1 is shard 0's T2 ("user logged in")
        "b2": "T2@1",  # shard 1's T2 is a new template whose id shard 0 already uses
        "b3": "T2@1",
        "b4": "T2@1",
    }
    patterns = shards.query_df(
        "SELECT template_id, template, count, example FROM store.patterns ORDER BY template_id"
    )
    assert patterns[["template_id", "template", "count"]].values.tolist() == [
        ["T1", "disk full", 1],
        ["T2", "user logged in", 3],
        ["T2@1", "cache miss", 3],
    ]
    assert patterns["example"].tolist()[1] == "user logged in #a2"  # the first shard's


def test_metrics_read_shards_as_one(shards: ShardedStore) -> None:
    metrics = Metrics(shards)
    top = metrics.top_patterns(min_level=None)  # every level: the shards' events are info
    assert top[["template_id", "count", "services"]].values.tolist() == [
        ["T2", 3, 2],
        ["T2@1", 3, 1],
        ["T1", 1, 1],
    ]
    rates = metrics.error_rate().sort_values("service")
    assert rates[["service", "events"]].values.tolist() == [["api", 3], ["db", 4]]


def test_shards_are_read_only(shards: ShardedStore) -> None:
    with pytest.raises(StorageError, match="never written"):
        shards.writing()
    with pytest.raises(StorageError), shards.reading() as con:
        con.execute("INSERT INTO shard_0.events (event_id) VALUES ('x')")
    assert shards.counts()["events"] == 7


def test_a_missing_shard_is_skipped_until_it_exists(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.duckdb", [("a1", 0, "api", "T1", "disk full")])
    later = tmp_path / "later.duckdb"
    shards = ShardedStore([a, later])
    assert shards.counts()["events"] == 1
    _shard(later, [("l1", 1, "api", "T1", "disk full")])
    assert shards.counts()["events"] == 2
    assert shards.query_df("SELECT count FROM store.patterns")["count"].tolist() == [2]
    none = ShardedStore([tmp_path / "x.duckdb", tmp_path / "y.duckdb"])
    assert not none.exists() and none.schema_version() == 0
    assert Metrics(none).error_frequency().empty
    with pytest.raises(StorageError, match="none of the shards exists"):
        none.counts()


def test_an_older_shard_without_a_table_still_reads(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.duckdb", [("a1", 0, "api", "T1", "disk full")])
    b = _shard(tmp_path / "b.duckdb", [("b1", 1, "db", "T1", "disk full")])
    with Store(b).writing() as con:
        con.execute("DROP TABLE store.patterns")
        con.execute("ALTER TABLE store.events DROP COLUMN attrs")
    shards = ShardedStore([a, b])
    assert shards.query_df("SELECT count FROM store.patterns")["count"].tolist() == [1]
    events = shards.query_df("SELECT event_id, attrs FROM store.events ORDER BY event_id")
    assert events["event_id"].tolist() == ["a1", "b1"]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        ShardedStore([":memory:"])
    with pytest.raises(ValueError, match="twice"):
        ShardedStore([tmp_path / "a.duckdb", str(tmp_path / "a.duckdb")])
    with pytest.raises(TypeError, match="list of paths"):
        ShardedStore(str(tmp_path / "a.duckdb"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        ShardedStore([])
    not_a_store = tmp_path / "plain.duckdb"
    subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(not_a_store)!r}).close()"],
        check=True,
    )
    with pytest.raises(StorageError, match="not a faultcast store"):
        ShardedStore([not_a_store]).counts()


def test_a_reader_waits_out_a_writer_holding_a_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _shard(tmp_path / "a.duckdb", [("a1", 0, "api", "T1", "disk full")])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(a)!r}); print('held', flush=True);"
            " time.sleep(1.5); c.close()",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        waits: list[float] = []
        real_sleep = time.sleep
        monkeypatch.setattr(_duck.time, "sleep", lambda s: (waits.append(s), real_sleep(s)))
        assert ShardedStore([a], lock_timeout=60).counts()["events"] == 1
        assert waits, "the reader never met the writer's lock"
    finally:
        holder.wait(timeout=60)


def test_real_ingests_into_two_shards(tmp_path: Path, write_lines) -> None:  # type: ignore[no-untyped-def]
    paths = []
    for shard in range(2):
        path = tmp_path / f"shard-{shard}.duckdb"
        fc = faultcast.connect(path)
        lines = [event(i + 100 * shard) for i in range(30)]
        word = ("alpha", "beta")[shard]
        lines += [event(i, event=f"disk {word} full") for i in range(3)]
        fc.ingest(write_lines(lines, name=f"in-{shard}.jsonl"))
        fc.close()
        paths.append(path)
    shards = ShardedStore(paths)
    assert shards.counts()["events"] == 66
    patterns = shards.query_df("SELECT template, count FROM store.patterns ORDER BY template")
    by_text = dict(zip(patterns["template"], patterns["count"], strict=True))
    # the timeout messages share one template across both shards; the disk ones differ
    assert by_text["disk alpha full"] == 3 and by_text["disk beta full"] == 3
    assert sum(by_text.values()) == 66 and len(by_text) == 3
    ids = shards.query_df("SELECT DISTINCT template_id FROM store.events")["template_id"]
    assert len(ids) == 3
