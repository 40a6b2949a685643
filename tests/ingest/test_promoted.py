"""source_ip and user: columns of their own (and still attributes), for new and old stores."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from faultcast.ingest import Ingestor, Store
from faultcast.ingest.migrations import MIGRATIONS


def _line(i: int, **extra: object) -> bytes:
    event = {"ts": f"2026-01-01T00:00:{i:02d}Z", "event": f"login failed {i}", "level": "error"}
    return json.dumps({**event, **extra}).encode()


def test_ingest_fills_the_promoted_columns_and_keeps_the_attributes() -> None:
    store = Store(":memory:")
    lines = [
        _line(1, source_ip="10.0.0.1", user="eve"),
        _line(2, user="bob"),
        _line(3),
        _line(4, source_ip=7, retry_count="x"),  # quarantined: the full path
        _line(5, source_ip="10.0.0.9", message="two message keys"),  # the full path, stored
    ]
    report = Ingestor(store).ingest_lines(lines, source="t", offsets=[1, 2, 3, 4, 5]).report
    assert (report.stored, report.quarantined) == (4, 1)
    rows = store.query_df(
        "SELECT source_offset, source_ip, user, attrs->>'source_ip' AS a_ip, attrs->>'user' AS a_user "
        "FROM store.events ORDER BY source_offset"
    )
    assert rows["source_ip"].tolist()[:1] == ["10.0.0.1"]
    assert rows["user"].tolist()[:2] == ["eve", "bob"]
    assert rows["source_ip"].isna().tolist()[1:3] == [True, True]
    assert rows["source_ip"].tolist()[3] == "10.0.0.9"
    assert rows["a_ip"].tolist()[0] == "10.0.0.1" and rows["a_user"].tolist()[1] == "bob"


def test_text_logs_fill_them_from_fields_of_the_same_name(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("2026-01-01 00:00:01 ERROR 10.0.0.3 mallory: login failed\n")
    store = Store(tmp_path / "s.duckdb")
    Ingestor(store).run(
        [log], format="text", log_format="<Date> <Time> <Level> <source_ip> <user>: <Content>"
    )
    rows = store.query_df("SELECT source_ip, user FROM store.events")
    assert rows.to_dict("records") == [{"source_ip": "10.0.0.3", "user": "mallory"}]


def _store_before_migration_6(path: Path) -> duckdb.DuckDBPyConnection:
    """A store as faultcast wrote it before migration 6, open for the test to fill."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    for migration in MIGRATIONS:
        if migration.version >= 6:
            break
        for statement in migration.statements:
            con.execute(statement)
        con.execute(
            "INSERT INTO schema_version VALUES (?, ?, now())", [migration.version, migration.name]
        )
    return con


def test_migration_6_backfills_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = _store_before_migration_6(path)
    con.execute(
        "INSERT INTO events (event_id, ts, message, attrs) VALUES "
        "('a', now(), 'x', '{\"source_ip\": \"10.1.1.1\", \"user\": \"eve\"}'), ('b', now(), 'y', NULL)"
    )
    con.close()
    store = Store(path)
    with store.writing():
        pass  # migrates
    rows = store.query_df("SELECT event_id, source_ip, user FROM store.events ORDER BY event_id")
    assert rows["source_ip"].tolist()[0] == "10.1.1.1" and rows["user"].tolist()[0] == "eve"
    assert rows["source_ip"].isna().tolist()[1]


def test_security_metrics_read_a_store_not_migrated_yet(tmp_path: Path) -> None:
    """A store written by an older faultcast, opened read-only, has no such columns."""
    from faultcast.analytics import Metrics

    path = tmp_path / "old.duckdb"
    con = _store_before_migration_6(path)
    con.execute(
        "INSERT INTO events (event_id, ts, service, level, category, error_type, message, template, attrs) "
        "VALUES ('a', TIMESTAMPTZ '2026-01-01 00:00:00+00', 'api', 'error', 'security', "
        "'AuthenticationError', 'login failed', 'login failed', '{\"source_ip\": \"10.1.1.1\", \"user\": \"eve\"}')"
    )
    con.close()
    df = Metrics(Store(path)).authentication_failure_rate()
    assert df[["auth_failures", "source_ips", "users"]].values.tolist() == [[1, 1, 1]]
