"""The DuckDB store: migrations, versions, and reads that wait out another process's write lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from faultcast.ingest import StorageError, Store, StoreLockedError, _duck
from faultcast.ingest.migrations import LATEST_VERSION, MIGRATIONS
from faultcast.ingest.schema import EVENT_COLUMNS

import faultcast


def test_migrations_create_the_schema_and_record_versions(store_path: Path) -> None:
    store = Store(store_path)
    with store.writing():
        pass
    store.close()
    con = duckdb.connect(str(store_path), read_only=True)
    versions = con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert versions == [(m.version, m.name) for m in MIGRATIONS]
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events' ORDER BY ordinal_position"
    ).fetchall()
    assert [c for c, _ in columns] == [c for c, _ in EVENT_COLUMNS]
    assert dict(columns)["ts"] == "TIMESTAMP WITH TIME ZONE"
    q = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'quarantine' ORDER BY ordinal_position"
    ).fetchall()
    assert [c for (c,) in q] == ["source", "source_offset", "raw", "reason", "ingested_at"]
    con.close()


def test_migrations_are_idempotent_and_resume_from_a_partial_store(store_path: Path) -> None:
    con = duckdb.connect(str(store_path))
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    for statement in MIGRATIONS[0].statements:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, 'events and quarantine', now())")
    con.execute("INSERT INTO events (event_id, message) VALUES ('kept', 'old row')")
    con.close()
    store = Store(store_path)
    assert store.schema_version() == 1
    with store.writing():
        pass
    with store.writing():
        pass
    assert store.schema_version() == LATEST_VERSION
    assert store.query_df("SELECT event_id FROM store.events")["event_id"].tolist() == ["kept"]


def test_a_newer_store_is_refused_with_a_clear_message(store_path: Path) -> None:
    Store(store_path).schema_version()
    with Store(store_path).writing() as con:
        con.execute("INSERT INTO store.schema_version VALUES (999, 'from the future', now())")
    with (
        pytest.raises(StorageError, match="newer than this faultcast"),
        Store(store_path).writing(),
    ):
        pass


def test_reading_a_missing_store_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="ingest some events first"):
        Store(tmp_path / "nothing.duckdb").counts()


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("INSERT INTO events (event_id, message) VALUES ('from-writer', 'x')")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _count_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every backoff sleep of the lock-waiting attach (each one is a lock met)."""
    waits: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(_duck.time, "sleep", sleep)
    return waits


def test_readers_wait_for_a_writer_in_another_process(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(store_path).writing():
        pass
    proc = _hold(store_path, 1.5)
    waits = _count_waits(monkeypatch)
    try:
        counts = Store(store_path, lock_timeout=60).counts()
    finally:
        proc.wait(timeout=60)
    assert counts["events"] == 1  # it read what the writer committed, once the lock was free
    assert waits, "the reader never met the writer's lock"


def test_a_lock_held_too_long_is_a_clear_error(store_path: Path) -> None:
    with Store(store_path).writing():
        pass
    proc = _hold(store_path, 5)
    try:
        with pytest.raises(StoreLockedError, match="locked by another process"):
            Store(store_path, lock_timeout=0.5).counts()
    finally:
        proc.kill()
        proc.wait()


def test_the_store_is_not_held_between_operations(store_path: Path, write_lines) -> None:
    fc = faultcast.connect(store_path)
    fc.ingest(write_lines([{"event": "x", "timestamp": "2026-01-01T00:00:00Z"}]))
    # While fc is still open, another process can open the file (even for writing).
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({str(store_path)!r}).execute('select count(*) from events').fetchall()[0][0])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "1", out.stderr
    fc.close()
