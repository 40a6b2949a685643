"""How good the stored failure predictions were: precision, recall and lead time of their
alerts against the failures that happened, calibration, and the risk timeline per unit.

The definitions are those of ``faultcast.models`` (its backtest), expressed in SQL:

- A failure **onset** is a unit's first failure event after more than ``episode_gap``
  (10 min) without one.
- An **alert** is one episode of a unit's stored predictions with ``alert`` true; alerts of a
  unit less than ``merge_gap`` (5 min) apart are one episode.  An alert is *true* when an
  onset of its unit falls between its first tick and its last tick plus the horizon.
- An onset is **caught** when an alert of its unit was on within the horizon before it; its
  **lead time** runs from the start of the earliest such alert to the onset.  Onsets count
  from the first prediction plus the horizon (so each could have been predicted) up to the
  last prediction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLAG,
    FLOAT,
    TEXT,
    TIME,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    Window,
    bucket_seconds,
    grouped,
    parse_duration,
    read,
)

#: Columns a prediction's unit may be (``unit_column=``).
UNIT_COLUMNS: Final[tuple[str, ...]] = ("service", "host", "component", "session_key")
_UNIT_FILTERS: Final[tuple[str, ...]] = ("service", "host", "component")


def _unit_column(name: str, allowed: tuple[str, ...] = UNIT_COLUMNS) -> str:
    if name not in allowed:
        raise ValueError(f"unit_column={name!r} is not one of {list(allowed)}")
    return name


def _has_predictions(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        """SELECT (SELECT count(*) FROM duckdb_tables()
                   WHERE database_name = 'store' AND table_name = 'predictions')
                + (SELECT count(*) FROM duckdb_views()
                   WHERE database_name = 'store' AND view_name = 'predictions')"""
    ).fetchall()[0]
    return bool(row[0])


def _ctes(
    q: Sql,
    scope: Scope,
    window: Window,
    unit_column: str,
    model_name: Values,
    episode_gap_s: float,
) -> str:
    """``preds`` (one prediction per unit and tick, the newest model version's), ``fails``
    and ``onsets`` of the units in scope."""
    clauses = ["mode = 'unit'", f"unit_column = {q.param(unit_column, 'VARCHAR')}"]
    if window.start is not None:
        clauses.append(f"made_at >= {q.param(window.start, 'TIMESTAMPTZ')}")
    if window.end is not None:
        clauses.append(f"made_at < {q.param(window.end, 'TIMESTAMPTZ')}")
    if model_name is not None:
        names = [model_name] if isinstance(model_name, str) else list(model_name)
        listed = ", ".join(q.param(n, "VARCHAR") for n in names) or "NULL"
        clauses.append(f"model_name IN ({listed})")
    units = "TRUE"
    if scope.filters(_UNIT_FILTERS):
        where = scope.where(q, window, only=_UNIT_FILTERS, time=False)
        units = f"unit IN (SELECT DISTINCT {unit_column} FROM store.events WHERE {where})"
    gap = q.param(episode_gap_s, "DOUBLE")
    return f"""
        preds AS (
            SELECT unit, made_at, probability, threshold, coalesce(alert, false) AS alert,
                horizon_s, model_name, model_version
            FROM store.predictions
            WHERE {" AND ".join(clauses)} AND {units}
            QUALIFY row_number() OVER (
                PARTITION BY unit, made_at ORDER BY model_version DESC NULLS LAST) = 1
        ),
        fails AS (
            SELECT {unit_column} AS unit, ts FROM store.events
            WHERE coalesce(failure, false) AND {unit_column} IS NOT NULL AND {units}
        ),
        onsets AS (
            SELECT unit, ts FROM (
                SELECT unit, ts, coalesce(
                    ts - lag(ts) OVER (PARTITION BY unit ORDER BY ts) > to_seconds({gap}),
                    true) AS onset
                FROM fails
            ) WHERE onset
        )"""


_QUALITY: Final[list[tuple[str, str]]] = [
    ("alerts", COUNT),
    ("true_alerts", COUNT),
    ("precision", FLOAT),
    ("onsets", COUNT),
    ("caught", COUNT),
    ("recall", FLOAT),
    ("f1", FLOAT),
    ("mean_lead_s", FLOAT),
    ("median_lead_s", FLOAT),
]


def prediction_quality(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    bucket: str | timedelta | None = None,
    unit_column: str = "service",
    service: Values = None,
    host: Values = None,
    component: Values = None,
    model_name: Values = None,
    merge_gap: str | timedelta = "5m",
    episode_gap: str | timedelta = "10m",
) -> pd.DataFrame:
    """Precision, recall and lead time of the stored failure predictions (unit mode).

    Scores the alerts that ``faultcast learn`` (or ``serve``) stored in ``predictions``
    against the failures that then happened, with the definitions of the models' backtest:
    an *alert* is an episode of a unit's alerting ticks (less than ``merge_gap`` apart), true
    when a failure onset of its unit follows while it lasts or within the horizon after; an
    *onset* (a failure after more than ``episode_gap`` without one) is *caught* when an alert
    of its unit was on within the horizon before it, with the lead time from that alert's
    start.  When a tick was predicted by several model versions, the newest version counts.

    Parameters
    ----------
    since, until
        The window of prediction times (``made_at``), as for every metric.
    bucket
        Time bucket width: alerts count in the bucket where they start, onsets in the bucket
        where they happen.  None for one row over the window.
    unit_column
        Which predictions to score: those per ``service`` (the default), ``host``,
        ``component`` or ``session_key``.
    service, host, component
        Keep the units that logged events with these values (``service="api"`` with the
        default unit column keeps the unit ``api``).
    model_name
        Keep the predictions of this model (or these models).

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), ``alerts`` (int64), ``true_alerts`` (int64),
        ``precision`` (float64: true_alerts / alerts, NaN without alerts), ``onsets`` (int64:
        failure onsets that count), ``caught`` (int64), ``recall`` (float64: caught / onsets,
        NaN without onsets), ``f1`` (float64), ``mean_lead_s`` and ``median_lead_s``
        (float64: lead times of the caught onsets, NaN when none was caught).  Empty when
        there are no predictions.

    Examples
    --------
    >>> from faultcast.analytics import example_store, prediction_quality
    >>> print(prediction_quality(example_store()).to_string(index=False))
     alerts  true_alerts  precision  onsets  caught  recall       f1  mean_lead_s  median_lead_s
          4            2        0.5       2       2     1.0 0.666667        150.0          150.0
    >>> prediction_quality(example_store(), service="checkout")[["alerts", "precision", "recall"]]
       alerts  precision  recall
    0       2        0.5     1.0
    """
    column = _unit_column(unit_column)
    width = bucket_seconds(bucket)
    merge_s = parse_duration(merge_gap, "merge_gap")
    gap_s = parse_duration(episode_gap, "episode_gap")
    scope = Scope(since, until, service, host, component)
    schema = [*grouped([], width is not None), *_QUALITY]

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_predictions(con):
            return None
        q = Sql()
        window = scope.window(con)
        ctes = _ctes(q, scope, window, column, model_name, gap_s)
        merge = q.param(merge_s, "DOUBLE")
        ep_bucket = q.bucket(width, "e.start")
        on_bucket = q.bucket(width, "o.ts")
        key = "bucket" if width is not None else "0"
        sql = f"""
            WITH {ctes},
            span AS (
                SELECT min(made_at) + to_seconds(max(horizon_s)) AS lo, max(made_at) AS hi,
                    max(horizon_s) AS horizon_s
                FROM preds
            ),
            alerting AS (
                SELECT unit, made_at, horizon_s,
                    coalesce(made_at - lag(made_at) OVER (PARTITION BY unit ORDER BY made_at)
                             > to_seconds({merge}), true)::INTEGER AS starts
                FROM preds WHERE alert
            ),
            numbered AS (
                SELECT *, sum(starts) OVER (PARTITION BY unit ORDER BY made_at
                                            ROWS UNBOUNDED PRECEDING) AS episode
                FROM alerting
            ),
            episodes AS (
                SELECT unit, episode, min(made_at) AS start, max(made_at) AS "end",
                    max(horizon_s) AS horizon_s
                FROM numbered GROUP BY unit, episode
            ),
            judged AS (
                SELECT {f"{ep_bucket} AS bucket" if ep_bucket else "0 AS bucket"},
                    EXISTS (SELECT 1 FROM onsets o WHERE o.unit = e.unit AND o.ts >= e.start
                            AND o.ts <= e."end" + to_seconds(e.horizon_s)) AS true_alert
                FROM episodes e
            ),
            counted AS (
                SELECT {f"{on_bucket} AS bucket" if on_bucket else "0 AS bucket"},
                    epoch(o.ts) - epoch((
                        SELECT min(e.start) FROM episodes e
                        WHERE e.unit = o.unit AND e.start <= o.ts
                          AND e."end" >= o.ts - to_seconds(e.horizon_s))) AS lead_s
                FROM onsets o, span
                WHERE o.ts >= span.lo AND o.ts <= span.hi
                  AND o.unit IN (SELECT DISTINCT unit FROM preds)
            ),
            a AS (
                SELECT bucket, count(*) AS alerts, count(*) FILTER (WHERE true_alert) AS true_alerts
                FROM judged GROUP BY bucket
            ),
            c AS (
                SELECT bucket, count(*) AS onsets, count(lead_s) AS caught,
                    avg(lead_s) AS mean_lead_s, median(lead_s) AS median_lead_s
                FROM counted GROUP BY bucket
            ),
            joined AS (
                SELECT coalesce(a.bucket, c.bucket) AS bucket,
                    coalesce(a.alerts, 0) AS alerts, coalesce(a.true_alerts, 0) AS true_alerts,
                    coalesce(c.onsets, 0) AS onsets, coalesce(c.caught, 0) AS caught,
                    c.mean_lead_s, c.median_lead_s
                FROM a FULL OUTER JOIN c ON a.bucket = c.bucket
                UNION ALL
                -- one row over the window even with neither alerts nor onsets
                SELECT 0, 0, 0, 0, 0, NULL, NULL
                WHERE {"FALSE" if width is not None else "TRUE"}
                  AND EXISTS (SELECT 1 FROM preds)
                  AND NOT EXISTS (SELECT 1 FROM a) AND NOT EXISTS (SELECT 1 FROM c)
            ),
            scored AS (
                SELECT *,
                    CASE WHEN alerts > 0 THEN true_alerts / alerts END AS precision,
                    CASE WHEN onsets > 0 THEN caught / onsets END AS recall
                FROM joined
            )
            SELECT {key} AS bucket, alerts, true_alerts, precision, onsets, caught, recall,
                CASE WHEN precision + recall > 0
                     THEN 2 * precision * recall / (precision + recall)
                     WHEN precision IS NOT NULL AND recall IS NOT NULL THEN 0.0 END AS f1,
                mean_lead_s, median_lead_s
            FROM scored
            ORDER BY bucket
        """
        return q.run(con, sql)

    return read(source, schema, query)


_CALIBRATION: Final[list[tuple[str, str]]] = [
    ("bin", COUNT),
    ("low", FLOAT),
    ("high", FLOAT),
    ("predictions", COUNT),
    ("mean_probability", FLOAT),
    ("failures", COUNT),
    ("observed_rate", FLOAT),
]


def prediction_calibration(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    bins: int = 10,
    unit_column: str = "service",
    service: Values = None,
    host: Values = None,
    component: Values = None,
    model_name: Values = None,
    episode_gap: str | timedelta = "10m",
) -> pd.DataFrame:
    """How well the stored failure probabilities match how often failures followed.

    Predictions are put in ``bins`` equal-width bins of probability; in each, the share of
    predictions followed by a failure onset of their unit within their horizon (the label
    the model learns) against their mean probability.  A calibrated model has
    ``observed_rate`` close to ``mean_probability``.  Only predictions whose horizon has
    passed (by the latest event) count, and not those made while the unit was already
    failing (a failure event within ``episode_gap`` before): the model does not learn them.

    Parameters
    ----------
    since, until, unit_column, service, host, component, model_name, episode_gap
        As for :func:`prediction_quality`.
    bins
        How many equal-width probability bins (at least 1).

    Returns
    -------
    DataFrame
        ``bin`` (int64, 0 for the lowest), ``low`` and ``high`` (float64, its bounds),
        ``predictions`` (int64), ``mean_probability`` (float64), ``failures`` (int64:
        predictions followed by an onset), ``observed_rate`` (float64: failures /
        predictions); bins without predictions are absent.

    Examples
    --------
    >>> from faultcast.analytics import example_store, prediction_calibration
    >>> print(prediction_calibration(example_store(), bins=5).to_string(index=False))
     bin  low  high  predictions  mean_probability  failures  observed_rate
       0  0.0   0.2           56          0.067857         2       0.035714
       1  0.2   0.4            1          0.300000         1       1.000000
       3  0.6   0.8            3          0.633333         0       0.000000
       4  0.8   1.0            3          0.800000         3       1.000000
    """
    column = _unit_column(unit_column)
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins={bins!r} must be a whole number of at least 1")
    gap_s = parse_duration(episode_gap, "episode_gap")
    scope = Scope(since, until, service, host, component)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_predictions(con):
            return None
        q = Sql()
        window = scope.window(con)
        ctes = _ctes(q, scope, window, column, model_name, gap_s)
        n = q.param(bins, "INTEGER")
        gap = q.param(gap_s, "DOUBLE")
        sql = f"""
            WITH {ctes},
            labelled AS (
                SELECT p.probability,
                    EXISTS (SELECT 1 FROM onsets o WHERE o.unit = p.unit AND o.ts > p.made_at
                            AND o.ts <= p.made_at + to_seconds(p.horizon_s)) AS failed
                FROM preds p
                WHERE p.probability IS NOT NULL
                  AND p.made_at + to_seconds(p.horizon_s) <= (SELECT max(ts) FROM store.events)
                  AND NOT EXISTS (SELECT 1 FROM fails f WHERE f.unit = p.unit
                                  AND f.ts < p.made_at AND f.ts >= p.made_at - to_seconds({gap}))
            ),
            binned AS (
                SELECT least(greatest(floor(probability * {n}), 0), {n} - 1)::BIGINT AS bin,
                    probability, failed
                FROM labelled
            )
            SELECT bin, bin / {n} AS low, (bin + 1) / {n} AS high, count(*) AS predictions,
                avg(probability) AS mean_probability, count(*) FILTER (WHERE failed) AS failures,
                count(*) FILTER (WHERE failed) / count(*) AS observed_rate
            FROM binned GROUP BY bin ORDER BY bin
        """
        return q.run(con, sql)

    return read(source, _CALIBRATION, query)


_TIMELINE: Final[list[tuple[str, str]]] = [
    ("unit", TEXT),
    ("ts", TIME),
    ("kind", TEXT),
    ("probability", FLOAT),
    ("threshold", FLOAT),
    ("alert", FLAG),
    ("model_version", COUNT),
]


def risk_timeline(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    unit_column: str = "service",
    service: Values = None,
    host: Values = None,
    component: Values = None,
    model_name: Values = None,
    episode_gap: str | timedelta = "10m",
) -> pd.DataFrame:
    """Each unit's predicted failure risk over time, with the failure onsets that happened.

    One row per stored prediction (``kind`` ``prediction``: its time ``made_at``,
    probability, threshold and alert) and one per failure onset of the same units in the
    window (``kind`` ``onset``, probability NaN), for drawing a risk line with the actual
    failures marked on it.  When a tick was predicted by several model versions, the newest
    counts.

    Parameters
    ----------
    since, until, unit_column, service, host, component, model_name, episode_gap
        As for :func:`prediction_quality` (the window applies to both kinds of row).

    Returns
    -------
    DataFrame
        ``unit`` (str), ``ts`` (datetime64[us, UTC]), ``kind`` (str), ``probability``
        (float64), ``threshold`` (float64), ``alert`` (boolean), ``model_version`` (int64, 0
        for onsets); ordered by unit and time.

    Examples
    --------
    >>> from faultcast.analytics import example_store, risk_timeline
    >>> timeline = risk_timeline(example_store(), service="payments")
    >>> timeline[timeline["kind"] == "onset"][["unit", "ts"]]
            unit                        ts
    42  payments 2026-01-01 00:42:00+00:00
    >>> timeline[timeline["alert"] == True]["ts"].dt.strftime("%H:%M").tolist()
    ['00:12', '00:40', '00:41']
    """
    column = _unit_column(unit_column)
    gap_s = parse_duration(episode_gap, "episode_gap")
    scope = Scope(since, until, service, host, component)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_predictions(con):
            return None
        q = Sql()
        window = scope.window(con)
        ctes = _ctes(q, scope, window, column, model_name, gap_s)
        time = []
        if window.start is not None:
            time.append(f"ts >= {q.param(window.start, 'TIMESTAMPTZ')}")
        if window.end is not None:
            time.append(f"ts < {q.param(window.end, 'TIMESTAMPTZ')}")
        sql = f"""
            WITH {ctes}
            SELECT unit, made_at AS ts, 'prediction' AS kind, probability, threshold, alert,
                model_version
            FROM preds
            UNION ALL
            SELECT unit, ts, 'onset', NULL, NULL, NULL, 0
            FROM onsets
            WHERE unit IN (SELECT DISTINCT unit FROM preds) AND {" AND ".join(time) or "TRUE"}
            ORDER BY unit, ts, kind DESC
        """
        return q.run(con, sql)

    return read(source, _TIMELINE, query)
