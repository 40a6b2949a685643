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
    #: The criterion in the seed's words.
    seed_words: str


#: The criteria, in the order of the scorecard.
CRITERIA: Final[tuple[Criterion, ...]] = (
    Criterion(
        "recovery_success_rate",
        "handled errors whose call was recovered (by the first action or a follow-up)",
        0.999,
        ">=",
        ">= 99.9% recovery success",
    ),
    Criterion(
        "degraded_share",
        "share of unit-minutes failed or degraded by errors",
        0.01,
        "<",
        "< 1% degradation",
    ),
    Criterion(
        "mean_error_handling_ms",
        "mean time from an error to the end of its handling (recovery_ms)",
        100.0,
        "<",
        "< 100 ms mean error-handling time",
    ),
    Criterion(
        "auto_recovered_share",
        "errors of the common classes recovered automatically: chosen and run by the SDK "
        "without a person (the guard's automated field)",
        0.8,
        ">=",
        ">= 80% of common errors recovered automatically",
    ),
    Criterion(
        "security_errors_logged",
        "security errors stored, not lost to quarantine",
        1.0,
        ">=",
        "every security error logged",
    ),
)

#: The error classes making up this share of errors are the common ones.
COMMON_SHARE: Final[float] = 0.8

#: An error to recover: an exception (an error type), or an event at error level or worse.
#: A warning without an exception is a signal (a gauge, a slow call), not an error handled.
ERROR_TO_RECOVER: Final[str] = (
    f"({IS_ERROR} AND (error_type IS NOT NULL OR level IN ('error', 'critical')))"
)
#: A handled error: one with a recovery action (pre-emptive measures are not errors).
HANDLED: Final[str] = (
    f"({ERROR_TO_RECOVER} AND recovery_action IS NOT NULL "
    "AND NOT starts_with(recovery_action, 'preempt_'))"
)
#: Its call was recovered: the first action worked, or a follow-up did (the guard's
#: ``recovery_chain`` ends with a success).
RECOVERED: Final[str] = (
    "(recovery_outcome = 'succeeded' OR coalesce("
    "json_extract_string(attrs, '$.recovery_chain[#-1]') LIKE '%:succeeded', false))"
)
#: Chosen and run by the SDK without a person: the guard's ``automated`` field.
AUTOMATED: Final[str] = "coalesce(TRY_CAST(json_extract(attrs, '$.automated') AS BOOLEAN), false)"
#: The event says whether its recovery was automated.
SAYS_AUTOMATED: Final[str] = "json_extract(attrs, '$.automated') IS NOT NULL"

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
    ("seed_criterion", TEXT),
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

    ======================  ========  ====================================================
    criterion               target    value
    ======================  ========  ====================================================
    recovery_success_rate   >= 99.9%  handled errors whose call was recovered / handled
                                      errors
    degraded_share          < 1%      failed or degraded unit-minutes / unit-minutes
                                      (:func:`~faultcast.analytics._degradation` by
                                      service, its defaults)
    mean_error_handling_ms  < 100     mean ``recovery_ms`` of handled errors (the p99 is
                                      in the evidence)
    auto_recovered_share    >= 80%    errors of the common classes recovered
                                      automatically / errors of the common classes
    security_errors_logged  100%      security events stored / (those + quarantined
                                      lines that look like security errors: the
                                      store's security rules; the quarantine is
                                      counted whole, whatever the window and filters)
    ======================  ========  ====================================================

    The definitions:

    - an **error** is an event with an error type (an exception), or at level error or
      worse; a warning without an exception (a gauge, a slow call) is a signal, not an
      error to recover;
    - a **handled** error has a ``recovery_action`` (not a pre-emptive ``preempt_*``
      measure, which is no error);
    - **recovered**: its first action worked (``recovery_outcome``), or a follow-up did (the
      guard's ``recovery_chain`` ends with a success);
    - **automated**: the recovery was chosen and run by the SDK without a person, as the
      guard logs it (``automated``: the learned policy's automated action; a static
      default, an exploration or a person's choice is not automated);
    - **common** error classes (by error type, else category): the most frequent classes
      that together make up 80% of errors (the class that crosses 80% included).

    A criterion with nothing to measure (no handled errors, no errors, no event that says
    whether its recovery was automated...) has value NaN and ``passed`` NA; with no events
    in scope at all the frame is empty.

    Returns
    -------
    DataFrame
        ``criterion``, ``description`` (str), ``value``, ``target`` (float64),
        ``comparison`` (str: ``>=`` or ``<``), ``passed`` (boolean, NA without data),
        ``evidence`` (str: the counts behind the value), ``seed_criterion`` (str: the
        criterion in the seed's words).

    Examples
    --------
    >>> from faultcast.analytics import example_store, scorecard
    >>> print(scorecard(example_store())[["criterion", "value", "passed"]].to_string(index=False))
                 criterion       value  passed
     recovery_success_rate    0.714286   False
            degraded_share    0.034884   False
    mean_error_handling_ms 1299.285714   False
      auto_recovered_share         NaN    <NA>
    security_errors_logged    1.000000    True
    """
    scope = Scope(since, until, service, host, component)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
        q = Sql()
        window = scope.window(con)
        where = scope.where(q, window)
        row = con.execute(
            f"""
            WITH scoped AS (
                SELECT *, {ERROR_TO_RECOVER} AS is_error, {HANDLED} AS handled,
                    {RECOVERED} AS recovered, coalesce(error_type, category) AS error_class
                FROM store.events WHERE {where}
            ),
            classes AS (
                SELECT error_class, count(*) AS n FROM scoped WHERE is_error GROUP BY ALL
            ),
            ranked AS (
                SELECT error_class, n,
                    sum(n) OVER (ORDER BY n DESC, error_class ROWS UNBOUNDED PRECEDING) - n
                        AS before,
                    sum(n) OVER () AS total
                FROM classes
            ),
            common AS (SELECT error_class FROM ranked WHERE before < {COMMON_SHARE} * total)
            SELECT
                count(*) FILTER (WHERE handled AND recovered),
                count(*) FILTER (WHERE handled),
                avg(recovery_ms) FILTER (WHERE handled),
                quantile_cont(recovery_ms, 0.99) FILTER (WHERE handled),
                count(recovery_ms) FILTER (WHERE handled),
                count(*) FILTER (WHERE is_error AND error_class IN (SELECT * FROM common)),
                count(*) FILTER (WHERE handled AND recovered AND {AUTOMATED}
                                 AND error_class IN (SELECT * FROM common)),
                count(*) FILTER (WHERE handled AND {SAYS_AUTOMATED}),
                (SELECT string_agg(error_class, ', ' ORDER BY n DESC, error_class)
                 FROM ranked WHERE before < {COMMON_SHARE} * total),
                count(*) FILTER (WHERE category = 'security'),
                count(*)
            FROM scoped
            """,
            q.params,
        ).fetchall()[0]
        (
            recovered,
            handled,
            mean_ms,
            p99_ms,
            timed,
            common,
            automated,
            says,
            classes,
            security,
            events,
        ) = row
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
        p99 = "" if p99_ms is None else f"; p99 {p99_ms:,.0f} ms"
        if not says:
            auto: tuple[float | None, str] = (
                None,
                f"no handled error says whether its recovery was automated (the guard's "
                f"automated field); {common:,} errors of the common classes",
            )
        else:
            auto = (
                _ratio(automated, common),
                f"{automated:,} of {common:,} errors of the common classes ({classes}) "
                "recovered automatically",
            )
        values: list[tuple[float | None, str]] = [
            (_ratio(recovered, handled), f"{recovered:,} of {handled:,} handled errors recovered"),
            (_ratio(unhealthy, periods), f"{unhealthy:,} of {periods:,} unit-minutes"),
            (
                None if mean_ms is None else float(mean_ms),
                f"over {timed:,} timed handled errors{p99}",
            ),
            auto,
            (_ratio(security, security + lost), f"{security:,} stored, {lost:,} quarantined"),
        ]
        rows = []
        for c, (value, evidence) in zip(CRITERIA, values, strict=True):
            passed = None if value is None else _COMPARE[c.comparison](value, c.target)
            rows.append(
                (c.criterion, c.description, value, c.target, c.comparison, passed, evidence,
                 c.seed_words)
            )  # fmt: skip
        df = pd.DataFrame(rows, columns=[name for name, _ in _SCHEMA])
        df["value"] = df["value"].astype(FLOAT)
        return df

    return read(source, _SCHEMA, query)
