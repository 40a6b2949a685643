"""Alerts as stored by :mod:`faultcast.alerts`: the alerts, their history, silences; and the
quarantine's recent activity against its usual rate (the quarantine-spike rule reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLAG,
    FLOAT,
    TEXT,
    TIME,
    Source,
    Sql,
    TimeLike,
    Values,
    _values,
    parse_duration,
    read,
)
from faultcast.ingest.durations import resolve_time, utc

#: The states of an alert, in the order of its life.
STATES: Final[tuple[str, ...]] = ("pending", "firing", "resolved")

_ALERTS_SCHEMA: Final[list[tuple[str, str]]] = [
    ("id", TEXT),
    ("rule", TEXT),
    ("unit", TEXT),
    ("pattern", TEXT),
    ("state", TEXT),
    ("severity", TEXT),
    ("summary", TEXT),
    ("value", FLOAT),
    ("threshold", FLOAT),
    ("active_since", TIME),
    ("fired_at", TIME),
    ("resolved_at", TIME),
    ("evaluated_at", TIME),
    ("notified_at", TIME),
    ("notifications", COUNT),
    ("acknowledged_at", TIME),
    ("acknowledged_by", TEXT),
    ("silenced", FLAG),
    ("details", TEXT),
]

_HISTORY_SCHEMA: Final[list[tuple[str, str]]] = [
    ("alert_id", TEXT),
    ("ts", TIME),
    ("event", TEXT),
    ("target", TEXT),
    ("target_id", TEXT),
    ("ok", FLAG),
    ("detail", TEXT),
]

_SILENCES_SCHEMA: Final[list[tuple[str, str]]] = [
    ("id", TEXT),
    ("rule", TEXT),
    ("unit", TEXT),
    ("starts_at", TIME),
    ("ends_at", TIME),
    ("comment", TEXT),
    ("created_by", TEXT),
    ("created_at", TIME),
    ("active", "bool"),
]

_QUARANTINE_ACTIVITY_SCHEMA: Final[list[tuple[str, str]]] = [
    ("recent_count", COUNT),
    ("baseline_per_window", FLOAT),
    ("window_start", TIME),
    ("window_end", TIME),
    ("top_reasons", TEXT),
]


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store' AND table_name = ?",
        [table],
    ).fetchall()[0][0]
    return bool(found)


def _at(value: TimeLike) -> datetime:
    """A point in time for the silences (default: now, the wall clock)."""
    now = datetime.now().astimezone()
    at: datetime | None = resolve_time(value, now, "at")
    return utc(now) if at is None else at


def _in(q: Sql, column: str, name: str, values: str | Sequence[str]) -> str:
    items = _values(name, values)
    return f"{column} IN ({', '.join(q.param(v, 'VARCHAR') for v in items) or 'NULL'})"


def alerts(
    source: Source,
    *,
    state: Values = None,
    rule: Values = None,
    unit: Values = None,
    since: TimeLike = None,
    at: TimeLike = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The alerts (``faultcast alerts``, ``GET /v1/alerts``): open ones first (firing, then
    pending), then the resolved, the newest first.

    ``state`` keeps ``pending``, ``firing`` or ``resolved`` (or a list of them); ``rule`` and
    ``unit`` keep those; ``since`` keeps alerts active at or after that time (a time, or a
    duration before now).  ``silenced`` says whether a silence covers the alert at ``at``
    (default: now).

    Returns
    -------
    DataFrame
        ``id``, ``rule``, ``unit``, ``pattern`` (str: the key; ``""`` where a rule has no
        unit or pattern), ``state``, ``severity``, ``summary`` (str), ``value``,
        ``threshold`` (float64: what was measured and the bar it crossed), ``active_since``
        (when the condition was first seen), ``fired_at``, ``resolved_at``, ``evaluated_at``,
        ``notified_at`` (datetime64[us, UTC]), ``notifications`` (int64),
        ``acknowledged_at`` (datetime64[us, UTC]), ``acknowledged_by`` (str), ``silenced``
        (boolean), ``details`` (str: JSON: what, where, how sure, why).

    Examples
    --------
    >>> from faultcast.analytics import alerts, example_store
    >>> alerts(example_store()).empty
    True
    """
    if state is not None:
        for s in _values("state", state):
            if s not in STATES:
                raise ValueError(f"state {s!r} is not one of {', '.join(STATES)}")
    moment = _at(at)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has(con, "alerts"):
            return None
        q = Sql()
        at_p = q.param(moment, "TIMESTAMPTZ")
        clauses = ["TRUE"]
        if state is not None:
            clauses.append(_in(q, "a.state", "state", state))
        if rule is not None:
            clauses.append(_in(q, "a.rule", "rule", rule))
        if unit is not None:
            clauses.append(_in(q, "a.unit", "unit", unit))
        if since is not None:
            start = resolve_time(since, datetime.now().astimezone(), "since")
            clauses.append(
                f"coalesce(a.resolved_at, a.evaluated_at) >= {q.param(start, 'TIMESTAMPTZ')}"
            )
        sql = f"""
            SELECT a.id, a.rule, a.unit, a.pattern, a.state, a.severity, a.summary, a.value,
                a.threshold, a.active_since, a.fired_at, a.resolved_at, a.evaluated_at,
                a.notified_at, coalesce(a.notifications, 0) AS notifications,
                a.acknowledged_at, a.acknowledged_by,
                EXISTS (SELECT 1 FROM store.alert_silences s
                        WHERE (s.rule IS NULL OR s.rule = a.rule)
                          AND (s.unit IS NULL OR s.unit = a.unit)
                          AND s.starts_at <= {at_p} AND s.ends_at > {at_p}) AS silenced,
                CAST(a.details AS VARCHAR) AS details
            FROM store.alerts a
            WHERE {" AND ".join(clauses)}
            ORDER BY CASE a.state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,
                coalesce(a.resolved_at, a.fired_at, a.active_since) DESC, a.id
            {q.limit(limit)}
        """
        return q.run(con, sql)

    return read(source, _ALERTS_SCHEMA, query)


def alert_history(
    source: Source, *, alert_id: Values = None, limit: int | None = None
) -> pd.DataFrame:
    """What happened to alerts, oldest first: each change of state (``pending``, ``firing``,
    ``resolved``, ``acknowledged``) and each notification attempt (``notified``: ``target``
    is the notifier's URL with its secrets masked, ``ok`` whether it was delivered,
    ``detail`` JSON with the kind (``firing``, ``renotify``, ``resolved``) and any error).

    Returns
    -------
    DataFrame
        ``alert_id``, ``ts`` (when), ``event``, ``target``, ``target_id``, ``ok``, ``detail``.

    Examples
    --------
    >>> from faultcast.analytics import alert_history, example_store
    >>> list(alert_history(example_store()).columns)[:3]
    ['alert_id', 'ts', 'event']
    """

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has(con, "alert_history"):
            return None
        q = Sql()
        where = "TRUE" if alert_id is None else _in(q, "alert_id", "alert_id", alert_id)
        sql = f"""SELECT alert_id, ts, event, target, target_id, ok,
                      CAST(detail AS VARCHAR) AS detail
                  FROM store.alert_history WHERE {where}
                  ORDER BY ts, alert_id {q.limit(limit)}"""
        return q.run(con, sql)

    return read(source, _HISTORY_SCHEMA, query)


def alert_silences(
    source: Source, *, active: bool = False, at: TimeLike = None, limit: int | None = None
) -> pd.DataFrame:
    """Silences, the latest ending first; ``active=True`` keeps those in force at ``at``
    (default: now).  A silence with ``rule`` None matches every rule, ``unit`` None every unit.

    Returns
    -------
    DataFrame
        ``id``, ``rule``, ``unit`` (str), ``starts_at``, ``ends_at`` (datetime64[us, UTC]),
        ``comment``, ``created_by`` (str), ``created_at`` (datetime64[us, UTC]), ``active``
        (bool: in force at ``at``).

    Examples
    --------
    >>> from faultcast.analytics import alert_silences, example_store
    >>> alert_silences(example_store(), active=True).empty
    True
    """
    moment = _at(at)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has(con, "alert_silences"):
            return None
        q = Sql()
        at_p = q.param(moment, "TIMESTAMPTZ")
        in_force = f"(starts_at <= {at_p} AND ends_at > {at_p})"
        sql = f"""SELECT id, rule, unit, starts_at, ends_at, comment, created_by, created_at,
                      {in_force} AS active
                  FROM store.alert_silences WHERE {in_force if active else "TRUE"}
                  ORDER BY ends_at DESC, id {q.limit(limit)}"""
        return q.run(con, sql)

    return read(source, _SILENCES_SCHEMA, query)


def quarantine_activity(
    source: Source,
    *,
    until: TimeLike = None,
    window: str | timedelta = "1h",
    baseline_windows: int = 24,
    top: int = 3,
) -> pd.DataFrame:
    """Lines quarantined in the ``window`` ending at ``until`` (default: now; by the time they
    were ingested) against the mean per window over the ``baseline_windows`` windows before:
    one row with ``recent_count`` (int64), ``baseline_per_window`` (float64),
    ``window_start``, ``window_end`` (datetime64[us, UTC]) and ``top_reasons`` (str: JSON
    ``[[reason, count], ...]`` of the window, the most frequent first).

    Examples
    --------
    >>> from faultcast.analytics import example_store, quarantine_activity
    >>> int(quarantine_activity(example_store())["recent_count"].iloc[0])
    0
    """
    seconds = parse_duration(window, "window")
    if baseline_windows < 1:
        raise ValueError(f"baseline_windows must be at least 1, not {baseline_windows!r}")
    end = _at(until)
    start = end - timedelta(seconds=seconds)
    base_start = start - timedelta(seconds=seconds * baseline_windows)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        s, e, b = (q.param(t, "TIMESTAMPTZ") for t in (start, end, base_start))
        n = q.param(int(baseline_windows), "BIGINT")
        sql = f"""
            WITH recent AS (
                SELECT reason, count(*) AS n FROM store.quarantine
                WHERE ingested_at > {s} AND ingested_at <= {e} GROUP BY reason
            ), top AS (
                SELECT to_json(list([reason, CAST(n AS VARCHAR)] ORDER BY n DESC, reason)
                               [1:{q.param(int(top), "BIGINT")}]) AS top_reasons
                FROM recent
            )
            SELECT
                (SELECT coalesce(sum(n), 0) FROM recent) AS recent_count,
                (SELECT count(*) FROM store.quarantine
                 WHERE ingested_at > {b} AND ingested_at <= {s}) / {n}::DOUBLE
                    AS baseline_per_window,
                {s} AS window_start, {e} AS window_end,
                coalesce(CAST((SELECT top_reasons FROM top) AS VARCHAR), '[]') AS top_reasons
        """
        return q.run(con, sql)

    return read(source, _QUARANTINE_ACTIVITY_SCHEMA, query)
