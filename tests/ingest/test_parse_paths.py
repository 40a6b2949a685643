"""The fast path and the full path of the JSON parser must agree on every good line."""

from __future__ import annotations

import functools
import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from faultcast.ingest.jsonl import PRESENT_KEYS_SQL, build_fast_sql, build_parse_sql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COLUMNS = (
    "event_id, ts, service, host, component, level, category, error_type, message, template_id, "
    "template, session_key, failure, recovery_action, recovery_outcome, retry_count, recovery_ms, attrs, "
    "source_ip, user"
)

texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
events = st.fixed_dictionaries(
    {
        "event": texts,
        "timestamp": st.datetimes(
            min_value=__import__("datetime").datetime(2000, 1, 1),
            max_value=__import__("datetime").datetime(2099, 1, 1),
        ).map(lambda d: d.isoformat() + "Z"),
    },
    optional={
        "level": st.sampled_from(["info", "WARN", "error", "Critical", "debug", 40]),
        "service": texts,
        "host": texts,
        "component": texts,
        "error_type": st.sampled_from(["TimeoutError", "BudgetError", "KeyError", "X", ""]),
        "category": st.sampled_from(["memory", "streaming", "nonsense"]),
        "session_key": texts,
        "request_id": texts,
        "message": texts,
        "hostname": texts,
        "ts": st.just("2026-01-01T00:00:00Z"),
        "failure": st.booleans(),
        "recovery_action": texts,
        "recovery_outcome": st.sampled_from(["succeeded", "failed", "ok", "error"]),
        "retry_count": st.integers(0, 10),
        "recovery_ms": st.floats(0, 1e6),
        "event_id": st.uuids().map(str),
        "user": texts,
        "source_ip": st.sampled_from(["10.0.0.1", "::1"]),
        "nested": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    },
)


@functools.cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory database for every parse here (each replaces ``batch`` and ``parsed``):
    starting one per parse cost more than the parse of a small batch."""
    return duckdb.connect()


def _run(sql: str | None, lines: list[str]) -> list[tuple[Any, ...]]:
    """Parse with ``sql``; None: the fast path as the ingest builds it, for the aliases present."""
    con = _connection()
    con.register("batch", pa.table({"line_no": list(range(1, len(lines) + 1)), "line": lines}))
    if sql is None:
        present = {key for (key,) in con.execute(PRESENT_KEYS_SQL).fetchall()}
        sql = build_fast_sql(present_keys=present)
    con.execute(sql, {"source": "/src"})
    return con.execute(f"SELECT line_no, reason, {COLUMNS} FROM parsed ORDER BY line_no").fetchall()


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=20))
def test_fast_and_full_paths_agree(batch: list[dict[str, Any]]) -> None:
    lines = [json.dumps(e) for e in batch]
    full = _run(build_parse_sql(), lines)
    full_by_line = {row[0]: row for row in full}
    for fast in (_run(build_fast_sql(), lines), _run(None, lines)):
        for row in fast:  # every line the fast path takes, it maps exactly like the full path
            assert row == full_by_line[row[0]]
    good = {row[0] for row in full if row[1] is None}
    assert {
        row[0] for row in fast
    } <= good  # the fast path never takes a line the full path refuses


def test_plain_structlog_lines_take_the_fast_path() -> None:
    from tests.conftest import event

    lines = [
        json.dumps(event(i, request_id=f"r{i}", retry_count=i % 3, user="u")) for i in range(50)
    ]
    assert len(_run(build_fast_sql(), lines)) == len(_run(None, lines)) == 50
