"""How much of the time each unit spends degraded or failed, judged from its events."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

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
    grouped,
    grouping,
    parse_duration,
    read,
    window_bounds,
)

#: The most periods (units x periods in the window) one call may examine.
MAX_PERIODS: Final[int] = 20_000_000
#: The levels whose events count as errors for degradation.
ERROR_LEVELS: Final[tuple[str, ...]] = ("error", "critical")


def degradation(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "service",
    bucket: str | timedelta | None = None,
    resolution: str | timedelta = "1m",
    factor: float = 3.0,
    min_errors: int = 3,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """The share of time each unit (``by``, the service by default) spent failed or degraded.

    Time is cut into periods of ``resolution`` (a minute by default), aligned to UTC, from
    ``since`` (else the store's first event) to ``until`` (else its last event).  In each
    period a unit is

    - **failed** when it logged a failure event (``failure`` is true);
    - **degraded** when not failed but it logged at least ``min_errors`` events of level error
      or critical, and at least ``factor`` x its baseline + 3 x sqrt(baseline), where the
      baseline is its mean of such events per period over the window (so a unit that is
      always a little noisy is not degraded by its usual noise);
    - **healthy** otherwise, including periods without events.

    The units are those with at least one event in the window.  With ``bucket`` (e.g.
    ``"1h"``) the shares are per time bucket; the baseline stays that of the whole window.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``periods``,
        ``failed_periods``, ``degraded_periods`` (int64), ``failed_share``,
        ``degraded_share``, ``unhealthy_share`` (float64: failed or degraded),
        ``baseline_errors`` (float64: errors per period); the most unhealthy first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, degradation
    >>> print(degradation(example_store(), min_errors=1, factor=1.0).to_string(index=False))
     service  periods  failed_periods  degraded_periods  failed_share  degraded_share  unhealthy_share  baseline_errors
    checkout       43               2                 0      0.046512        0.000000         0.046512         0.116279
    payments       43               1                 1      0.023256        0.023256         0.046512         0.046512
    """
    columns = grouping(by, allowed=("service", "host", "component"))
    width = bucket_seconds(bucket)
    parse_duration(resolution, "resolution")  # fail early on a bad resolution
    scope = Scope(since, until, service, host, component)
    schema = [
        *grouped(columns, width is not None),
        ("periods", COUNT),
        ("failed_periods", COUNT),
        ("degraded_periods", COUNT),
        ("failed_share", FLOAT),
        ("degraded_share", FLOAT),
        ("unhealthy_share", FLOAT),
        ("baseline_errors", FLOAT),
    ]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        return degradation_query(con, scope, columns, width, resolution, factor, min_errors)

    return read(source, schema, query)


def degradation_query(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    columns: list[str],
    width: float | None,
    resolution: str | timedelta,
    factor: float,
    min_errors: int,
) -> pd.DataFrame | None:
    """The frame of :func:`degradation` on an open read connection (None: no events)."""
    period_us = round(parse_duration(resolution) * 1e6)
    q = Sql()
    window = scope.window(con)
    bounds = window_bounds(con, window)
    if bounds is None:
        return None
    start_us = round(bounds[0].timestamp() * 1e6)
    end_us = round(bounds[1].timestamp() * 1e6) - (1 if window.end is not None else 0)
    first, last = start_us // period_us, max(end_us, start_us) // period_us
    n_periods = last - first + 1
    if n_periods > MAX_PERIODS:
        raise ValueError(
            f"the window holds {n_periods:,} periods of {resolution}: too many; "
            "use a coarser resolution or a shorter window"
        )
    where = scope.where(q, window)
    p_us = q.param(period_us, "BIGINT")
    units = columns_sql(columns)
    unit_list = ", ".join(columns)
    join = "".join(f" AND per.{c} IS NOT DISTINCT FROM grid.{c}" for c in columns)
    if columns:
        # only error and failure events are aggregated; the units are all that logged anything
        present = f"SELECT DISTINCT {unit_list} FROM store.events WHERE {where}"
        totals_join = "LEFT JOIN totals ON " + " AND ".join(
            f"totals.{c} IS NOT DISTINCT FROM present.{c}" for c in columns
        )
    else:
        present = f"SELECT count(*) AS events FROM store.events WHERE {where} HAVING events > 0"
        totals_join = "LEFT JOIN totals ON TRUE"
    levels = ", ".join(q.param(level, "VARCHAR") for level in ERROR_LEVELS)
    if width is not None:
        bucket_us = q.param(round(width * 1e6), "BIGINT")
        lead = (
            f"make_timestamp(period * {p_us} // {bucket_us} * {bucket_us})::TIMESTAMPTZ AS bucket, "
        )
        group = f"GROUP BY bucket{', ' if columns else ''}{unit_list}"
        order = "ORDER BY bucket, unhealthy_share DESC" + "".join(
            f", {c} NULLS LAST" for c in columns
        )
    else:
        lead = ""
        group = f"GROUP BY {unit_list}" if columns else "HAVING count(*) > 0"
        order = "ORDER BY unhealthy_share DESC" + "".join(f", {c} NULLS LAST" for c in columns)
    sql = f"""
        WITH present AS (
        {present}
    ), per AS MATERIALIZED (
        SELECT {units}epoch_us(ts) // {p_us} AS period,
            count(*) FILTER (WHERE level IN ({levels})) AS errors,
            bool_or(coalesce(failure, FALSE)) AS failed
        FROM store.events WHERE {where} AND (level IN ({levels}) OR failure)
        GROUP BY ALL
    ), totals AS (
        SELECT {units}sum(errors) AS total FROM per {f"GROUP BY {unit_list}" if columns else ""}
    ), units AS (
        SELECT present.*, coalesce(totals.total, 0) / {q.param(n_periods, "DOUBLE")} AS baseline
        FROM present {totals_join}
    ), grid AS (
            SELECT units.*, g.range AS period
            FROM units CROSS JOIN range({q.param(first, "BIGINT")},
                                        {q.param(last + 1, "BIGINT")}) AS g
        ), marked AS (
            SELECT grid.*,
                coalesce(per.failed, FALSE) AS failed,
                NOT coalesce(per.failed, FALSE) AND coalesce(per.errors, 0) >= greatest(
                    {q.param(min_errors, "DOUBLE")},
                    {q.param(factor, "DOUBLE")} * baseline + 3 * sqrt(baseline)
                ) AS degraded
            FROM grid LEFT JOIN per ON per.period = grid.period{join}
        )
        SELECT {lead}{units}
            count(*) AS periods,
            count(*) FILTER (WHERE failed) AS failed_periods,
            count(*) FILTER (WHERE degraded) AS degraded_periods,
            failed_periods / periods AS failed_share,
            degraded_periods / periods AS degraded_share,
            (failed_periods + degraded_periods) / periods AS unhealthy_share,
            any_value(baseline) AS baseline_errors
        FROM marked
        {group}
        {order}
    """
    return q.run(con, sql)
