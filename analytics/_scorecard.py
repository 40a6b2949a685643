"""The seed's success criteria, each with its current value and whether it is met."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Final, NamedTuple

import duckdb
import pandas as pd
from faultcast.analytics._degradation import degradation_query
from faultcast.analytics._sql import (
    FLAG,
    FLOAT,
    IS_ERROR,
    TEXT,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    read,
)
from faultcast.ingest.schema import ERROR_TYPE_RULES, MESSAGE_RULES


class Criterion(NamedTuple):
    criterion: str
    description: str
    target: float
    comparison: str


#: The criteria, in the order of the scorecard.
CRITERIA: Final[tuple[Criterion, ...]] = (
    Criterion("recovery_success_rate", "recovery attempts that succeeded", 0.999, ">="),
    Criterion("degraded_share", "share of unit-minutes failed or degraded by errors", 0.01, "<"),
    Criterion("mean_error_handling_ms", "mean time to handle an error (recovery_ms)", 100.0, "<"),
    Criterion("auto_recovered_share", "errors recovered automatically", 0.8, ">="),
    Criterion(
        "security_errors_logged", "security errors stored, not lost to quarantine", 1.0, ">="
    ),
)

_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    "<": operator.lt,
}

_SCHEMA: Final[list[tuple[str, str]]] = [
    ("criterion", TEXT),
    ("description", TEXT),
    ("value", FLOAT),
    ("target", FLOAT),
    ("comparison", TEXT),
    ("passed", FLAG),
    ("evidence", TEXT),
]


def _security_pattern() -> str:
    rules = [rx for cat, rx in ERROR_TYPE_RULES if cat == "security"]
    rules += [rx for cat, rx in MESSAGE_RULES if cat == "security"]
    return "(?i)" + "|".join(f"(?:{rx})" for rx in rules)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def scorecard(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
) -> pd.DataFrame:
    """The seed's success criteria: one row each, with its value now and whether it passes.

    =========================  =======  ================================================
    criterion                  target   value
    =========================  =======  ================================================
    recovery_success_rate      >= 99.9% succeeded / (succeeded + failed) recovery attempts
    degraded_share             < 1%     failed or degraded unit-minutes / unit-minutes
                                        (:func:`~faultcast.analytics._degradation` by
                                        service, its defaults)
    mean_error_handling_ms     < 100    mean ``recovery_ms`` of recovery attempts
    auto_recovered_share       >= 80%   errors whose recovery succeeded / errors
    security_errors_logged     100%     security events stored / (those + quarantined
                                        lines that look like security errors: the
                                        store's security rules; the quarantine is
                                        counted whole, whatever the window and filters)
    =========================  =======  ================================================

    A criterion with nothing to measure (no recoveries, no errors...) has value NaN and
    ``passed`` NA; with no events in scope at all the frame is empty.

    Returns
    -------
    DataFrame
        ``criterion``, ``description`` (str), ``value``, ``target`` (float64),
        ``comparison`` (str: ``>=`` or ``<``), ``passed`` (boolean, NA without data),
        ``evidence`` (str: the counts behind the value).

    Examples
    --------
    >>> from faultcast.analytics import example_store, scorecard
    >>> print(scorecard(example_store())[["criterion", "value", "passed"]].to_string(index=False))
                 criterion       value  passed
     recovery_success_rate    0.714286   False
            degraded_share    0.034884   False
    mean_error_handling_ms 1299.285714   False
      auto_recovered_share    0.333333   False
    security_errors_logged    1.000000    True
    """
    scope = Scope(since, until, service, host, component)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        q = Sql()
        window = scope.window(con)
        where = scope.where(q, window)
        row = con.execute(
            f"""
            SELECT
                count(*) FILTER (WHERE recovery_outcome = 'succeeded'
                                 AND recovery_action IS NOT NULL),
                count(*) FILTER (WHERE recovery_outcome = 'failed' AND recovery_action IS NOT NULL),
                avg(recovery_ms) FILTER (WHERE recovery_action IS NOT NULL),
                count(recovery_ms) FILTER (WHERE recovery_action IS NOT NULL),
                count(*) FILTER (WHERE {IS_ERROR}),
                count(*) FILTER (WHERE {IS_ERROR} AND recovery_outcome = 'succeeded'),
                count(*) FILTER (WHERE category = 'security'),
                count(*)
            FROM store.events WHERE {where}
            """,
            q.params,
        ).fetchall()[0]
        succeeded, failed, mean_ms, timed, errors, recovered, security, events = row
        if not events:
            return None
        lost = con.execute(
            "SELECT count(*) FROM store.quarantine WHERE regexp_matches(raw, $pattern)",
            {"pattern": _security_pattern()},
        ).fetchall()[0][0]
        degraded = degradation_query(con, scope, ["service"], None, "1m", 3.0, 3)
        if degraded is None or degraded.empty:
            unhealthy, periods = 0, 0
        else:
            unhealthy = int((degraded["failed_periods"] + degraded["degraded_periods"]).sum())
            periods = int(degraded["periods"].sum())
        values: list[tuple[float | None, str]] = [
            (
                _ratio(succeeded, succeeded + failed),
                f"{succeeded:,} of {succeeded + failed:,} attempts",
            ),
            (_ratio(unhealthy, periods), f"{unhealthy:,} of {periods:,} unit-minutes"),
            (None if mean_ms is None else float(mean_ms), f"over {timed:,} timed recoveries"),
            (_ratio(recovered, errors), f"{recovered:,} of {errors:,} errors"),
            (_ratio(security, security + lost), f"{security:,} stored, {lost:,} quarantined"),
        ]
        rows = []
        for c, (value, evidence) in zip(CRITERIA, values, strict=True):
            passed = None if value is None else _COMPARE[c.comparison](value, c.target)
            rows.append((*c[:2], value, c.target, c.comparison, passed, evidence))
        df = pd.DataFrame(rows, columns=[name for name, _ in _SCHEMA])
        df["value"] = df["value"].astype(FLOAT)
        return df

    return read(source, _SCHEMA, query)
