"""What is failing now: each unit's recent failure episodes with the issues behind them, and the
issues a unit shows in a recent window (for the units a model says are at risk).

"Now" is the store's newest event time: the wall clock for a store that ingest keeps current,
the end of the history for a replayed or simulated one (the dashboard says which).

- A failure **episode** of a unit runs from its **onset** (its first failure event after more
  than ``episode_gap``, 10 min, without one, as for the prediction metrics) to its last failure
  before the next such gap.  A unit is **failing now** when its latest episode had a failure
  within ``active`` (15 min) of now.
- An episode's **issues** are those of the unit's events (warning and above, and failures:
  the events an issue groups) between its onset and its last failure, the most events first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._prediction import _unit_column
from faultcast.analytics._sql import (
    COUNT,
    FLAG,
    TEXT,
    TIME,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    parse_duration,
    read,
)

__all__ = ["failure_episodes", "unit_issues"]

#: Columns a unit may be (``unit_column=``).
UNIT_COLUMNS: Final[tuple[str, ...]] = ("service", "host", "component")

_EPISODES: Final[list[tuple[str, str]]] = [
    ("unit", TEXT),
    ("onset", TIME),
    ("last_failure", TIME),
    ("failures", COUNT),
    ("failing_now", FLAG),
    ("now", TIME),
    ("issue_ids", "object"),
    ("issue_events", "object"),
]

_UNIT_ISSUES: Final[list[tuple[str, str]]] = [
    ("unit", TEXT),
    ("id", TEXT),
    ("events", COUNT),
    ("rank", COUNT),
    ("last_seen", TIME),
]


def _has_issue_ids(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        """SELECT count(*) FROM duckdb_columns()
           WHERE database_name = 'store' AND table_name = 'events' AND column_name = 'issue_id'"""
    ).fetchall()[0]
    return bool(row[0])


def failure_episodes(
    source: Source,
    *,
    since: str | timedelta = "1h",
    active: str | timedelta = "15m",
    unit_column: str = "service",
    service: Values = None,
    host: Values = None,
    component: Values = None,
    episode_gap: str | timedelta = "10m",
    issues: int = 3,
) -> pd.DataFrame:
    """The failure episodes of each unit that had a failure within ``since`` of now (the
    store's newest event), those still failing first, then the most recent.

    Parameters
    ----------
    since
        How far back from now an episode's last failure may be (a duration).
    active
        A unit whose latest failure is within this of now is *failing now*.
    unit_column
        What a unit is: ``service`` (default), ``host`` or ``component``.
    service, host, component
        Keep these units' events only.
    episode_gap
        A failure more than this after the previous one starts a new episode.
    issues
        How many of an episode's issues to list (the most events first).

    Returns
    -------
    DataFrame
        ``unit`` (str), ``onset``, ``last_failure`` (datetime64[us, UTC]), ``failures``
        (int64: failure events in the episode), ``failing_now`` (boolean), ``now`` (the
        store's newest event time), ``issue_ids`` (list of str: the episode's issues, the
        most events first), ``issue_events`` (list of int: their events in the episode).

    Examples
    --------
    >>> from faultcast.analytics import example_store, failure_episodes
    >>> found = failure_episodes(example_store(), since="1h")
    >>> found[["unit", "failures", "failing_now"]]
           unit  failures  failing_now
    0  payments         1         True
    1  checkout         2        False
    >>> found["issue_events"].tolist()
    [[1], [2]]
    """
    column = _unit_column(unit_column, UNIT_COLUMNS)
    window_s = parse_duration(since, "since")
    active_s = parse_duration(active, "active")
    gap_s = parse_duration(episode_gap, "episode_gap")
    scope = Scope(None, None, service, host, component)
    if int(issues) < 0:
        raise ValueError(f"issues must be 0 or more, not {issues!r}")

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        latest = con.execute("SELECT max(ts) FROM store.events").fetchall()[0][0]
        if latest is None:
            return None
        q = Sql()
        where = scope.where(q, scope.window(con), only=UNIT_COLUMNS)
        now = q.param(latest, "TIMESTAMPTZ")
        gap, window, recent = (q.param(v, "DOUBLE") for v in (gap_s, window_s, active_s))
        top = q.param(int(issues), "BIGINT")
        if _has_issue_ids(con):
            hits = f"""
                hits AS (
                    SELECT r.unit, r.episode, ev.issue_id, count(*) AS n
                    FROM recent r JOIN store.events ev
                      ON ev.{column} = r.unit AND ev.ts >= r.onset AND ev.ts <= r.last_failure
                    WHERE ev.issue_id IS NOT NULL
                    GROUP BY ALL
                ),
                ranked AS (
                    SELECT *, row_number() OVER (
                        PARTITION BY unit, episode ORDER BY n DESC, issue_id) AS rank
                    FROM hits
                )"""
        else:  # a store from before issues: episodes without issues
            hits = """
                ranked AS (
                    SELECT NULL::VARCHAR AS unit, NULL::BIGINT AS episode,
                        NULL::VARCHAR AS issue_id, NULL::BIGINT AS n, NULL::BIGINT AS rank
                    WHERE FALSE
                )"""
        sql = f"""
            WITH fails AS (
                SELECT {column} AS unit, ts FROM store.events
                WHERE coalesce(failure, false) AND {column} IS NOT NULL AND {where}
            ),
            marked AS (
                SELECT unit, ts, coalesce(
                    ts - lag(ts) OVER (PARTITION BY unit ORDER BY ts) > to_seconds({gap}),
                    true) AS starts
                FROM fails
            ),
            numbered AS (
                SELECT unit, ts, sum(starts::INTEGER) OVER (
                    PARTITION BY unit ORDER BY ts ROWS UNBOUNDED PRECEDING) AS episode
                FROM marked
            ),
            recent AS (
                SELECT unit, episode, min(ts) AS onset, max(ts) AS last_failure,
                    count(*) AS failures
                FROM numbered GROUP BY unit, episode
                HAVING max(ts) >= {now} - to_seconds({window})
            ),
            {hits}
            SELECT r.unit, r.onset, r.last_failure, r.failures,
                r.last_failure >= {now} - to_seconds({recent}) AS failing_now,
                {now} AS now,
                coalesce(list(k.issue_id ORDER BY k.rank) FILTER (WHERE k.rank <= {top}),
                         []::VARCHAR[]) AS issue_ids,
                coalesce(list(k.n ORDER BY k.rank) FILTER (WHERE k.rank <= {top}),
                         []::BIGINT[]) AS issue_events
            FROM recent r LEFT JOIN ranked k ON k.unit = r.unit AND k.episode = r.episode
            GROUP BY r.unit, r.episode, r.onset, r.last_failure, r.failures
            ORDER BY failing_now DESC, r.last_failure DESC, r.unit
        """
        df = q.run(con, sql)
        df["issue_ids"] = [[str(i) for i in ids] for ids in df["issue_ids"]]
        df["issue_events"] = [[int(n) for n in ns] for ns in df["issue_events"]]
        return df

    return read(source, _EPISODES, query)


def unit_issues(
    source: Source,
    *,
    since: TimeLike = "15m",
    until: TimeLike = None,
    unit_column: str = "service",
    service: Values = None,
    host: Values = None,
    component: Values = None,
    limit: int = 3,
) -> pd.DataFrame:
    """Each unit's issues with events in the window (default: the last 15 min of the store),
    the most events first, at most ``limit`` per unit.

    Returns
    -------
    DataFrame
        ``unit``, ``id`` (str), ``events`` (int64: the unit's events of the issue in the
        window), ``rank`` (int64, 1 for the unit's most frequent), ``last_seen``
        (datetime64[us, UTC]: the unit's latest event of it).

    Examples
    --------
    >>> from faultcast.analytics import example_store, unit_issues
    >>> unit_issues(example_store(), since="10m", limit=1)[["unit", "events", "rank"]]
           unit  events  rank
    0  payments       2     1
    """
    column = _unit_column(unit_column, UNIT_COLUMNS)
    scope = Scope(since, until, service, host, component)
    if int(limit) < 0:
        raise ValueError(f"limit must be 0 or more, not {limit!r}")

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        if not _has_issue_ids(con):
            return None
        q = Sql()
        where = scope.where(q, scope.window(con), only=UNIT_COLUMNS)
        sql = f"""
            SELECT unit, id, events, rank, last_seen FROM (
                SELECT {column} AS unit, issue_id AS id, count(*) AS events,
                    max(ts) AS last_seen,
                    row_number() OVER (
                        PARTITION BY {column} ORDER BY count(*) DESC, issue_id) AS rank
                FROM store.events
                WHERE issue_id IS NOT NULL AND {column} IS NOT NULL AND {where}
                GROUP BY {column}, issue_id
            ) WHERE rank <= {q.param(int(limit), "BIGINT")}
            ORDER BY unit, rank
        """
        return q.run(con, sql)

    return read(source, _UNIT_ISSUES, query)
