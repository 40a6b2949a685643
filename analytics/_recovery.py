"""How recoveries go: success rate by action and category, recovery time, retry attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLOAT,
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
    read,
)

#: An event records a recovery attempt when it names a recovery action.
IS_RECOVERY = "recovery_action IS NOT NULL"

_SUCCESS_COLUMNS = (
    "count(*) AS attempts, "
    "count(*) FILTER (WHERE recovery_outcome = 'succeeded') AS succeeded, "
    "count(*) FILTER (WHERE recovery_outcome = 'failed') AS failed, "
    "succeeded / nullif(succeeded + failed, 0) AS success_rate"
)


def _success(
    source: Source,
    scope: Scope,
    columns: Sequence[str],
    width: float | None,
    extra: str = "TRUE",
) -> pd.DataFrame:
    schema = [
        *grouped(columns, width is not None),
        ("attempts", COUNT),
        ("succeeded", COUNT),
        ("failed", COUNT),
        ("success_rate", FLOAT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        sql = f"""
            SELECT {lead}{columns_sql(columns)}{_SUCCESS_COLUMNS}
            FROM store.events
            WHERE {IS_RECOVERY} AND {extra} AND {where}
            {group_by(columns, b is not None)}
            {order_by(columns, b is not None, "attempts DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)


def recovery_success(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = ("recovery_action", "category"),
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
) -> pd.DataFrame:
    """Recovery attempts and how many worked, by action x category (default).

    A recovery attempt is an event with a ``recovery_action``.  ``success_rate`` is
    succeeded / (succeeded + failed): attempts without a recorded outcome count in
    ``attempts`` only.  Parameters as in :func:`~faultcast.analytics.error_frequency`.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``attempts``,
        ``succeeded``, ``failed`` (int64), ``success_rate`` (float64, NaN without outcomes);
        the most attempts first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, recovery_success
    >>> print(recovery_success(example_store()).to_string(index=False))
    recovery_action      category  attempts  succeeded  failed  success_rate
            restart     streaming         2          1       1           0.5
              retry communication         2          1       1           0.5
           failover communication         1          1       0           1.0
           fallback          data         1          1       0           1.0
            lockout      security         1          1       0           1.0
    """
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    return _success(source, scope, grouping(by), bucket_seconds(bucket))


def recovery_time(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "recovery_action",
    bucket: str | timedelta | None = None,
    outcome: str | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
) -> pd.DataFrame:
    """How long recoveries took (``recovery_ms``): mean, median, 95th percentile and maximum.

    Only attempts with a recorded duration count.  ``outcome="succeeded"`` (or ``"failed"``)
    keeps only those; other parameters as in :func:`~faultcast.analytics.error_frequency`.
    Percentiles interpolate linearly between the two nearest durations.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``attempts`` (int64),
        ``mean_ms``, ``p50_ms``, ``p95_ms``, ``max_ms`` (float64); the most attempts first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, recovery_time
    >>> print(recovery_time(example_store(), by=None).to_string(index=False))
     attempts    mean_ms  p50_ms  p95_ms  max_ms
            7 1299.285714   120.0  4400.0  5000.0
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    schema = [
        *grouped(columns, width is not None),
        ("attempts", COUNT),
        ("mean_ms", FLOAT),
        ("p50_ms", FLOAT),
        ("p95_ms", FLOAT),
        ("max_ms", FLOAT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        if outcome is not None:
            where += f" AND recovery_outcome = {q.param(outcome, 'VARCHAR')}"
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        sql = f"""
            SELECT {lead}{columns_sql(columns)}
                count(*) AS attempts,
                avg(recovery_ms) AS mean_ms,
                quantile_cont(recovery_ms, 0.5) AS p50_ms,
                quantile_cont(recovery_ms, 0.95) AS p95_ms,
                max(recovery_ms) AS max_ms
            FROM store.events
            WHERE {IS_RECOVERY} AND recovery_ms IS NOT NULL AND {where}
            {group_by(columns, b is not None)}
            {order_by(columns, b is not None, "attempts DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)


def retry_attempts(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = None,
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
) -> pd.DataFrame:
    """How many retries recoveries took: events per ``retry_count``, and how many then worked.

    Events with a ``retry_count`` count (retries recorded on any event, with or without an
    action).  Parameters as in :func:`~faultcast.analytics.error_frequency`.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``retry_count`` (int64),
        ``events``, ``succeeded``, ``failed`` (int64), ``success_rate`` (float64:
        succeeded / (succeeded + failed)), ``share`` (float64: of the retried events in the
        same bucket and group); ordered by the groups, then ``retry_count``.

    Examples
    --------
    >>> from faultcast.analytics import example_store, retry_attempts
    >>> print(retry_attempts(example_store()).to_string(index=False))
     retry_count  events  succeeded  failed  success_rate  share
               2       1          1       0           1.0    0.5
               5       1          0       1           0.0    0.5
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    schema = [
        *grouped(columns, width is not None),
        ("retry_count", COUNT),
        ("events", COUNT),
        ("succeeded", COUNT),
        ("failed", COUNT),
        ("success_rate", FLOAT),
        ("share", FLOAT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        groups = (["bucket"] if b else []) + list(columns)
        partition = f"PARTITION BY {', '.join(groups)}" if groups else ""
        order = ", ".join([*(f"{g} NULLS LAST" for g in groups), "retry_count"])
        sql = f"""
            SELECT {lead}{columns_sql(columns)}
                retry_count,
                count(*) AS events,
                count(*) FILTER (WHERE recovery_outcome = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE recovery_outcome = 'failed') AS failed,
                succeeded / nullif(succeeded + failed, 0) AS success_rate,
                count(*) / sum(count(*)) OVER ({partition}) AS share
            FROM store.events
            WHERE retry_count IS NOT NULL AND {where}
            GROUP BY {", ".join([*groups, "retry_count"])}
            ORDER BY {order}
        """
        return q.run(con, sql)

    return read(source, schema, query)
