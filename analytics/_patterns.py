"""Message patterns: the most frequent, the new, the surging, and those that precede failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLOAT,
    IS_ERROR,
    TEXT,
    TIME,
    By,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    grouping,
    parse_duration,
    read,
)
from faultcast.ingest.schema import LEVELS

_TOP_SCHEMA: Final[list[tuple[str, str]]] = [
    ("template_id", TEXT),
    ("template", TEXT),
    ("count", COUNT),
    ("share", FLOAT),
    ("services", COUNT),
    ("errors", COUNT),
    ("failures", COUNT),
    ("first_seen", TIME),
    ("last_seen", TIME),
    ("example", TEXT),
]

_ACTIVITY_SCHEMA: Final[list[tuple[str, str]]] = [
    ("template_id", TEXT),
    ("template", TEXT),
    ("count", COUNT),
    ("recent_count", COUNT),
    ("baseline_per_window", FLOAT),
    ("surge_ratio", FLOAT),
    ("services", COUNT),
    ("first_seen", TIME),
    ("last_seen", TIME),
    ("example", TEXT),
    ("is_new", "bool"),
    ("is_surging", "bool"),
]

#: :func:`patterns`: the activity columns and the pattern's errors and failures.
_PATTERNS_SCHEMA: Final[list[tuple[str, str]]] = [
    *_ACTIVITY_SCHEMA[:7],
    ("error_count", COUNT),
    ("failure_count", COUNT),
    *_ACTIVITY_SCHEMA[7:],
]

#: The defaults of the new/surging rule, shared by every caller (CLI, facade, dashboard).
SURGE_WINDOW: Final[str] = "1h"
SURGE_BASELINE_WINDOWS: Final[int] = 24
#: The absolute floor: a surge is at least this many occurrences above the baseline.
SURGE_MIN_COUNT: Final[int] = 5
SURGE_FACTOR: Final[float] = 3.0
#: ... plus this many standard deviations of a Poisson count with the baseline's mean.
SURGE_SIGMAS: Final[float] = 3.0
#: Enough history: the store must reach this many windows back before the recent window
#: (6 h with the 1 h window) before anything can surge; the baseline is then a mean over at
#: least 6 windows, not a count of one.
SURGE_MIN_HISTORY: Final[int] = 6
#: Top patterns show warnings and worse (and failures) unless asked for every level.
TOP_MIN_LEVEL: Final[str] = "warning"


def _level_floor(q: Sql, min_level: str | None, level: Values, alias: str = "") -> str:
    """The condition "at ``min_level`` or worse, or a failure" (TRUE when ``min_level`` is
    None, or when ``level`` picks the levels itself)."""
    if min_level is None or level is not None:
        return "TRUE"
    floor = str(min_level).lower()
    if floor not in LEVELS:
        raise ValueError(f"min_level {min_level!r} is not a level: use one of {list(LEVELS)}")
    prefix = f"{alias}." if alias else ""
    listed = ", ".join(q.param(v, "VARCHAR") for v in LEVELS[LEVELS.index(floor) :])
    return f"({prefix}level IN ({listed}) OR coalesce({prefix}failure, FALSE))"


_PRECURSOR_SCHEMA: Final[list[tuple[str, str]]] = [
    ("template_id", TEXT),
    ("template", TEXT),
    ("occurrences", COUNT),
    ("in_window", COUNT),
    ("failures_preceded", COUNT),
    ("onsets", COUNT),
    ("coverage", FLOAT),
    ("confidence", FLOAT),
    ("lift", FLOAT),
    ("mean_lead_s", FLOAT),
]

# The template text and an example message come from the patterns table (the template as it
# is now, after any generalisation); events whose pattern is not there yet fall back to their
# own template text.
_PATTERN_TEXT = "coalesce(p.template, c.template)"
# The same where only the patterns table is read (a pattern missing from it has no text).
_STORED_TEXT = "p.template"


def top_patterns(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    limit: int | None = 20,
    min_level: str | None = TOP_MIN_LEVEL,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """The most frequent message patterns in the window, of warnings and worse and failures
    by default: ``min_level=None`` counts every level (info noise such as ``GET <*> in <*>
    ms`` included), ``min_level="error"`` errors and worse; ``level`` picks levels itself.

    Returns
    -------
    DataFrame
        ``template_id``, ``template`` (str), ``count`` (int64), ``share`` (float64: of the
        events in scope), ``services`` (int64: distinct services), ``errors`` (int64: events
        with a category), ``failures`` (int64), ``first_seen``, ``last_seen``
        (datetime64[us, UTC], within the window), ``example`` (str: a message of the
        pattern); the most frequent first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, top_patterns
    >>> print(top_patterns(example_store(), limit=3)[["template_id", "template", "count"]]
    ...       .to_string(index=False))
    template_id                                  template  count
             T2 call to payments timed out after <*> ms      3
             T6 authentication failed for user <*> from <*>      3
             T4 consumer stalled on partition <*>      2
    >>> print(top_patterns(example_store(), limit=1, min_level=None)[["template", "count"]]
    ...       .to_string(index=False))
                 template  count
    GET <*> 200 in <*> ms      4
    """
    scope = Scope(since, until, service, host, component, level, category, error_type)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        where += f" AND {_level_floor(q, min_level, level)}"
        sql = f"""
            WITH c AS (
                SELECT template_id, any_value(template) AS template, count(*) AS count,
                    count(DISTINCT service) AS services,
                    count(*) FILTER (WHERE category IS NOT NULL) AS errors,
                    count(*) FILTER (WHERE failure) AS failures,
                    min(ts) AS first_seen, max(ts) AS last_seen
                FROM store.events WHERE {where}
                GROUP BY template_id
            )
            SELECT c.template_id, {_PATTERN_TEXT} AS template, c.count,
                c.count / sum(c.count) OVER () AS share, c.services, c.errors, c.failures,
                c.first_seen, c.last_seen, p.example
            FROM c LEFT JOIN store.patterns p ON p.template_id = c.template_id
            ORDER BY c.count DESC, c.template_id
            {q.limit(limit)}
        """
        return q.run(con, sql)

    return read(source, _TOP_SCHEMA, query)


def _activity(
    source: Source,
    scope: Scope,
    window: str | timedelta,
    baseline_windows: int,
    min_count: int,
    factor: float,
    keep: str,
    order: str,
    limit: int | None,
    schema: list[tuple[str, str]] = _ACTIVITY_SCHEMA,
    min_history: int = SURGE_MIN_HISTORY,
    min_level: str | None = None,
    sigmas: float = SURGE_SIGMAS,
) -> pd.DataFrame:
    """The one new/surging rule, over the patterns of the events in ``scope``.

    ``now`` is ``until`` or the latest event; the recent window is ``now - window < ts <=
    now``.  ``count``, ``error_count``, ``failure_count`` and ``services`` count from ``since``
    (the whole history when None) up to now, and only patterns with an event there are kept;
    ``first_seen``/``last_seen``, the baseline and ``is_new`` look at the whole history up to
    now (a pattern is new only if it never occurred before the window).

    The baseline is the pattern's mean count per window over the ``baseline_windows``
    windows before the recent one, or over as many as the history in scope covers (a store
    with three hours of history has a baseline of two 1-hour windows, not of 24).  Nothing
    surges before the history covers ``min_history`` windows."""
    seconds = parse_duration(window, "window")
    if baseline_windows < 1:
        raise ValueError(f"baseline_windows must be at least 1, not {baseline_windows!r}")
    if min_history < 1 or min_history > baseline_windows:
        raise ValueError(
            f"min_history must be between 1 and baseline_windows ({baseline_windows}), "
            f"not {min_history!r}"
        )

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        q = Sql()
        resolved = scope.window(con)
        now = resolved.end
        if now is None:
            now = con.execute("SELECT max(ts) FROM store.events").fetchall()[0][0]
            if now is None:
                return None
        # Counts up to now (the latest event, or until): the whole history before it.
        where = scope.where(q, resolved, time=False)
        floor = _level_floor(q, min_level, scope.level)
        now_p = q.param(now, "TIMESTAMPTZ")
        start_p = q.param(resolved.start, "TIMESTAMPTZ") if resolved.start is not None else None
        in_scope = f"ts >= {start_p}" if start_p else "TRUE"
        w_us = q.param(round(seconds * 1e6), "BIGINT")
        w = f"to_microseconds({w_us})"
        n = q.param(int(baseline_windows), "BIGINT")
        # Windows of history before the recent one (at most n): the store's events in scope
        # (any level) from the first up to the window's start.
        covered = f"""least({n}::DOUBLE, greatest(0, epoch_us({now_p} - {w}) - epoch_us((
                SELECT min(ts) FROM store.events WHERE ts <= {now_p} AND {where}))) / {w_us})"""
        sql = f"""
            WITH h AS (SELECT {covered} AS windows), c AS (
                SELECT template_id, any_value(template) AS template,
                    count(*) FILTER (WHERE {in_scope}) AS count,
                    count(*) FILTER (WHERE ts > {now_p} - {w}) AS recent_count,
                    count(*) FILTER (WHERE ts > {now_p} - {w} * ({n} + 1)
                                     AND ts <= {now_p} - {w})
                        / nullif((SELECT windows FROM h), 0) AS baseline_per_window,
                    count(DISTINCT service) FILTER (WHERE {in_scope}) AS services,
                    count(*) FILTER (WHERE {in_scope} AND {IS_ERROR}) AS error_count,
                    count(*) FILTER (WHERE {in_scope} AND failure) AS failure_count,
                    min(ts) AS first_seen, max(ts) AS last_seen
                FROM store.events WHERE ts <= {now_p} AND {where} AND {floor}
                GROUP BY template_id
                HAVING count(*) FILTER (WHERE {in_scope}) > 0
            ), flagged AS (
                SELECT c.template_id, {_PATTERN_TEXT} AS template, c.count, c.recent_count,
                    c.baseline_per_window,
                    c.recent_count / nullif(c.baseline_per_window, 0) AS surge_ratio,
                    c.services, c.error_count, c.failure_count, c.first_seen, c.last_seen,
                    p.example,
                    c.first_seen > {now_p} - {w} AS is_new,
                    c.first_seen <= {now_p} - {w}
                        AND coalesce((SELECT windows FROM h), 0)
                            >= {q.param(int(min_history), "BIGINT")}
                        AND c.recent_count >= coalesce(c.baseline_per_window, 0)
                            + {q.param(min_count, "BIGINT")}
                        AND c.recent_count
                            >= {q.param(factor, "DOUBLE")} * coalesce(c.baseline_per_window, 0)
                            + {q.param(sigmas, "DOUBLE")} * sqrt(coalesce(c.baseline_per_window, 0))
                            + 1 AS is_surging
                FROM c LEFT JOIN store.patterns p ON p.template_id = c.template_id
            )
            SELECT * FROM flagged WHERE {keep} ORDER BY {order} {q.limit(limit)}
        """
        return q.run(con, sql)

    return read(source, schema, query)


def patterns(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    new: bool = False,
    surging: bool = False,
    window: str | timedelta = SURGE_WINDOW,
    baseline_windows: int = SURGE_BASELINE_WINDOWS,
    min_count: int = SURGE_MIN_COUNT,
    factor: float = SURGE_FACTOR,
    sigmas: float = SURGE_SIGMAS,
    min_history: int = SURGE_MIN_HISTORY,
    limit: int | None = 20,
    min_level: str | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """Every message pattern with events in scope, flagged new or surging by the one rule of
    :func:`new_patterns` and :func:`surging_patterns` (what ``faultcast patterns`` and
    ``fc.patterns()`` show).

    ``new=True`` / ``surging=True`` keep only those (surging ones by surge ratio); otherwise
    the most frequent first.  ``window`` ends at ``until`` (default: the latest event).
    ``min_level="warning"`` keeps the patterns of warnings and worse and of failures (what
    ``faultcast patterns`` shows unless given ``--all-levels``); None, the default, every level.

    Returns
    -------
    DataFrame
        ``template_id``, ``template`` (str), ``count`` (int64: events from ``since`` up to
        ``until``), ``recent_count`` (int64: in the window), ``baseline_per_window``,
        ``surge_ratio`` (float64), ``services``, ``error_count`` (events with a category,
        the one definition of an error), ``failure_count`` (int64), ``first_seen``,
        ``last_seen`` (datetime64[us, UTC]: over the whole history up to ``until``),
        ``example`` (str), ``is_new``, ``is_surging`` (bool).

    Examples
    --------
    >>> from faultcast.analytics import example_store, patterns
    >>> print(patterns(example_store(), limit=2)[["template_id", "count", "error_count"]]
    ...       .to_string(index=False))
    template_id  count  error_count
             T1      4            0
             T2      3            3
    """
    scope = Scope(since, until, service, host, component, level, category, error_type)
    keep = " AND ".join(
        ["TRUE"] + (["is_new"] if new else []) + (["is_surging"] if surging else [])
    )
    order = (
        "surge_ratio DESC NULLS LAST, recent_count DESC, template_id"
        if surging
        else "count DESC, template_id"
    )
    return _activity(
        source,
        scope,
        window,
        baseline_windows,
        min_count,
        factor,
        keep,
        order,
        limit,
        schema=_PATTERNS_SCHEMA,
        min_history=min_history,
        min_level=min_level,
        sigmas=sigmas,
    )


def new_patterns(
    source: Source,
    *,
    window: str | timedelta = SURGE_WINDOW,
    until: TimeLike = None,
    limit: int | None = 20,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """Patterns first seen within the ``window`` that ends at ``until`` (default: the latest
    event), the most frequent first (the rule of ``faultcast patterns --new``).

    Returns
    -------
    DataFrame
        ``template_id``, ``template`` (str), ``count`` (int64: all occurrences up to
        ``until``), ``recent_count`` (int64: in the window), ``baseline_per_window`` (float64:
        mean count per window over the ``baseline_windows`` windows before it),
        ``surge_ratio`` (float64: recent / baseline), ``services`` (int64), ``first_seen``,
        ``last_seen`` (datetime64[us, UTC]), ``example`` (str), ``is_new``, ``is_surging``
        (bool).

    Examples
    --------
    >>> from faultcast.analytics import example_store, new_patterns
    >>> print(new_patterns(example_store(), window="5m")[["template_id", "template"]]
    ...       .to_string(index=False))
    template_id                         template
             T9 budget at <*> of the monthly limit
            T10          monthly budget exhausted
    """
    scope = Scope(None, until, service, host, component, level, category, error_type)
    return _activity(
        source,
        scope,
        window,
        SURGE_BASELINE_WINDOWS,
        SURGE_MIN_COUNT,
        SURGE_FACTOR,
        "is_new",
        "count DESC, template_id",
        limit,
    )


def surging_patterns(
    source: Source,
    *,
    window: str | timedelta = SURGE_WINDOW,
    until: TimeLike = None,
    baseline_windows: int = SURGE_BASELINE_WINDOWS,
    min_count: int = SURGE_MIN_COUNT,
    factor: float = SURGE_FACTOR,
    sigmas: float = SURGE_SIGMAS,
    min_history: int = SURGE_MIN_HISTORY,
    limit: int | None = 20,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """Patterns well above their own baseline in the ``window`` that ends at ``until``
    (default: the latest event; the window is ``until - window < ts <= until``), the highest
    surge first.

    A pattern surges when (the rule of ``faultcast patterns --surging``):

    - the history in scope reaches at least ``min_history`` windows back before the window
      (enough history: on a store of two hours nothing surges in a 1-hour window);
    - the pattern was seen before the window;
    - it occurs at least ``min_count`` times more than its baseline in the window (an
      absolute floor: three occurrences instead of none is no surge), and
    - at least ``factor`` x its baseline + ``sigmas`` standard deviations (of a Poisson
      count with the baseline as its mean) + 1,

    the baseline being its mean count per window over the ``baseline_windows`` windows
    before, or over as many windows as the history covers when it is shorter.

    Returns
    -------
    DataFrame
        The columns of :func:`new_patterns`; the highest ``surge_ratio`` first (a pattern
        with no baseline at all has surge_ratio NaN and comes last).

    Examples
    --------
    The example store's 42 minutes are too short a history for a 1-hour window; over 2-minute
    windows the timeouts doubled (two after one), which is no surge either:

    >>> from faultcast.analytics import example_store, patterns, surging_patterns
    >>> surging_patterns(example_store()).empty
    True
    >>> found = patterns(example_store(), window="2m", until="2026-01-01T00:04", min_history=1)
    >>> print(found[["template_id", "recent_count", "baseline_per_window", "surge_ratio",
    ...              "is_surging"]].round(3).to_string(index=False))
    template_id  recent_count  baseline_per_window  surge_ratio  is_surging
             T1             0                  3.0          0.0       False
             T2             2                  1.0          2.0       False
    """
    scope = Scope(None, until, service, host, component, level, category, error_type)
    return _activity(
        source,
        scope,
        window,
        baseline_windows,
        min_count,
        factor,
        "is_surging",
        "surge_ratio DESC NULLS LAST, recent_count DESC, template_id",
        limit,
        min_history=min_history,
        sigmas=sigmas,
    )


def precursor_patterns(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    window: str | timedelta = "15m",
    by: By = "service",
    min_support: int = 3,
    limit: int | None = 20,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
) -> pd.DataFrame:
    """Patterns that turn up in the ``window`` before failures more than elsewhere, by lift.

    - A **failure onset** is a failure event of a unit (``by``: the service by default; None
      for the whole system) with no failure of that unit in the ``window`` before it.
    - Each non-failure event in scope is **in a pre-failure window** when its unit's next
      onset comes after it within ``window``.
    - Per pattern: ``occurrences``; ``in_window``, those in pre-failure windows;
      ``failures_preceded``, the distinct onsets it preceded (its support); ``coverage`` =
      failures_preceded / onsets; ``confidence`` = in_window / occurrences; and ``lift`` =
      confidence / (the share of all events in scope that are in pre-failure windows).  Lift
      compares against events rather than time, so a pattern is not favoured merely for being
      busy when the system is busy.  1 means no association, 3 three times as likely before a
      failure as overall.
    - Patterns with ``failures_preceded >= min_support`` only, the highest lift first.

    ``level``, ``category`` and ``error_type`` choose the candidate events only; failure
    onsets are found among all events of the units and the window in scope.

    Returns
    -------
    DataFrame
        ``template_id``, ``template`` (str), ``occurrences``, ``in_window``,
        ``failures_preceded``, ``onsets`` (int64), ``coverage``, ``confidence``, ``lift``,
        ``mean_lead_s`` (float64: mean seconds from an occurrence in a window to the onset).

    Examples
    --------
    >>> from faultcast.analytics import example_store, precursor_patterns
    >>> found = precursor_patterns(example_store(), window="5m", min_support=1)
    >>> print(found[["template_id", "occurrences", "in_window", "failures_preceded", "onsets",
    ...              "lift"]].round(2).to_string(index=False))
    template_id  occurrences  in_window  failures_preceded  onsets  lift
             T2            3          3                  1       2  2.29
             T3            1          1                  1       2  2.29
             T9            2          2                  1       2  2.29
             T1            4          1                  1       2  0.57
    """
    units = grouping(by, allowed=("service", "host", "component"))
    seconds = parse_duration(window, "window")
    scope = Scope(since, until, service, host, component, level, category, error_type)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        resolved = scope.window(con)
        where = scope.where(q, resolved)
        unit_where = scope.where(q, resolved, only=("service", "host", "component"))
        w_us = q.param(round(seconds * 1e6), "BIGINT")
        unit_cols = "".join(f"{u}, " for u in units)
        partition = f"PARTITION BY {', '.join(units)}" if units else ""
        match = "".join(f"c.{u} IS NOT DISTINCT FROM o.{u} AND " for u in units)
        # Each onset's window [onset - window, onset) lies in at most two slots of the window's
        # width, so joining events to onsets on (unit, slot) finds every event in a window
        # with an equi-join, and an event is in at most one window (onsets of a unit are more
        # than a window apart).
        slot = f"epoch_us(ts) // {w_us}"
        sql = f"""
            WITH fail AS (
                SELECT {unit_cols}ts, lag(ts) OVER ({partition} ORDER BY ts) AS prev
                FROM store.events WHERE failure AND {unit_where}
            ), onsets AS MATERIALIZED (
                SELECT {unit_cols}ts AS onset_ts, row_number() OVER (ORDER BY ts) AS onset
                FROM fail WHERE prev IS NULL OR ts - prev > to_microseconds({w_us})
            ), slots AS (
                SELECT {unit_cols}onset_ts, onset, unnest([{slot} - 1, {slot}]) AS slot
                FROM (SELECT *, onset_ts AS ts FROM onsets)
            ), candidates AS (
                SELECT {unit_cols}ts, template_id, {slot} AS slot
                FROM store.events WHERE NOT coalesce(failure, FALSE) AND {where}
            ), hits AS (
                SELECT c.template_id, o.onset, epoch(o.onset_ts - c.ts) AS lead_s
                FROM candidates c JOIN slots o ON {match}o.slot = c.slot
                    AND c.ts < o.onset_ts AND c.ts >= o.onset_ts - to_microseconds({w_us})
            ), seen AS (
                SELECT template_id, count(*) AS occurrences FROM candidates GROUP BY template_id
            ), per AS (
                SELECT s.template_id, s.occurrences,
                    count(h.onset) AS in_window,
                    count(DISTINCT h.onset) AS failures_preceded,
                    avg(h.lead_s) AS mean_lead_s
                FROM seen s LEFT JOIN hits h ON h.template_id IS NOT DISTINCT FROM s.template_id
                GROUP BY s.template_id, s.occurrences
            ), rated AS (
                SELECT *, in_window / occurrences AS confidence,
                    confidence / nullif(sum(in_window) OVER () / sum(occurrences) OVER (), 0)
                        AS lift
                FROM per
            )
            SELECT c.template_id, {_STORED_TEXT} AS template, c.occurrences, c.in_window,
                c.failures_preceded, (SELECT count(*) FROM onsets) AS onsets,
                c.failures_preceded / nullif((SELECT count(*) FROM onsets), 0) AS coverage,
                c.confidence, c.lift, c.mean_lead_s
            FROM rated c LEFT JOIN store.patterns p ON p.template_id = c.template_id
            WHERE c.failures_preceded >= {q.param(int(min_support), "BIGINT")}
            ORDER BY c.lift DESC, c.failures_preceded DESC, c.template_id
            {q.limit(limit)}
        """
        return q.run(con, sql)

    return read(source, _PRECURSOR_SCHEMA, query)
