"""Tiny stores built in the test: events written row by row, so expected values can be worked
out by hand."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faultcast.ingest import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)

#: Injection attempts used as filter values: they must match nothing and break nothing.
INJECTIONS = ("x' OR '1'='1", "'; DROP TABLE events; --", "api') OR TRUE --", '" OR 1=1 --')


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(
    minute: float,
    service: str = "api",
    level: str = "info",
    *,
    category: str | None = None,
    error_type: str | None = None,
    message: str = "ok",
    template_id: str = "T1",
    template: str | None = None,
    failure: bool = False,
    action: str | None = None,
    outcome: str | None = None,
    retries: int | None = None,
    ms: float | None = None,
    attrs: dict[str, Any] | None = None,
    host: str | None = None,
    component: str | None = None,
    session_key: str | None = None,
) -> dict[str, Any]:
    """One event row; an error type or a level of warning or worse without a category gets
    ``unknown``, as ingest would, and the template is the message unless given."""
    if category is None and (error_type or level in ("warning", "error", "critical")):
        category = "unknown"
    return {
        "ts": at(minute),
        "service": service,
        "host": host or f"{service}-1",
        "component": component,
        "level": level,
        "category": category,
        "error_type": error_type,
        "message": message,
        "template_id": template_id,
        "template": template or message,
        "session_key": session_key,
        "failure": failure,
        "recovery_action": action,
        "recovery_outcome": outcome,
        "retry_count": retries,
        "recovery_ms": ms,
        "attrs": json.dumps(attrs or {}),
    }


def build(rows: Sequence[dict[str, Any]], store: Store | None = None) -> Store:
    """A store holding ``rows`` (and the patterns table that ingest would keep for them)."""
    store = store or Store(":memory:")
    names = list(rows[0]) if rows else []
    with store.writing() as con:
        if rows:
            con.executemany(
                f"INSERT INTO store.events (event_id, source, source_offset, ingested_at, "
                f"{', '.join(names)}) VALUES (?, 'test', ?, ?, {', '.join('?' for _ in names)})",
                [[f"e{i}", i + 1, T0, *(row[n] for n in names)] for i, row in enumerate(rows)],
            )
        con.execute("DELETE FROM store.patterns")
        con.execute(
            """INSERT INTO store.patterns
            SELECT template_id, any_value(template), count(*), min(ts), max(ts),
                arg_min(message, ts), now()
            FROM store.events GROUP BY template_id"""
        )
    return store


@pytest.fixture
def make_store() -> Callable[[Sequence[dict[str, Any]]], Store]:
    return build
