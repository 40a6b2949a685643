"""Issues: errors grouped by fingerprint (kept at ingest, see :mod:`faultcast.ingest.issues`),
their sample events and their status changes; and the one write the dashboard makes, an
issue's status.

Several shards read as one: an issue stored in more than one shard reads as one row (counts
summed, first seen the earliest, last seen the latest, the status most recently changed).  An
issue ignored until a time that has passed reads as ``open`` (the next commit records the
change).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    TEXT,
    TIME,
    Source,
    Sql,
    TimeLike,
    Values,
    _values,
    read,
)
from faultcast.ingest.durations import resolve_time
from faultcast.ingest.durations import utc as _utc
from faultcast.ingest.issues import ISSUE_STATUSES, UnknownIssueError
from faultcast.ingest.issues import set_issue_status as _set_issue_status
from faultcast.ingest.opening import open_store, writable

__all__ = ["issue", "issue_changes", "issues", "set_issue_status"]

#: How ``issues`` sorts: newest last seen, most events, or rising fastest.
SORTS: Final[tuple[str, ...]] = ("last_seen", "count", "trend")
#: Hours in an issue's trend (events per hour, oldest first, ending at its last event).
TREND_HOURS: Final[int] = 24
#: Sample events ``issue`` returns.
SAMPLE_EVENTS: Final[int] = 10

_ISSUES_SCHEMA: Final[list[tuple[str, str]]] = [
    ("id", TEXT),
    ("title", TEXT),
    ("status", TEXT),
    ("count", COUNT),
    ("first_seen", TIME),
    ("last_seen", TIME),
    ("service", TEXT),
    ("error_type", TEXT),
    ("level", TEXT),
    ("sessions", COUNT),
    ("users", COUNT),
    ("first_release", TEXT),
    ("last_release", TEXT),
    ("trend", "object"),
    ("recovery", TEXT),
    ("recovery_success", "float64"),
    ("template_id", TEXT),
    ("template", TEXT),
    ("fingerprint", TEXT),
    ("status_changed_at", TIME),
    ("resolved_at", TIME),
    ("resolved_in_release", TEXT),
    ("ignore_until", TIME),
    ("ignore_until_count", "Int64"),
]

_CHANGES_SCHEMA: Final[list[tuple[str, str]]] = [
    ("id", TEXT),
    ("at", TIME),
    ("from_status", TEXT),
    ("to_status", TEXT),
    ("actor", TEXT),
    ("reason", TEXT),
]

_EVENT_SAMPLE_COLUMNS: Final[tuple[str, ...]] = (
    "event_id",
    "ts",
    "service",
    "host",
    "level",
    "error_type",
    "message",
    "traceback",
    "session_key",
    "release",
)

#: One row per issue (shards may each hold a part of one).
_MERGED = """
SELECT issue_id, arg_max(title, last_seen) AS title,
    CASE WHEN arg_max(status, status_changed_at) = 'ignored'
        AND arg_max(ignore_until, status_changed_at) <= now() THEN 'open'
        ELSE arg_max(status, status_changed_at) END AS status,
    sum(count)::BIGINT AS count,
    min(first_seen) AS first_seen, max(last_seen) AS last_seen,
    list_sort(list_distinct(flatten(list(services)))) AS services,
    arg_max(error_type, last_seen) AS error_type,
    list_extract({levels}, max(list_position({levels}, level))) AS level,
    sum(sessions)::BIGINT AS sessions, sum(users)::BIGINT AS users,
    arg_min(first_release, first_seen) AS first_release,
    arg_max(last_release, last_seen) AS last_release,
    arg_max(template_id, last_seen) AS template_id, arg_max(template, last_seen) AS template,
    any_value(fingerprint) AS fingerprint, max(status_changed_at) AS status_changed_at,
    arg_max(resolved_at, status_changed_at) AS resolved_at,
    arg_max(resolved_in_release, status_changed_at) AS resolved_in_release,
    arg_max(ignore_until, status_changed_at) AS ignore_until,
    arg_max(ignore_until_count, status_changed_at) AS ignore_until_count
FROM store.issues GROUP BY issue_id
""".format(levels="['debug', 'info', 'warning', 'error', 'critical']")


#: How :func:`issues` orders (``trend`` is sorted after the counts are in).
_ORDER: Final[dict[str, str]] = {
    "last_seen": "last_seen DESC, count DESC",
    "count": "count DESC, last_seen DESC",
    "trend": "last_seen DESC",
}


def _best_recoveries(
    outcomes: list[tuple[Any, ...]],
) -> dict[tuple[str, str], tuple[str, float]]:
    """The action with the best share of successes (then the most successes) per issue
    (``("issue", id)``) and per error type (``("type", error_type)``), among those that
    succeeded at least once."""
    tallies: dict[tuple[str, str], dict[str, list[int]]] = {}
    for issue_id, error_type, action, ok, tried in outcomes:
        for key in (("issue", issue_id), ("type", error_type)):
            if key[1] is None:
                continue
            counts = tallies.setdefault(key, {}).setdefault(action, [0, 0])
            counts[0] += int(ok)
            counts[1] += int(tried)
    best: dict[tuple[str, str], tuple[str, float]] = {}
    for key, actions in tallies.items():
        ranked = sorted(
            ((ok / tried, ok, action) for action, (ok, tried) in actions.items() if ok > 0),
            key=lambda r: (-r[0], -r[1], r[2]),
        )
        if ranked:
            best[key] = (ranked[0][2], ranked[0][0])
    return best


def _has_issues(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store' "
            "AND table_name = 'issues'"
        ).fetchall()[0][0]
        or con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE database_name = 'store' "
            "AND view_name = 'issues'"
        ).fetchall()[0][0]
    )


def _latest(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(ts) FROM store.events").fetchall()[0]
    return None if row[0] is None else _utc(row[0])


def _statuses(status: Values) -> list[str]:
    listed = _values("status", status) if status is not None else []
    for s in listed:
        if s not in ISSUE_STATUSES:
            raise ValueError(
                f"status={s!r} is not a status; use one of {', '.join(ISSUE_STATUSES)}"
            )
    return listed


def issues(
    source: Source,
    *,
    status: Values = None,
    service: Values = None,
    since: TimeLike = None,
    until: TimeLike = None,
    sort: str = "last_seen",
    limit: int | None = 100,
    id: Values = None,  # noqa: A002 - the issue id, as the CLI and HTTP API name it
) -> pd.DataFrame:
    """Issues (errors grouped by fingerprint), newest last seen first.

    ``status`` keeps issues with that status (open, resolved, ignored, regressed, or a list);
    ``service`` keeps those seen in that service (or any of a list); ``since`` / ``until``
    keep those with events in ``since <= ts < until`` (durations count back from the latest
    event, as in every metric); ``sort``: ``last_seen`` (default), ``count`` (most events first) or ``trend``
    (rising fastest: events in the last 6 h of the store minus the 6-hour average of the 18 h
    before); ``limit``: at most this many (None for all).

    Returns
    -------
    DataFrame
        ``id``, ``title``, ``status``, ``count`` (int64), ``first_seen``, ``last_seen``
        (datetime64[us, UTC]), ``service`` (the services, comma-joined), ``error_type``,
        ``level`` (the highest seen), ``sessions``, ``users`` (int64, distinct), ``first_release``,
        ``last_release``, ``trend`` (a list of 24 ints: events per hour over the issue's last
        24 h, oldest first), ``recovery`` (the recorded recovery action that succeeded most for
        this issue, else for its error type; None when none is recorded),
        ``recovery_success`` (that action's share of successes, 0..1), ``template_id``,
        ``template``, ``fingerprint``, ``status_changed_at``, ``resolved_at``,
        ``resolved_in_release``, ``ignore_until``, ``ignore_until_count`` (the issue's count
        at which an ignore ends).

    Examples
    --------
    >>> from faultcast.analytics import example_store, issues
    >>> found = issues(example_store(), service="payments", sort="count")
    >>> found[["status", "count", "service"]].head(2)
      status  count   service
    0   open      3  payments
    1   open      2  payments
    """
    if sort not in SORTS:
        raise ValueError(f"sort={sort!r}: sort by one of {', '.join(SORTS)}")
    statuses = _statuses(status)
    services = _values("service", service) if service is not None else None
    ids = _ids(id) if id is not None else None

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_issues(con):
            return None
        q = Sql()
        latest = _latest(con)
        start = resolve_time(since, latest, "since")
        end = resolve_time(until, latest, "until")
        if start is not None and end is not None and end < start:
            raise ValueError(f"until ({end.isoformat()}) is before since ({start.isoformat()})")
        clauses = ["TRUE"]
        if statuses:
            clauses.append(f"status IN ({', '.join(q.param(s, 'VARCHAR') for s in statuses)})")
        if services is not None:
            clauses.append(
                f"list_has_any(services, {q.param(services, 'VARCHAR[]')})" if services else "FALSE"
            )
        if ids is not None:
            clauses.append(
                f"issue_id IN ({', '.join(q.param(i, 'VARCHAR') for i in ids) or 'NULL'})"
            )
        if start is not None:
            clauses.append(f"last_seen >= {q.param(start, 'TIMESTAMPTZ')}")
        if end is not None:
            clauses.append(f"first_seen < {q.param(end, 'TIMESTAMPTZ')}")
        where = " AND ".join(clauses)
        # Three plain queries (one big one spent longer planning than running): the issues,
        # their hourly counts, and the recoveries recorded for them.
        limited = sort != "trend"
        df = q.run(
            con,
            f"""SELECT issue_id AS id, title, status, count, first_seen, last_seen,
                    array_to_string(services, ', ') AS service, error_type, level, sessions,
                    users, first_release, last_release, template_id, template, fingerprint,
                    status_changed_at, resolved_at, resolved_in_release, ignore_until,
                    ignore_until_count
                FROM ({_MERGED}) WHERE {where}
                ORDER BY {_ORDER[sort]}, issue_id {q.limit(limit) if limited else ""}""",
        )
        if df.empty:
            return df.assign(trend=[], recovery=[], recovery_success=[])
        listed = df[["id", "last_seen", "error_type"]].rename(columns={"id": "issue_id"})
        con.register("issues_listed", listed)
        try:
            hourly = con.execute(
                f"""SELECT e.issue_id,
                        {TREND_HOURS - 1} - floor(epoch(l.last_seen - e.ts) / 3600)::INTEGER AS h,
                        count(*) AS n
                    FROM store.events e JOIN issues_listed l USING (issue_id)
                    WHERE e.ts > l.last_seen - INTERVAL {TREND_HOURS} HOUR GROUP BY ALL"""
            ).fetchall()
            outcomes = con.execute(
                """SELECT issue_id, error_type, recovery_action,
                        count(*) FILTER (WHERE recovery_outcome = 'succeeded') AS ok,
                        count(*) FILTER (WHERE recovery_outcome IN ('succeeded', 'failed'))
                    FROM store.events
                    WHERE recovery_action IS NOT NULL AND recovery_outcome IS NOT NULL
                        AND (issue_id IN (SELECT issue_id FROM issues_listed)
                             OR error_type IN (SELECT error_type FROM issues_listed))
                    GROUP BY ALL"""
            ).fetchall()
            rising = dict(
                con.execute(
                    f"""SELECT e.issue_id,
                            count(*) FILTER (WHERE e.ts > $end - INTERVAL 6 HOUR)
                            - count(*) FILTER (WHERE e.ts <= $end - INTERVAL 6 HOUR) / 3.0
                        FROM store.events e JOIN issues_listed l USING (issue_id)
                        WHERE e.ts > $end - INTERVAL {TREND_HOURS} HOUR GROUP BY ALL""",
                    {"end": latest},
                ).fetchall()
                if not limited
                else []
            )
        finally:
            con.unregister("issues_listed")
        trends: dict[str, list[int]] = {i: [0] * TREND_HOURS for i in df["id"]}
        for issue_id, hour, n in hourly:
            if 0 <= hour < TREND_HOURS:
                trends[issue_id][hour] += int(n)
        df["trend"] = [trends[i] for i in df["id"]]
        best = _best_recoveries(outcomes)
        picked = [
            best.get(("issue", i)) or best.get(("type", t))
            for i, t in zip(df["id"], df["error_type"], strict=True)
        ]
        df["recovery"] = [p[0] if p else None for p in picked]
        df["recovery_success"] = [p[1] if p else None for p in picked]
        if not limited:
            df["rising"] = [rising.get(i, 0.0) for i in df["id"]]
            df = df.sort_values(["rising", "last_seen", "id"], ascending=[False, False, True])
            df = df.head(limit) if limit is not None else df
        return df.reset_index(drop=True)

    return read(source, _ISSUES_SCHEMA, query)


def issue_changes(
    source: Source,
    id: Values = None,  # noqa: A002
    *,
    since: datetime | date | timedelta | str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Every status change of the issues (of issue ``id``, or a list of ids), newest first;
    ``since`` keeps changes from then on (a time, or a duration before now).

    Returns
    -------
    DataFrame
        ``id``, ``at`` (datetime64[us, UTC]), ``from_status``, ``to_status``, ``actor`` (the
        OS user, the API key's name, or ``faultcast`` for changes made at ingest), ``reason``.
    """
    ids = _ids(id) if id is not None else None

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_issues(con):
            return None
        q = Sql()
        clauses = ["TRUE"]
        if ids is not None:
            clauses.append(
                f"issue_id IN ({', '.join(q.param(i, 'VARCHAR') for i in ids) or 'NULL'})"
            )
        if since is not None:
            start = resolve_time(since, datetime.now().astimezone(), "since")
            clauses.append(f'"at" >= {q.param(start, "TIMESTAMPTZ")}')
        sql = (
            'SELECT issue_id AS id, "at", from_status, to_status, actor, reason '
            f"FROM store.issue_changes WHERE {' AND '.join(clauses)} "
            f'ORDER BY "at" DESC, rowid DESC {q.limit(limit)}'
        )
        return q.run(con, sql)

    return read(source, _CHANGES_SCHEMA, query)


def issue(source: Source, id: str, *, events: int = SAMPLE_EVENTS) -> dict[str, Any]:  # noqa: A002
    """One issue: the row of :func:`issues` as a dict, plus ``events`` (its latest ``events``
    sample events, newest first, each with ``event_id``, ``ts``, ``service``, ``host``,
    ``level``, ``error_type``, ``message``, ``traceback`` (the traceback text when the event
    has one), ``session_key`` and ``release``) and ``changes`` (its status changes, newest
    first, as in :func:`issue_changes`).  An unknown id raises
    :class:`~faultcast.ingest.issues.UnknownIssueError` (a ``LookupError``).

    Examples
    --------
    >>> from faultcast.analytics import example_store, issue, issues
    >>> store = example_store()
    >>> first = issues(store, sort="count")["id"].iloc[0]
    >>> detail = issue(store, first)
    >>> detail["count"] == len(detail["events"]), detail["changes"]
    (True, [])
    """
    found = issues(source, id=id, limit=1)
    if found.empty:
        raise UnknownIssueError(f"no issue {id!r} in this store (faultcast issues lists them)")
    row = found.iloc[0]
    out: dict[str, Any] = {}
    for name, dtype in _ISSUES_SCHEMA:
        value = row[name]
        if dtype == "object":
            out[name] = list(value)
        elif pd.isna(value):
            out[name] = None
        elif dtype == TIME:
            out[name] = value.to_pydatetime()
        elif dtype in (COUNT, "Int64"):
            out[name] = int(value)
        elif dtype == "float64":
            out[name] = float(value)
        else:
            out[name] = str(value)
    key = out["id"]
    with source.reading() as con:
        tb = (
            "CASE WHEN json_type(attrs, '$.exception') = 'VARCHAR' THEN attrs ->> '$.exception' "
            "WHEN json_type(attrs, '$.exc_info') = 'VARCHAR' THEN attrs ->> '$.exc_info' "
            "WHEN json_type(attrs, '$.exception') = 'ARRAY' THEN (attrs -> '$.exception')::VARCHAR "
            "WHEN json_type(attrs, '$.frames') = 'ARRAY' THEN (attrs -> '$.frames')::VARCHAR "
            "WHEN contains(message, 'Traceback (most recent call last)') THEN message END"
        )
        release = (
            "coalesce(attrs ->> '$.release', attrs ->> '$.\"service.version\"', "
            "attrs ->> '$.service_version', attrs ->> '$.version', "
            "attrs ->> '$.resource.\"service.version\"')"
        )
        sample = con.execute(
            f"""SELECT event_id, ts, service, host, level, error_type, message, {tb} AS traceback,
                   session_key, {release} AS release
                FROM store.events WHERE issue_id = $id
                ORDER BY ts DESC, source_offset DESC LIMIT $n""",
            {"id": key, "n": int(events)},
        ).fetchall()
    out["events"] = [
        {
            name: (_utc(value) if name == "ts" and value is not None else value)
            for name, value in zip(_EVENT_SAMPLE_COLUMNS, r, strict=True)
        }
        for r in sample
    ]
    changes = issue_changes(source, key)
    out["changes"] = [
        {
            k: (None if pd.isna(v) else (v.to_pydatetime() if k == "at" else str(v)))
            for k, v in c.items()
        }
        for c in changes.to_dict("records")
    ]
    return out


def set_issue_status(
    store: Any,
    id: str,  # noqa: A002
    status: str,
    *,
    actor: str | None = None,
    reason: str | None = None,
    until: datetime | date | timedelta | str | float | None = None,
    until_count: int | None = None,
    in_next_release: bool = False,
    lock_timeout: float = 30.0,
) -> dict[str, Any]:
    """Set an issue's status (``open``, ``resolved``, ``ignored``) and record who did it: the
    one write the dashboard makes (it may not import :mod:`faultcast.ingest`).

    ``store`` is a store path, a :class:`~faultcast.ingest.Store`, or what
    :func:`~faultcast.analytics.open_source` returned for one path.  The write is one short
    transaction that waits out another writer (ingest, ``serve``) for up to ``lock_timeout``
    seconds, like every writer.  See :func:`faultcast.ingest.issues.set_issue_status` for
    the options; returns the issue's new state.
    """
    if isinstance(store, (str, os.PathLike)):
        opened = open_store(store, lock_timeout=lock_timeout)
        try:
            return set_issue_status(
                opened, id, status, actor=actor, reason=reason, until=until,
                until_count=until_count, in_next_release=in_next_release,
            )  # fmt: skip
        finally:
            opened.close()
    target = writable(store, "change an issue's status")
    return _set_issue_status(
        target, id, status, actor=actor, reason=reason, until=until,
        until_count=until_count, in_next_release=in_next_release,
    )  # fmt: skip


def _ids(value: str | Sequence[str]) -> list[str]:
    return [i.strip().upper() for i in _values("id", value)]
