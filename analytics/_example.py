"""A tiny hand-written store for examples: the docstrings and docs/analytics.md run on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from faultcast.ingest import Store
from faultcast.ingest.issues import index_events

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


#: Stored failure predictions (5 min horizon, threshold 0.5), one per service and minute from
#: 00:01 to 00:42: (service, minute, probability) where it is not the service's usual low one.
_RISKS: Final[dict[tuple[str, int], float]] = {
    ("checkout", 2): 0.3,
    ("checkout", 3): 0.8,  # an alert from 00:03 to 00:05: the outage at 00:06, 3 min ahead
    ("checkout", 4): 0.8,
    ("checkout", 5): 0.8,
    ("checkout", 20): 0.6,  # a false alarm
    ("checkout", 21): 0.6,
    ("payments", 12): 0.7,  # a false alarm
    ("payments", 39): 0.4,
    ("payments", 40): 0.9,  # an alert at 00:40-00:41: the budget failure at 00:42, 2 min ahead
    ("payments", 41): 0.9,
}
_USUAL_RISK: Final[dict[str, float]] = {"checkout": 0.1, "payments": 0.05}


def _prediction_rows() -> list[tuple[Any, ...]]:
    rows = []
    for service, usual in _USUAL_RISK.items():
        for minute in range(1, 43):
            probability = _RISKS.get((service, minute), usual)
            made_at = _T0 + timedelta(minutes=minute)
            explanation = (
                json.dumps([{"feature": "errors_5", "value": 2.0, "contribution": 0.4}])
                if minute == 42
                else None
            )
            rows.append(
                (
                    "unit",
                    "service",
                    service,
                    made_at - timedelta(minutes=1),
                    made_at,
                    300.0,
                    probability,
                    0.5,
                    probability >= 0.5,
                    0.0,
                    "unit_failure",
                    1,
                    explanation,
                )
            )
    return rows


def example_store() -> Store:
    """An in-memory store of 19 hand-written events of two services over 42 minutes.

    Checkout has timeouts, a refused connection, a two-event streaming outage at 00:06 and a
    data error; payments has a three-attempt brute-force burst ended by a lockout, an
    authorisation violation and a budget running out (a failure at 00:42).  Used by the
    examples of :mod:`faultcast.analytics`.  It also holds a failure prediction per service
    and minute (horizon 5 min, threshold 0.5) with two alerts that caught the two failures
    (3 and 2 min ahead) and two false alarms (checkout at 00:20, payments at 00:12).

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
            "INSERT INTO store.events (event_id, ts, service, host, component, level, category, "
            "error_type, message, template_id, template, session_key, failure, recovery_action, "
            "recovery_outcome, retry_count, recovery_ms, attrs, source, source_offset, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        con.execute(
            """INSERT INTO store.patterns
            SELECT template_id, any_value(template), count(*), min(ts), max(ts),
                arg_min(message, ts), max(ingested_at)
            FROM store.events GROUP BY template_id"""
        )
        con.executemany(
            "INSERT INTO store.predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _prediction_rows(),
        )
        index_events(con)  # the issues of these events (ingest keeps them at each commit)
    return store
