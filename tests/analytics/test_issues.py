"""The issue read path (sorting, filters, trend, recovery, one issue, shards read as one) and
the dashboard's one write, ``set_issue_status``, on tiny stores built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from faultcast.analytics import (
    Metrics,
    example_store,
    issue,
    issue_changes,
    issues,
    open_source,
    set_issue_status,
)
from faultcast.ingest import Store
from faultcast.ingest.issues import UnknownIssueError, index_events

from tests.analytics.conftest import INJECTIONS, build, ev


def _store(path: Path | None = None) -> Store:
    rows = [
        # an old, busy issue on two services, with recorded recoveries
        *(ev(m, "api", "error", error_type="DbError", message=f"db {m} down", template_id="T1",
             template="db <*> down", session_key=f"s{m % 3}", action=a, outcome=o)
          for m, a, o in ((0, "retry", "failed"), (1, "retry", "succeeded"), (2, "failover",
                          "succeeded"), (3, None, None), (4, None, None))),
        ev(60, "web", "critical", error_type="DbError", message="db 9 down", template_id="T1",
           template="db <*> down"),
        # a recent, rising one
        *(ev(600 + m, "web", "warning", message="slow page", template_id="T2") for m in range(3)),
        ev(601, "web", "info", message="ok", template_id="T3"),  # no issue
    ]  # fmt: skip
    store = build(rows, Store(path) if path else None)
    with store.writing() as con:
        index_events(con)
    return store


def test_issues_sorted_filtered_with_trend_and_recovery() -> None:
    store = _store()
    df = issues(store)
    assert df["title"].tolist() == ["slow page", "DbError: db <*> down"]  # newest first
    db = df.iloc[1]
    assert (db["count"], db["service"], db["level"], db["sessions"]) == (
        6,
        "api, web",
        "critical",
        3,
    )
    # hours ending at the issue's last event: minutes 1-4 and 60 in the last, minute 0 before
    assert len(db["trend"]) == 24 and db["trend"][-2:] == [1, 5]
    assert (db["recovery"], db["recovery_success"]) == ("failover", 1.0)
    assert issues(store, sort="count")["title"].iloc[0] == "DbError: db <*> down"
    assert issues(store, sort="trend")["title"].iloc[0] == "slow page"
    assert issues(store, service="api")["title"].tolist() == ["DbError: db <*> down"]
    assert issues(store, since="1h")["title"].tolist() == ["slow page"]
    assert issues(store, until="2h")["title"].tolist() == ["DbError: db <*> down"]
    assert issues(store, status="resolved").empty and len(issues(store, limit=1)) == 1
    assert (
        issues(store, service=list(INJECTIONS)).empty and issues(store, id=list(INJECTIONS)).empty
    )
    with pytest.raises(ValueError, match="status='closed'"):
        issues(store, status="closed")
    with pytest.raises(ValueError, match="sort="):
        issues(store, sort="loudest")
    assert issues(Store(":memory:")).empty and issue_changes(Store(":memory:")).empty
    assert Metrics(store).issues().equals(df)


def test_one_issue_and_the_dashboard_write(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    _store(path).close()
    source = open_source(str(path))
    first = issues(source, sort="count")["id"].iloc[0]
    with pytest.raises(UnknownIssueError, match="FC-NONE"):
        issue(source, "FC-NONE")
    result = set_issue_status(str(path), first.lower(), "ignored", actor="dash", until_count=2)
    assert (result["status"], result["ignore_until_count"]) == ("ignored", 8)
    set_issue_status(source, first, "open", actor="dash", reason="looked again")
    one = issue(source, first, events=2)
    assert one["status"] == "open" and [e["message"] for e in one["events"]] == [
        "db 9 down",
        "db 4 down",
    ]
    assert [(c["to_status"], c["actor"]) for c in one["changes"]] == [
        ("open", "dash"),
        ("ignored", "dash"),
    ]
    assert one["changes"][0]["reason"] == "looked again"
    assert len(issue_changes(source, first)) == 2
    other = tmp_path / "other.duckdb"
    Store(other).checkpoint()
    with pytest.raises(Exception, match="shards are read as one"):
        set_issue_status(open_source([str(path), str(other)]), first, "open", actor="x")


def test_shards_read_each_issue_as_one(tmp_path: Path) -> None:
    paths = [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    for path in paths:
        _store(path).close()
    merged = issues(open_source([str(p) for p in paths]), sort="count")
    assert merged["count"].tolist() == [12, 6]


def test_the_example_store_has_issues() -> None:
    df = issues(example_store())
    assert len(df) > 3 and (df["status"] == "open").all()
