"""Issues at ingest: grouping by fingerprint, the lifecycle, concurrency with ingest, and
migration 9 on a store written before it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from faultcast.ingest import Ingestor, Store
from faultcast.ingest.issues import (
    UnknownIssueError,
    expire_ignored,
    set_issue_status,
)
from faultcast.ingest.migrations import MIGRATIONS


def _tb(*frames: tuple[str, int, str], last: str = "PaymentError: declined") -> str:
    lines = ["Traceback (most recent call last):"]
    for file, line, function in frames:
        lines += [f'  File "{file}", line {line}, in {function}', "    call()"]
    return "\n".join([*lines, last])


def _at(minutes: float) -> str:
    """An event time ``minutes`` from now (lifecycle checks compare event times with now)."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _ingest(store: Store, path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    Ingestor(store).run([path], format="json")


def _issues(store: Store) -> dict[str, dict[str, Any]]:
    df = store.query_df("SELECT * FROM store.issues")
    return {r["issue_id"]: r for r in df.to_dict("records")}


def _id_of(store: Store, event_id: str) -> str:
    return str(
        store.query_df("SELECT issue_id FROM store.events WHERE event_id = ?", [event_id])[
            "issue_id"
        ].iloc[0]
    )


def _charge(event_id: str, order: int, line: int, **extra: Any) -> dict[str, Any]:
    lib = ("/usr/lib/python3.11/site-packages/stripe/api.py", 77 + line, "request")
    return {
        "event_id": event_id,
        "ts": _at(-10),
        "service": "shop",
        "level": "error",
        "event": f"payment failed for order {order}",
        "error_type": "PaymentError",
        "exception": _tb(("/srv/app/shop/pay.py", line, "charge"), lib),
        **extra,
    }


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("issues")
    store = Store(folder / "s.duckdb")
    refund = _charge("c3", 789, 5, service="api")
    refund["exception"] = _tb(("/srv/app/shop/refund.py", 5, "refund"))
    dict_tb = {
        "exc_type": "PaymentError",
        "exc_value": "declined",
        "frames": [{"filename": "/srv/app/shop/refund.py", "lineno": 9, "name": "refund"}],
    }
    lines = [
        _charge("c1", 123, 10, session_id="s1", user="ann", release="1.0"),
        # the same call site after an edit moved its line; other numbers in the message
        _charge("c2", 456, 12, session_id="s2", user="ann", release="1.1"),
        refund,  # the same error from another call site
        {**refund, "event_id": "c4", "exception": [dict_tb]},  # structlog dict_tracebacks
        {"event_id": "i1", "ts": _at(-9), "level": "info", "event": "GET /x 200"},
        {
            "event_id": "f1",
            "ts": _at(-8),
            "level": "warning",
            "event": "slow",
            "fingerprint": "slow",
        },
        {
            "event_id": "f2",
            "ts": _at(-7),
            "level": "critical",
            "event": "very slow 5",
            "service": "web",
            "fingerprint": "slow",
        },  # fmt: skip
        {"event_id": "x1", "ts": _at(-6), "level": "info", "event": "job died", "failure": True},
    ]
    # two commits: the second folds into issues the first created
    _ingest(store, folder / "a.jsonl", lines[:3])
    _ingest(store, folder / "b.jsonl", [*lines[3:], lines[3]])  # c4 twice: stored once
    _ingest(store, folder / "again.jsonl", lines[:3])  # all duplicates: nothing counted again
    # a text log whose tracebacks are continuation lines of the message
    text = folder / "app.log"
    stamp = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    stack = [
        _tb(("/srv/app/shop/cart.py", 10, "add"), ("/usr/lib/python3.11/json/decoder.py", 5, "x"),
            last="KeyError: 'sku'"),
        _tb(("/srv/app/shop/cart.py", 11, "add"), last="KeyError: 'sku'"),
        _tb(("/srv/app/shop/cart.py", 12, "remove"), last="KeyError: 'sku'"),
    ]  # fmt: skip
    text.write_text(
        "".join(
            f"{stamp} ERROR shop: checkout failed for order {i}\n{tb}\n"
            for i, tb in enumerate(stack)
        )
    )
    Ingestor(store).run(
        [text], format="text", log_format="<Date> <Time> <Level> <Component>: <Content>"
    )
    return store


def test_grouping_by_call_site_template_and_explicit_fingerprint(grouped: Store) -> None:
    issues = _issues(grouped)
    charge, refund = _id_of(grouped, "c1"), _id_of(grouped, "c3")
    assert _id_of(grouped, "c2") == charge and charge != refund
    assert _id_of(grouped, "c4") == refund  # text and dict tracebacks give the same frames
    assert _id_of(grouped, "f1") == _id_of(grouped, "f2")  # the producer's fingerprint wins
    assert (
        grouped.query_df("SELECT issue_id FROM store.events WHERE event_id = 'i1'")["issue_id"]
        .isna()
        .all()
    )
    assert _id_of(grouped, "x1") in issues  # a failure below warning is an issue too
    by_text = grouped.query_df(
        "SELECT source_offset, issue_id FROM store.events WHERE source LIKE '%app.log' "
        "ORDER BY source_offset"
    )["issue_id"].tolist()
    assert len(by_text) == 3 and by_text[0] == by_text[1] != by_text[2]  # add twice, remove
    assert issues[by_text[0]]["title"] == "KeyError: checkout failed for order <*>"
    assert len(issues) == 6
    c = issues[charge]
    assert (c["count"], c["sessions"], c["users"]) == (2, 2, 1)
    assert (c["first_release"], c["last_release"], c["status"]) == ("1.0", "1.1", "open")
    assert c["title"] == "PaymentError: payment failed for order <*>"
    assert "shop/pay.py:charge" in c["fingerprint"] and "stripe" not in c["fingerprint"]
    assert charge.startswith("FC-") and len(charge) == 13
    slow = issues[_id_of(grouped, "f1")]
    assert (slow["count"], slow["level"], sorted(slow["services"])) == (2, "critical", ["web"])
    assert list(issues[refund]["services"]) == ["api"] and issues[refund]["count"] == 2


def test_the_lifecycle_resolve_regress_ignore_and_expire(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    base = _charge("e0", 1, 10, release="1.0")
    _ingest(store, tmp_path / "0.jsonl", [base])
    issue = _id_of(store, "e0")

    with pytest.raises(UnknownIssueError, match="FC-NOPE"):
        set_issue_status(store, "FC-NOPE", "resolved", actor="ann")
    with pytest.raises(ValueError, match="regressed"):
        set_issue_status(store, issue, "regressed", actor="ann")

    # resolved now -> an event after that -> regressed (by faultcast)
    set_issue_status(store, issue.lower(), "resolved", actor="ann")
    _ingest(store, tmp_path / "1.jsonl", [{**base, "event_id": "e1", "ts": _at(5)}])
    assert _issues(store)[issue]["status"] == "regressed"

    # resolved in the next release: the same release does not regress it, a new one does
    set_issue_status(store, issue, "resolved", actor="bob", in_next_release=True)
    assert _issues(store)[issue]["resolved_in_release"] == "1.0"
    _ingest(store, tmp_path / "2.jsonl", [{**base, "event_id": "e2", "ts": _at(6)}])
    assert _issues(store)[issue]["status"] == "resolved"
    new = {**base, "event_id": "e3", "ts": _at(7), "release": "1.1"}
    _ingest(store, tmp_path / "3.jsonl", [new])
    assert _issues(store)[issue]["status"] == "regressed"

    # ignored until 2 more events: one keeps it ignored, the second reopens it
    set_issue_status(store, issue, "ignored", actor="cy", until_count=2)
    _ingest(store, tmp_path / "4.jsonl", [{**base, "event_id": "e4", "ts": _at(8)}])
    assert _issues(store)[issue]["status"] == "ignored"
    _ingest(store, tmp_path / "5.jsonl", [{**base, "event_id": "e5", "ts": _at(9)}])
    assert _issues(store)[issue]["status"] == "open"

    # ignored for 2 hours: still ignored now, open once the time has passed
    with pytest.raises(ValueError, match="past"):
        set_issue_status(store, issue, "ignored", actor="cy", until=datetime(2020, 1, 1))
    set_issue_status(store, issue, "ignored", actor="cy", until="2h")
    with store.writing() as w:
        assert expire_ignored(w) == 0
        assert expire_ignored(w, now=datetime.now(UTC) + timedelta(hours=3)) == 1
    assert _issues(store)[issue]["status"] == "open"

    changes = store.query_df(
        'SELECT from_status, to_status, actor FROM store.issue_changes ORDER BY "at", rowid'
    )
    assert [tuple(r) for r in changes.itertuples(index=False)] == [
        ("open", "resolved", "ann"),
        ("resolved", "regressed", "faultcast"),
        ("regressed", "resolved", "bob"),
        ("resolved", "regressed", "faultcast"),
        ("regressed", "ignored", "cy"),
        ("ignored", "open", "faultcast"),
        ("open", "ignored", "cy"),
        ("ignored", "open", "faultcast"),
    ]


_INGESTER = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from faultcast.ingest import Ingestor, Store
    store = Store(sys.argv[1], lock_timeout=60)
    folder = Path(sys.argv[2])
    for i in range(int(sys.argv[3])):
        path = folder / f"batch-{i}.jsonl"
        ts = (datetime.now(UTC) + timedelta(hours=1, seconds=i)).isoformat()
        path.write_text(json.dumps({"event_id": f"n{i}", "ts": ts, "level": "error",
                                    "event": "queue full", "error_type": "QueueFull"}) + "\\n")
        Ingestor(store).run([path], format="json")
        print(i, flush=True)
    """
)


def test_status_changes_and_ingest_in_another_process_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    store = Store(path, lock_timeout=60)
    first = {"event_id": "n-first", "ts": _at(0), "level": "error", "event": "queue full",
             "error_type": "QueueFull"}  # fmt: skip
    _ingest(store, tmp_path / "first.jsonl", [first])
    issue = _id_of(store, "n-first")
    batches = 3
    proc = subprocess.Popen(
        [sys.executable, "-c", _INGESTER, str(path), str(tmp_path), str(batches)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    changes = 0
    assert proc.stdout is not None
    for _ in proc.stdout:  # a status change as each batch commits, racing the next batch
        set_issue_status(store, issue, "resolved" if changes % 2 == 0 else "open", actor="ann")
        changes += 1
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    row = _issues(store)[issue]
    assert row["count"] == batches + 1  # every event counted once
    log = store.query_df("SELECT actor FROM store.issue_changes")
    assert (log["actor"] == "ann").sum() == changes  # every status change kept


def test_migration_9_builds_issues_from_a_store_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    for migration in MIGRATIONS:
        if migration.version >= 9:
            break
        for statement in migration.statements:
            con.execute(statement)
        con.execute(
            "INSERT INTO schema_version VALUES (?, ?, now())", [migration.version, migration.name]
        )
    con.execute(
        "INSERT INTO events (event_id, ts, service, level, error_type, message, template_id, "
        "template, session_key, attrs) VALUES "
        "('a', now(), 'shop', 'error', 'KeyError', 'no sku 1', 'T1', 'no sku <*>', 's1', '{}'), "
        "('b', now(), 'shop', 'error', 'KeyError', 'no sku 2', 'T1', 'no sku <*>', 's2', '{}'), "
        "('c', now(), 'shop', 'info', NULL, 'ok', 'T2', 'ok', NULL, '{}')"
    )
    con.close()
    store = Store(path)
    with store.writing():
        pass  # migrates
    with store.writing():
        pass  # nothing left to do: applied once
    issues = _issues(store)
    assert len(issues) == 1
    (row,) = issues.values()
    assert (row["count"], row["sessions"], row["title"]) == (2, 2, "KeyError: no sku <*>")
    assert _id_of(store, "a") == _id_of(store, "b") == row["issue_id"]
