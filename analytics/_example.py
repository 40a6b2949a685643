"""A tiny hand-written store for examples: the docstrings and docs/analytics.md run on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from faultcast.ingest import Store

_T0: Final[datetime] = datetime(2026, 1, 1, tzinfo=UTC)

# (minutes after 00:00, service, level, category, error_type, message, template_id, template,
#  failure, recovery_action, recovery_outcome, retry_count, recovery_ms, attrs)
_ROWS: Final[tuple[tuple[Any, ...], ...]] = (
    (0.0, "checkout", "info", None, None, "GET /cart 200 in 31 ms", "T1", "GET <*> 200 in <*> ms", False, None, None, None, None, None),
    (1.0, "checkout", "info", None, None, "GET /pay 200 in 44 ms", "T1", "GET <*> 200 in <*> ms", False, None, None, None, None, None),
    (2.0, "checkout", "warning", "communication", "TimeoutError", "call to payments timed out after 800 ms", "T2", "call to payments timed out after <*> ms", False, "retry", "succeeded", 2, 120.0, None),
    (3.0, "checkout", "error", "communication", "TimeoutError", "call to payments timed out after 950 ms", "T2", "call to payments timed out after <*> ms", False, "retry", "failed", 5, 900.0, None),
    (4.0, "checkout", "warning", "communication", "TimeoutError", "call to payments timed out after 990 ms", "T2", "call to payments timed out after <*> ms", False, None, None, None, None, None),
    (5.0, "checkout", "error", "communication", "ConnectionError", "connection to db-1:5432 refused", "T3", "connection to <*> refused", False, "failover", "succeeded", None, 40.0, None),
    (6.0, "checkout", "critical", "streaming", "StreamingError", "consumer stalled on partition 3", "T4", "consumer stalled on partition <*>", True, "restart", "failed", None, 5000.0, None),
    (7.0, "checkout", "critical", "streaming", "StreamingError", "consumer stalled on partition 4", "T4", "consumer stalled on partition <*>", True, "restart", "succeeded", None, 3000.0, None),
    (20.0, "checkout", "info", None, None, "GET /cart 200 in 28 ms", "T1", "GET <*> 200 in <*> ms", False, None, None, None, None, None),
    (30.0, "checkout", "error", "data", "ValueError", "invalid order payload: 'qty'", "T5", "invalid order payload: <*>", False, "fallback", "succeeded", None, 20.0, None),
    (0.0, "payments", "info", None, None, "GET /charge 200 in 12 ms", "T1", "GET <*> 200 in <*> ms", False, None, None, None, None, None),
    (10.0, "payments", "warning", "security", "AuthenticationError", "authentication failed for user alice from 203.0.113.7", "T6", "authentication failed for user <*> from <*>", False, None, None, None, None, {"user": "alice", "source_ip": "203.0.113.7"}),
    (10.25, "payments", "warning", "security", "AuthenticationError", "authentication failed for user bob from 203.0.113.7", "T6", "authentication failed for user <*> from <*>", False, None, None, None, None, {"user": "bob", "source_ip": "203.0.113.7"}),
    (10.5, "payments", "warning", "security", "AuthenticationError", "authentication failed for user carol from 203.0.113.7", "T6", "authentication failed for user <*> from <*>", False, None, None, None, None, {"user": "carol", "source_ip": "203.0.113.7"}),
    (11.0, "payments", "error", "security", "SecurityViolationError", "locked out 203.0.113.7 after 3 failed logins in 30 s", "T7", "locked out <*> after <*> failed logins in <*> s", False, "lockout", "succeeded", None, 15.0, {"source_ip": "203.0.113.7"}),
    (25.0, "payments", "warning", "security", "PermissionError", "user mallory is not allowed to export /admin/users", "T8", "user <*> is not allowed to export <*>", False, None, None, None, None, {"user": "mallory", "path": "/admin/users"}),
    (40.0, "payments", "warning", "budget", "BudgetError", "budget at 91% of the monthly limit", "T9", "budget at <*> of the monthly limit", False, None, None, None, None, None),
    (41.0, "payments", "warning", "budget", "BudgetError", "budget at 97% of the monthly limit", "T9", "budget at <*> of the monthly limit", False, None, None, None, None, None),
    (42.0, "payments", "critical", "budget", "BudgetExceededError", "monthly budget exhausted", "T10", "monthly budget exhausted", True, None, None, None, None, None),
)  # fmt: skip


def example_store() -> Store:
    """An in-memory store of 19 hand-written events of two services over 42 minutes.

    Checkout has timeouts, a refused connection, a two-event streaming outage at 00:06 and a
    data error; payments has a three-attempt brute-force burst ended by a lockout, an
    authorisation violation and a budget running out (a failure at 00:42).  Used by the
    examples of :mod:`faultcast.analytics`.

    Examples
    --------
    >>> store = example_store()
    >>> store.counts()
    {'events': 19, 'quarantined': 0}
    """
    store = Store(":memory:")
    rows = [
        (
            f"ex-{i}",
            _T0 + timedelta(minutes=minute),
            service,
            f"{service}-1",
            category or "http",
            level,
            category,
            error_type,
            message,
            template_id,
            template,
            None,
            failure,
            action,
            outcome,
            retries,
            ms,
            json.dumps(attrs or {}),
            "example.jsonl",
            i + 1,
            _T0,
        )
        for i, (
            minute,
            service,
            level,
            category,
            error_type,
            message,
            template_id,
            template,
            failure,
            action,
            outcome,
            retries,
            ms,
            attrs,
        ) in enumerate(_ROWS)
    ]
    with store.writing() as con:
        con.executemany(
            "INSERT INTO store.events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        con.execute(
            """INSERT INTO store.patterns
            SELECT template_id, any_value(template), count(*), min(ts), max(ts),
                arg_min(message, ts), max(ingested_at)
            FROM store.events GROUP BY template_id"""
        )
    return store
