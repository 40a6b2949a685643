"""Security: authentication failures, authorisation violations, incidents and the response to them.

Security events (category ``security``) are of one of four kinds, decided in this order from
the error type and the event's pattern (its template: the message with the variable parts
masked, so these rules read the same words as the message without reading every message):

1. ``response``: a notice that something was done about an attack, such as a lockout (the
   pattern says ``locked out`` / ``lockout``);
2. ``authentication``: the error type names an authentication problem (authentication, login,
   credential, password, token, JWT, unauthorised);
3. ``authorization``: the error type names an access problem (permission, forbidden, access
   denied, authorisation, security violation, scope, CSRF);
4. failing both, the pattern decides with the same words (``login failed``, ``not allowed``,
   ``permission denied``...), else ``other``.

An *incident* is a run of security events against one service from one actor (the
``source_ip`` of the event (a column that ingest fills from the attribute), else its ``user``, else its session key; an event with
none of them is an incident of its own, with no actor) with no gap longer than ``gap`` (5 minutes by default).  It is *responded to* at
the first successful recovery among its events (a lockout, rotated credentials...), and the
*time to respond* runs from its first event to the end of that recovery (its ``recovery_ms``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._recovery import _success
from faultcast.analytics._sql import (
    COUNT,
    FLOAT,
    TEXT,
    TIME,
    By,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    bucket_seconds,
    columns_sql,
    group_by,
    grouped,
    grouping,
    order_by,
    parse_duration,
    per_minute,
    read,
)

#: Who acted: the columns ingest fills from the attributes of the same name (a row written
#: without them, by an older writer, falls back to its attrs).
#: (The attribute is read only where its name occurs in attrs: no JSON parse otherwise.)
_SOURCE_IP: Final[str] = (
    "coalesce(source_ip, CASE WHEN contains(attrs::VARCHAR, '\"source_ip\"') "
    "THEN attrs->>'source_ip' END)"
)
_USER: Final[str] = (
    "coalesce(\"user\", CASE WHEN contains(attrs::VARCHAR, '\"user\"') THEN attrs->>'user' END)"
)


def _actor_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The SQL of an event's source address and user: the columns, or only the attributes in
    a store that has no such columns yet (written by an older faultcast, opened read-only)."""
    try:
        con.execute('SELECT source_ip, "user" FROM store.events LIMIT 0')
    except duckdb.Error:
        return "attrs->>'source_ip'", "attrs->>'user'"
    return _SOURCE_IP, _USER


#: A message reporting a response to an attack, not an attack.
RESPONSE_MESSAGE: Final[str] = r"(?i)\block(ed)?[ -]?out\b"
AUTHENTICATION_TYPE: Final[str] = (
    r"(?i)authenticat|login|logon|signin|credential|password|passwd|token|jwt|unauthori[sz]ed"
)
AUTHORIZATION_TYPE: Final[str] = (
    r"(?i)permission|forbidden|accessdenied|access_denied|authori[sz]ation|securityviolation|scope|csrf"
)
AUTHENTICATION_MESSAGE: Final[str] = (
    r"(?i)authenticat\w* fail|log ?in fail|failed log ?in|invalid (password|credentials|token)"
    r"|bad credentials|brute.?force|unauthori[sz]ed"
)
AUTHORIZATION_MESSAGE: Final[str] = (
    r"(?i)not allowed|forbidden|permission denied|access denied|lacks? (scope|permission|role)"
    r"|authori[sz]ation (violation|denied|failed)"
)


def security_kind_sql(q: Sql) -> str:
    """The SQL expression of an event's security kind (NULL for non-security events)."""
    message = "coalesce(template, '')"
    error_type = "coalesce(error_type, '')"
    return f"""(CASE
        WHEN category IS DISTINCT FROM 'security' THEN NULL
        WHEN regexp_matches({message}, {q.param(RESPONSE_MESSAGE)}) THEN 'response'
        WHEN regexp_matches({error_type}, {q.param(AUTHENTICATION_TYPE)}) THEN 'authentication'
        WHEN regexp_matches({error_type}, {q.param(AUTHORIZATION_TYPE)}) THEN 'authorization'
        WHEN regexp_matches({message}, {q.param(AUTHENTICATION_MESSAGE)}) THEN 'authentication'
        WHEN regexp_matches({message}, {q.param(AUTHORIZATION_MESSAGE)}) THEN 'authorization'
        ELSE 'other' END)"""


def _scope(
    since: TimeLike, until: TimeLike, service: Values, host: Values, component: Values
) -> Scope:
    return Scope(since, until, service, host, component, category="security")


def authentication_failure_rate(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "service",
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """Authentication failures per minute, with how many source addresses and users tried.

    Successful logins are not events, so the rate is per minute of the window (or of the
    bucket): ``since`` (else the store's first event) to ``until`` (else its last), at least
    one minute.  See the module docstring for what counts as an authentication failure.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``auth_failures``
        (int64), ``per_minute`` (float64), ``source_ips`` and ``users`` (int64: distinct
        ``source_ip`` / ``user`` attributes); the most failures first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, authentication_failure_rate
    >>> print(authentication_failure_rate(example_store()).to_string(index=False))
     service  auth_failures  per_minute  source_ips  users
    payments              3    0.071429           1      3
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = _scope(since, until, service, host, component)
    schema = [
        *grouped(columns, width is not None),
        ("auth_failures", COUNT),
        ("per_minute", FLOAT),
        ("source_ips", COUNT),
        ("users", COUNT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        source_ip, user = _actor_sql(con)
        window = scope.window(con)
        where = scope.where(q, window)
        kind = security_kind_sql(q)
        minutes = per_minute(q, con, window, width)
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        sql = f"""
            SELECT {lead}{columns_sql(columns)}
                count(*) AS auth_failures,
                count(*) / {minutes} AS per_minute,
                count(DISTINCT {source_ip}) AS source_ips,
                count(DISTINCT {user}) AS users
            FROM store.events
            WHERE {where} AND {kind} = 'authentication'
            {group_by(columns, b is not None)}
            {order_by(columns, b is not None, "auth_failures DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)


def authorization_violations(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "service",
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """How many authorisation violations there were (someone did what they may not do).

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``violations`` (int64),
        ``users`` (int64: distinct ``user`` attributes); the most violations first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, authorization_violations
    >>> print(authorization_violations(example_store()).to_string(index=False))
     service  violations  users
    payments           1      1
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = _scope(since, until, service, host, component)
    schema = [*grouped(columns, width is not None), ("violations", COUNT), ("users", COUNT)]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        _, user = _actor_sql(con)
        where = scope.where(q, scope.window(con))
        kind = security_kind_sql(q)
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        sql = f"""
            SELECT {lead}{columns_sql(columns)}
                count(*) AS violations,
                count(DISTINCT {user}) AS users
            FROM store.events
            WHERE {where} AND {kind} = 'authorization'
            {group_by(columns, b is not None)}
            {order_by(columns, b is not None, "violations DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)


def security_recovery_success(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "recovery_action",
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """:func:`~faultcast.analytics.recovery_success` of security events (by action by default).

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``attempts``,
        ``succeeded``, ``failed`` (int64), ``success_rate`` (float64).

    Examples
    --------
    >>> from faultcast.analytics import example_store, security_recovery_success
    >>> print(security_recovery_success(example_store()).to_string(index=False))
    recovery_action  attempts  succeeded  failed  success_rate
            lockout         1          1       0           1.0
    """
    scope = Scope(since, until, service, host, component, None, "security", error_type)
    return _success(source, scope, grouping(by), bucket_seconds(bucket))


_INCIDENT_SCHEMA: Final[list[tuple[str, str]]] = [
    ("service", TEXT),
    ("actor", TEXT),
    ("started", TIME),
    ("ended", TIME),
    ("events", COUNT),
    ("auth_failures", COUNT),
    ("violations", COUNT),
    ("responded", "bool"),
    ("response_action", TEXT),
    ("responded_at", TIME),
    ("time_to_respond_s", FLOAT),
]


def _incidents_sql(
    q: Sql, scope: Scope, con: duckdb.DuckDBPyConnection, gap: str | timedelta, min_events: int
) -> str:
    where = scope.where(q, scope.window(con))
    kind = security_kind_sql(q)
    source_ip, user = _actor_sql(con)
    gap_us = q.param(round(parse_duration(gap, "gap") * 1e6), "BIGINT")
    return f"""
        WITH sec AS (
            SELECT event_id, ts, service, category, template, error_type, recovery_action,
                recovery_outcome, recovery_ms,
                coalesce({source_ip}, {user}, session_key) AS actor
            FROM store.events WHERE {where}
        ), kinds AS (
            -- the kind's expressions once per distinct (category, pattern, type), not per event
            SELECT category, template, error_type, {kind} AS kind
            FROM (SELECT DISTINCT category, template, error_type FROM sec)
        ), keyed AS (
            -- an event without an actor is an incident of its own (event ids are unique)
            SELECT s.*, k.kind, coalesce(s.actor, '#' || s.event_id) AS key
            FROM sec s LEFT JOIN kinds k
                ON s.category IS NOT DISTINCT FROM k.category
                AND s.template IS NOT DISTINCT FROM k.template
                AND s.error_type IS NOT DISTINCT FROM k.error_type
        ), marked AS (
            -- one sort for all actors (a window per actor is slow with many small ones)
            SELECT *, CASE WHEN lag(service) OVER w = service AND lag(key) OVER w = key
                AND ts - lag(ts) OVER w <= to_microseconds({gap_us}) THEN 0 ELSE 1 END AS starts
            FROM keyed WINDOW w AS (ORDER BY service, key, ts, event_id)
        ), numbered AS (
            SELECT *, sum(starts) OVER (
                ORDER BY service, key, ts, event_id ROWS UNBOUNDED PRECEDING
            ) AS incident
            FROM marked
        ), incidents AS (
            SELECT any_value(service) AS service, any_value(actor) AS actor, incident,
                min(ts) AS started, max(ts) AS ended, count(*) AS events,
                count(*) FILTER (WHERE kind = 'authentication') AS auth_failures,
                count(*) FILTER (WHERE kind = 'authorization') AS violations,
                min(ts) FILTER (WHERE recovery_outcome = 'succeeded') AS responded_at,
                arg_min(recovery_action, ts) FILTER (WHERE recovery_outcome = 'succeeded')
                    AS response_action,
                arg_min(recovery_ms, ts) FILTER (WHERE recovery_outcome = 'succeeded')
                    AS response_ms
            FROM numbered GROUP BY incident
            HAVING count(*) >= {q.param(int(min_events), "BIGINT")}
        )
        SELECT service, actor, started, ended, events, auth_failures, violations,
            responded_at IS NOT NULL AS responded, response_action, responded_at,
            epoch(responded_at - started) + coalesce(response_ms, 0) / 1000 AS time_to_respond_s
        FROM incidents
    """


def security_incidents(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    gap: str | timedelta = "5m",
    min_events: int = 1,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """One row per security incident (see the module docstring), the latest first.

    ``min_events`` drops incidents with fewer events (``min_events=10`` keeps bursts only).

    Returns
    -------
    DataFrame
        ``service``, ``actor`` (str: the source address, user or session; NaN when none),
        ``started``, ``ended`` (datetime64[us, UTC]), ``events``, ``auth_failures``,
        ``violations`` (int64), ``responded`` (bool), ``response_action`` (str),
        ``responded_at`` (datetime64[us, UTC]), ``time_to_respond_s`` (float64: NaN when
        not responded to).

    Examples
    --------
    >>> from faultcast.analytics import example_store, security_incidents
    >>> incidents = security_incidents(example_store())
    >>> print(incidents[["actor", "events", "auth_failures", "responded",
    ...                  "response_action", "time_to_respond_s"]].to_string(index=False))
          actor  events  auth_failures  responded response_action  time_to_respond_s
        mallory       1              0      False             NaN                NaN
    203.0.113.7       4              3       True         lockout             60.015
    """
    scope = _scope(since, until, service, host, component)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        sql = _incidents_sql(q, scope, con, gap, min_events)
        return q.run(con, sql + " ORDER BY started DESC, service, actor")

    return read(source, _INCIDENT_SCHEMA, query)


def security_response_time(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "service",
    gap: str | timedelta = "5m",
    min_events: int = 1,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """How fast security incidents were responded to (see :func:`security_incidents`).

    ``by`` is ``"service"`` or None (all incidents together).

    Returns
    -------
    DataFrame
        the ``by`` columns (str), ``incidents``, ``responded`` (int64), ``response_rate``
        (float64: responded / incidents), ``mean_s``, ``p50_s``, ``p95_s``, ``max_s``
        (float64: time to respond in seconds, of those responded to); the most incidents
        first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, security_response_time
    >>> print(security_response_time(example_store()).to_string(index=False))
     service  incidents  responded  response_rate  mean_s  p50_s  p95_s  max_s
    payments          2          1            0.5  60.015 60.015 60.015 60.015
    """
    columns = grouping(by, allowed=("service",))
    scope = _scope(since, until, service, host, component)
    schema = [
        *grouped(columns, False),
        ("incidents", COUNT),
        ("responded", COUNT),
        ("response_rate", FLOAT),
        ("mean_s", FLOAT),
        ("p50_s", FLOAT),
        ("p95_s", FLOAT),
        ("max_s", FLOAT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        incidents = _incidents_sql(q, scope, con, gap, min_events)
        sql = f"""
            SELECT {columns_sql(columns)}
                count(*) AS incidents,
                count(*) FILTER (WHERE responded) AS responded,
                count(*) FILTER (WHERE responded) / count(*) AS response_rate,
                avg(time_to_respond_s) AS mean_s,
                quantile_cont(time_to_respond_s, 0.5) AS p50_s,
                quantile_cont(time_to_respond_s, 0.95) AS p95_s,
                max(time_to_respond_s) AS max_s
            FROM ({incidents}) AS i
            {group_by(columns, False)}
            {order_by(columns, False, "incidents DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)
