"""What each dashboard page shows, as plain data: one function per page, no Streamlit.

Each function takes the store (what :func:`faultcast.analytics.open_source` returns) and the
page's inputs, calls :mod:`faultcast.analytics` and :mod:`faultcast.models`, and returns a
frozen dataclass of DataFrames and numbers.  The pages call them through the cache of
:mod:`faultcast.dashboard._cache`; benchmarks and tests call them directly.

``since`` is a duration before the latest event (``"24h"``) or None for the whole history,
as for every metric.

Examples
--------
>>> from faultcast.analytics import example_store
>>> data = overview(example_store(), since=None)
>>> data.events, data.errors, round(data.error_rate, 3)
(19, 15, 0.789)
>>> data.recovery_success, data.units_at_risk, data.new_patterns
(0.7142857142857143, 0, 9)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import pandas as pd
from faultcast.analytics import (
    Metrics,
    StoreSource,
    failure_episodes,
    issue,
    issues,
    parse_duration,
    set_issue_status,
    store_status,
    unit_issues,
)
from faultcast.models import NotFittedError as RecommenderNotFitted
from faultcast.models import (
    RecoveryRecommender,
    Registry,
    drift_events,
    latest_predictions,
    retrain_runs,
)

#: The time ranges the sidebar offers: label -> ``since`` (None: the whole history).
TIME_RANGES: Final[dict[str, str | None]] = {
    "last hour": "1h",
    "last 6 hours": "6h",
    "last 24 hours": "24h",
    "last 7 days": "7d",
    "all": None,
}


#: "New" patterns on the Overview: first seen within this window before the latest event.
NEW_WINDOW: Final[str] = "1h"
#: The levels that make an error worth a person's attention (and an issue).
ERROR_LEVELS: Final[tuple[str, ...]] = ("warning", "error", "critical")


def _nan_to_none(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def bucket_for(since: str | None, span: timedelta | None = None) -> str:
    """A chart bucket that gives a readable number of points (about 50-300) for a range.

    >>> bucket_for("1h"), bucket_for("24h"), bucket_for("7d"), bucket_for(None, timedelta(days=22))
    ('1m', '5m', '1h', '6h')
    """
    seconds = parse_duration(since) if since else (span.total_seconds() if span else 86400.0)
    for width, name in ((3600 * 3, "1m"), (86400 * 1.5, "5m"), (86400 * 3, "15m")):
        if seconds <= width:
            return name
    return "1h" if seconds <= 86400 * 14 else "6h"


# ---------------------------------------------------------------------------------- status
@dataclass(frozen=True)
class Status:
    """What the store holds: whether there is anything to show yet."""

    events: int
    errors: int
    services: int
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None

    @property
    def empty(self) -> bool:
        """No events yet: the dashboard shows its first-run page."""
        return self.events == 0

    @property
    def span(self) -> timedelta | None:
        """Event time from the first event to the last."""
        if self.first_event is None or self.last_event is None:
            return None
        span: timedelta = (self.last_event - self.first_event).to_pytimedelta()
        return span


def status(source: StoreSource) -> Status:
    """Events, errors and services in the store and its first and last event time.

    >>> from faultcast.analytics import example_store
    >>> status(example_store()).events, status(example_store()).empty
    (19, False)
    """
    row = store_status(source).iloc[0]
    first = None if pd.isna(row["first_event"]) else pd.Timestamp(row["first_event"])
    last = None if pd.isna(row["last_event"]) else pd.Timestamp(row["last_event"])
    return Status(int(row["events"]), int(row["errors"]), int(row["services"]), first, last)


# ---------------------------------------------------------------------------------- overview
@dataclass(frozen=True)
class Overview:
    """The Overview page: KPI tiles, the seed scorecard, errors over time, risk now."""

    events: int
    errors: int
    error_rate: float | None
    recovery_success: float | None
    mean_recovery_ms: float | None
    units_at_risk: int
    units_predicted: int
    new_patterns: int
    scorecard: pd.DataFrame
    errors_over_time: pd.DataFrame
    risk_now: pd.DataFrame
    #: The width of the buckets of ``errors_over_time``.
    bucket: str = "5m"
    #: What the error rate divides by: ``calls`` (reported by the app) or ``logged events``.
    error_rate_basis: str = "logged events"


def overview(source: StoreSource, since: str | None = "24h") -> Overview:
    """KPIs over the window: error rate, recovery success, mean recovery time, new patterns
    (first seen in the window), units whose latest prediction alerts; the scorecard; errors
    per category over time; the riskiest units now."""
    metrics = Metrics(source)
    rate = metrics.error_rate(by=None, since=since)
    success = metrics.recovery_success(by=None, since=since)
    timing = metrics.recovery_time(by=None, since=since)
    new = metrics.new_patterns(window=NEW_WINDOW, limit=None, level=list(ERROR_LEVELS))
    card = metrics.scorecard(since=since)
    width = bucket_for(since, status(source).span if since is None else None)
    trend = metrics.error_frequency(by="category", since=since, bucket=width)
    risk = latest_predictions(source)
    return Overview(
        events=int(rate["events"].iloc[0]) if len(rate) else 0,
        errors=int(rate["errors"].iloc[0]) if len(rate) else 0,
        error_rate=_nan_to_none(rate["error_rate"].iloc[0]) if len(rate) else None,
        recovery_success=_nan_to_none(success["success_rate"].iloc[0]) if len(success) else None,
        mean_recovery_ms=_nan_to_none(timing["mean_ms"].iloc[0]) if len(timing) else None,
        units_at_risk=int(risk["alert"].astype(bool).sum()) if len(risk) else 0,
        units_predicted=len(risk),
        new_patterns=len(new),
        scorecard=card,
        errors_over_time=trend,
        risk_now=risk[
            ["unit", "probability", "threshold", "alert", "made_at", "model_version", "status"]
        ].head(10),
        bucket=width,
        error_rate_basis=(
            str(rate["error_rate_basis"].iloc[0])
            if len(rate) and "error_rate_basis" in rate.columns
            else "logged events"
        ),
    )


# ---------------------------------------------------------------------------------- now
#: A unit is failing now when it had a failure within this of the newest event.
FAILING_WINDOW: Final[str] = "15m"
#: The Overview lists the failure episodes that ended within this of the newest event.
RECENT_WINDOW: Final[str] = "1h"
#: A store whose newest event is this close to the wall clock is live ("now" is now).
LIVE_WITHIN: Final[timedelta] = timedelta(minutes=30)
#: Issues listed per unit.
ISSUES_PER_UNIT: Final[int] = 3

_ISSUE_BRIEF: Final[tuple[str, ...]] = (
    "id", "title", "status", "level", "error_type", "recovery", "recovery_success",
)  # fmt: skip


@dataclass(frozen=True)
class Now:
    """What is failing now, what will fail next and what to do: the top of the Overview.

    ``failing``: one row per failure episode that ended within :data:`RECENT_WINDOW` of now,
    those still failing first: ``unit``, ``onset``, ``last_failure``, ``failures``,
    ``failing_now``, then the episode's top issue (``issue_id``, ``issue_title``,
    ``issue_status``, ``issue_events``: its events in the episode), ``recovery`` and
    ``recovery_success`` (the recorded action that worked best for that issue), and
    ``other_issues`` (the next ones, as ``(id, title, events)``).

    ``at_risk``: one row per unit the production model alerts on now (and not failing now):
    ``unit``, ``probability``, ``threshold``, ``why`` (the model's reasons), and the unit's
    top issue of the last :data:`FAILING_WINDOW` with its recovery, as above.
    """

    as_of: pd.Timestamp | None
    live: bool
    failing: pd.DataFrame
    at_risk: pd.DataFrame
    model_status: str = ""


def _reasons(explanation: Any) -> str:
    try:
        items = json.loads(explanation) if isinstance(explanation, str) and explanation else []
    except json.JSONDecodeError:
        return ""
    if not isinstance(items, list):
        return ""
    return "; ".join(str(i.get("text", "")) for i in items[:3] if isinstance(i, dict))


def _briefs(source: StoreSource, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The issues ``ids`` (title, status, recovery ...) by id."""
    if not ids:
        return {}
    found = issues(source, id=sorted(set(ids)), limit=None)
    return {r["id"]: {k: r[k] for k in _ISSUE_BRIEF} for r in found.to_dict("records")}


def _with_top_issue(
    rows: pd.DataFrame,
    ids: list[list[str]],
    counts: list[list[int]],
    briefs: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    top_id, title, status, events, action, success, others = [], [], [], [], [], [], []
    for listed, numbers in zip(ids, counts, strict=True):
        known = [(i, n) for i, n in zip(listed, numbers, strict=True) if i in briefs]
        first = briefs[known[0][0]] if known else {}
        top_id.append(first.get("id"))
        title.append(first.get("title"))
        status.append(first.get("status"))
        events.append(known[0][1] if known else 0)
        action.append(first.get("recovery"))
        rate = first.get("recovery_success")
        success.append(None if rate is None or pd.isna(rate) else float(rate))
        others.append([(i, briefs[i]["title"], n) for i, n in known[1:]])
    return rows.assign(
        issue_id=top_id,
        issue_title=title,
        issue_status=status,
        issue_events=events,
        recovery=action,
        recovery_success=pd.array(success, dtype="Float64"),
        other_issues=others,
    )


def now(source: StoreSource, *, wall_clock: pd.Timestamp | None = None) -> Now:
    """The units failing now or recently and those at risk, each with its top issue and the
    recommended recovery (see :class:`Now`).

    >>> from faultcast.analytics import example_store
    >>> found = now(example_store())
    >>> found.failing[["unit", "failing_now", "failures"]].to_dict("records")
    [{'unit': 'payments', 'failing_now': True, 'failures': 1}, {'unit': 'checkout', \
'failing_now': False, 'failures': 2}]
    >>> found.live
    False
    """
    state = status(source)
    if state.last_event is None:
        empty = pd.DataFrame()
        return Now(None, False, empty, empty)
    clock = wall_clock if wall_clock is not None else pd.Timestamp.now(tz="UTC")
    live = abs(clock - state.last_event) <= LIVE_WITHIN
    episodes = failure_episodes(
        source, since=RECENT_WINDOW, active=FAILING_WINDOW, issues=ISSUES_PER_UNIT
    )
    failing_units = set(episodes.loc[episodes["failing_now"].fillna(False), "unit"])
    risk = latest_predictions(source)
    alerts = risk[risk["alert"].astype(bool) & ~risk["unit"].isin(failing_units)]
    recent = unit_issues(
        source, since=FAILING_WINDOW, service=list(alerts["unit"]), limit=ISSUES_PER_UNIT
    ) if len(alerts) else pd.DataFrame({"unit": [], "id": [], "events": []})  # fmt: skip
    risk_ids = [recent.loc[recent["unit"] == u, "id"].tolist() for u in alerts["unit"]]
    risk_counts = [recent.loc[recent["unit"] == u, "events"].tolist() for u in alerts["unit"]]
    briefs = _briefs(
        source,
        [i for ids in episodes["issue_ids"] for i in ids] + [i for ids in risk_ids for i in ids],
    )
    failing = _with_top_issue(
        episodes.drop(columns=["issue_ids", "issue_events", "now"]),
        list(episodes["issue_ids"]),
        list(episodes["issue_events"]),
        briefs,
    )
    at_risk = _with_top_issue(
        pd.DataFrame(
            {
                "unit": alerts["unit"].astype(str).tolist(),
                "probability": alerts["probability"].astype(float).tolist(),
                "threshold": alerts["threshold"].astype(float).tolist(),
                "why": [_reasons(e) for e in alerts["explanation"]],
            }
        ),
        risk_ids,
        risk_counts,
        briefs,
    )
    return Now(
        as_of=state.last_event,
        live=bool(live),
        failing=failing.reset_index(drop=True),
        at_risk=at_risk.reset_index(drop=True),
        model_status="" if risk.empty else str(risk["status"].iloc[0]),
    )


# ---------------------------------------------------------------------------------- issues
#: Issue statuses in the order the Issues page offers them; "unresolved" ones by default.
ISSUE_STATUSES: Final[tuple[str, ...]] = ("open", "regressed", "resolved", "ignored")
UNRESOLVED: Final[tuple[str, ...]] = ("open", "regressed")
#: How the stream sorts: label -> ``sort`` of :func:`faultcast.analytics.issues`.
ISSUE_SORTS: Final[dict[str, str]] = {
    "last seen": "last_seen",
    "events": "count",
    "trend (rising fastest)": "trend",
}
#: Issues the stream shows at most.
ISSUE_LIMIT: Final[int] = 200
#: Issues the dashboard reads at most for one range (their counts per status, the filters).
ISSUE_LIMIT_ALL: Final[int] = 100_000


@dataclass(frozen=True)
class IssueStream:
    """The Issues page: the issues that match, and how many of each status in the range."""

    stream: pd.DataFrame
    counts: dict[str, int]
    services: list[str]


def issue_stream(
    source: StoreSource,
    since: str | None = "24h",
    *,
    status: list[str] | None = None,
    service: list[str] | None = None,
    sort: str = "last_seen",
    limit: int = ISSUE_LIMIT,
) -> IssueStream:
    """Issues with events in the range (``status``/``service``: keep those, None or empty:
    all), sorted by ``sort`` (``last_seen``, ``count`` or ``trend``), at most ``limit``; and
    the count per status and the services of all the issues in the range (one read).

    >>> from faultcast.analytics import example_store
    >>> found = issue_stream(example_store(), None, status=["open"], sort="count")
    >>> found.counts["open"] == len(found.stream), found.services
    (True, ['checkout', 'payments'])
    """
    every = issues(source, since=since, sort=sort, limit=None)
    counts = {s: int((every["status"] == s).sum()) for s in ISSUE_STATUSES}
    names = {n.strip() for text in every["service"].dropna() for n in str(text).split(",")}
    whole = IssueStream(every, counts, sorted(n for n in names if n))
    return filter_stream(whole, status, service, limit)


def filter_stream(
    found: IssueStream,
    status: list[str] | None = None,
    service: list[str] | None = None,
    limit: int = ISSUE_LIMIT,
) -> IssueStream:
    """``found`` with only the issues of ``status`` and ``service`` (None or empty: all), at
    most ``limit``; the counts and services stay those of the whole range."""
    stream = found.stream
    keep = pd.Series(True, index=stream.index)
    if status:
        keep &= stream["status"].isin(status)
    if service:
        wanted = set(service)
        keep &= pd.Series(
            [bool(wanted & {n.strip() for n in str(t).split(",")}) for t in stream["service"]],
            index=stream.index,
        )
    return IssueStream(
        stream[keep].head(limit).reset_index(drop=True), found.counts, found.services
    )


def issue_detail(source: StoreSource, issue_id: str) -> dict[str, Any]:
    """One issue with its sample events (message, traceback) and status changes."""
    found: dict[str, Any] = issue(source, issue_id)
    return found


def change_issue_status(
    paths: tuple[str, ...] | list[str],
    issue_id: str,
    status: str,
    *,
    actor: str | None = None,
    until: str | None = None,
    until_count: int | None = None,
    in_next_release: bool = False,
) -> dict[str, Any]:
    """Resolve, ignore or reopen an issue in every store of ``paths`` that holds it (the one
    write the dashboard makes); returns its new state.  No store holding it raises
    :class:`LookupError`."""
    changed: dict[str, Any] | None = None
    for path in paths:
        try:
            changed = set_issue_status(
                path, issue_id, status, actor=actor, until=until, until_count=until_count,
                in_next_release=in_next_release, reason="from the dashboard",
            )  # fmt: skip
        except LookupError:
            continue  # a shard without this issue
    if changed is None:
        raise LookupError(f"no issue {issue_id!r} in {', '.join(map(str, paths))}")
    return changed


# ---------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class FilterOptions:
    """The values the Errors page's filters offer (those seen in the window)."""

    services: list[str]
    categories: list[str]
    levels: list[str]


def filter_options(source: StoreSource, since: str | None = None) -> FilterOptions:
    """Services, categories and levels of the errors in the window, sorted.

    >>> from faultcast.analytics import example_store
    >>> filter_options(example_store()).services
    ['checkout', 'payments']
    """
    seen = Metrics(source).error_frequency(by=["service", "category", "level"], since=since)
    order = {"debug": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}
    return FilterOptions(
        services=sorted(seen["service"].dropna().unique().tolist()),
        categories=sorted(seen["category"].dropna().unique().tolist()),
        levels=sorted(seen["level"].dropna().unique().tolist(), key=lambda v: order.get(v, 9)),
    )


@dataclass(frozen=True)
class Errors:
    """The Errors page: errors per bucket and group, and the totals per group."""

    bucket: str
    over_time: pd.DataFrame
    totals: pd.DataFrame
    rates: pd.DataFrame


def errors(
    source: StoreSource,
    since: str | None = "24h",
    *,
    by: str = "category",
    service: list[str] | None = None,
    category: list[str] | None = None,
    level: list[str] | None = None,
    bucket: str | None = None,
) -> Errors:
    """Error frequency over time per ``by`` group, with the filters (None: everything)."""
    metrics = Metrics(source)
    width = bucket or bucket_for(since, status(source).span if since is None else None)
    filters: dict[str, Any] = {"service": service, "category": category, "level": level}
    return Errors(
        bucket=width,
        over_time=metrics.error_frequency(by=by, bucket=width, since=since, **filters),
        totals=metrics.error_frequency(by=by, since=since, **filters),
        rates=metrics.error_rate(by="service", since=since, **filters),
    )


# ---------------------------------------------------------------------------------- patterns
@dataclass(frozen=True)
class Patterns:
    """The Patterns page: top, new, surging and precursor patterns."""

    top: pd.DataFrame
    new: pd.DataFrame
    surging: pd.DataFrame
    precursors: pd.DataFrame


def patterns(
    source: StoreSource,
    since: str | None = "24h",
    *,
    window: str = "1h",
    service: list[str] | None = None,
    limit: int = 20,
) -> Patterns:
    """The most frequent patterns in the range; new and surging ones in the last ``window``;
    precursors of failures over the range."""
    metrics = Metrics(source)
    return Patterns(
        top=metrics.top_patterns(since=since, limit=limit, service=service),
        new=metrics.new_patterns(window=window, limit=limit, service=service),
        surging=metrics.surging_patterns(window=window, limit=limit, service=service),
        precursors=metrics.precursor_patterns(since=since, limit=limit, service=service),
    )


# ---------------------------------------------------------------------------------- recovery
@dataclass(frozen=True)
class Recovery:
    """The Recovery page: success by action x category, times, retries, advice now."""

    success: pd.DataFrame
    times: pd.DataFrame
    times_by_outcome: pd.DataFrame
    retries: pd.DataFrame
    advice: pd.DataFrame
    advice_note: str = ""


_ADVICE_COLUMNS: Final[dict[str, str]] = {
    "category": "str",
    "error_type": "str",
    "errors": "int64",
    "action": "str",
    "expected_success": "float64",
    "confidence": "float64",
    "automate": "bool",
    "alternatives": "str",
    "reason": "str",
}


def recommender(source: StoreSource) -> RecoveryRecommender:
    """A recovery recommender that has learned every outcome recorded in the store."""
    return RecoveryRecommender.from_store(source)


def recommendations(
    source: StoreSource,
    since: str | None = "24h",
    *,
    service: list[str] | None = None,
    top: int = 8,
    learned: RecoveryRecommender | None = None,
) -> tuple[pd.DataFrame, str]:
    """What the recovery recommender would do now for the ``top`` most frequent kinds of
    error (category x error type) in the range, with a note when it has learned nothing yet.

    ``learned`` is a recommender that has learned the store already (the dashboard keeps one
    for a few minutes); by default one learns the store's outcomes now."""
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _ADVICE_COLUMNS.items()})
    kinds = Metrics(source).error_frequency(
        by=["category", "error_type"], since=since, service=service
    )
    if kinds.empty:
        return empty, "no errors in this range"
    advisor = learned if learned is not None else recommender(source)
    rows = []
    for kind in kinds.head(top).itertuples():
        try:
            advice = advisor.recommend({"category": kind.category, "error_type": kind.error_type})
        except RecommenderNotFitted as e:
            return empty, str(e)
        rows.append(
            {
                "category": kind.category,
                "error_type": kind.error_type,
                "errors": int(kind.errors),
                "action": advice.action,
                "expected_success": advice.expected_success,
                "confidence": advice.confidence,
                "automate": advice.automate,
                "alternatives": ", ".join(
                    f"{a.action} "
                    + ("untried" if a.expected_success is None else f"{a.expected_success:.0%}")
                    for a in advice.alternatives
                ),
                "reason": advice.reason,
            }
        )
    return pd.DataFrame(rows).astype(_ADVICE_COLUMNS), ""


def recovery(
    source: StoreSource,
    since: str | None = "24h",
    *,
    service: list[str] | None = None,
    learned: RecoveryRecommender | None = None,
) -> Recovery:
    """Recovery success per action x category, recovery times per action and per outcome,
    retries, and the recommender's advice for the frequent errors now (``learned``: as for
    :func:`recommendations`)."""
    metrics = Metrics(source)
    advice, note = recommendations(source, since, service=service, learned=learned)
    return Recovery(
        success=metrics.recovery_success(since=since, service=service),
        times=metrics.recovery_time(by="recovery_action", since=since, service=service),
        times_by_outcome=metrics.recovery_time(
            by=["recovery_action", "recovery_outcome"], since=since, service=service
        ),
        retries=metrics.retry_attempts(since=since, service=service),
        advice=advice,
        advice_note=note,
    )


# ---------------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class Predictions:
    """The Predictions page: risk now with why, the risk timeline, past prediction quality."""

    risk_now: pd.DataFrame
    contributions: pd.DataFrame
    timeline: pd.DataFrame
    quality: pd.DataFrame
    quality_over_time: pd.DataFrame
    calibration: pd.DataFrame


def contributions(risk: pd.DataFrame) -> pd.DataFrame:
    """The features behind each unit's latest risk, from the predictions' ``explanation``
    JSON: ``unit``, ``feature``, ``value``, ``contribution``, ``text``.

    >>> risk = pd.DataFrame({"unit": ["api"], "explanation": [
    ...     '[{"feature": "errors_5", "value": 4.0, "contribution": 0.3, "text": "4 errors"}]']})
    >>> contributions(risk)[["unit", "feature", "contribution"]]
      unit   feature  contribution
    0  api  errors_5           0.3
    """
    rows: list[dict[str, Any]] = []
    for unit, text in zip(risk["unit"], risk["explanation"], strict=True):
        try:
            items = json.loads(text) if isinstance(text, str) and text else []
        except json.JSONDecodeError:
            items = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and "feature" in item:
                rows.append(
                    {
                        "unit": unit,
                        "feature": str(item["feature"]),
                        "value": _nan_to_none(item.get("value")),
                        "contribution": _nan_to_none(item.get("contribution")),
                        "text": str(item.get("text", "")),
                    }
                )
    columns = {"unit": "str", "feature": "str", "value": "float64", "contribution": "float64"}
    columns["text"] = "str"
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    return pd.DataFrame(rows).astype(columns)


def predictions(
    source: StoreSource, since: str | None = "24h", *, service: list[str] | None = None
) -> Predictions:
    """Each unit's latest risk and its contributing features, the risk timeline with the
    failure onsets, and precision, recall and lead time of the predictions in the range."""
    metrics = Metrics(source)
    risk = latest_predictions(source)
    if service:
        risk = risk[risk["unit"].isin(service)]
    return Predictions(
        risk_now=risk.drop(columns=["explanation"]).reset_index(drop=True),
        contributions=contributions(risk),
        timeline=metrics.risk_timeline(since=since, service=service),
        quality=metrics.prediction_quality(since=since, service=service),
        quality_over_time=metrics.prediction_quality(
            since=since, service=service, bucket=bucket_for(since) if since else "1h"
        ),
        calibration=metrics.prediction_calibration(since=since, service=service),
    )


# ---------------------------------------------------------------------------------- security
@dataclass(frozen=True)
class Security:
    """The Security page: authentication failures, violations, incidents and lockouts."""

    auth_failures: pd.DataFrame
    auth_over_time: pd.DataFrame
    violations: pd.DataFrame
    incidents: pd.DataFrame
    lockouts: pd.DataFrame
    response: pd.DataFrame
    #: The width of the buckets of ``auth_over_time``.
    bucket: str = "1h"


def security(
    source: StoreSource, since: str | None = "24h", *, service: list[str] | None = None
) -> Security:
    """Authentication failures (per service, and over time), authorisation violations,
    incidents, the lockouts among their responses, and the time to respond."""
    metrics = Metrics(source)
    width = bucket_for(since, status(source).span if since is None else None)
    incidents = metrics.security_incidents(since=since, service=service)
    lockouts = incidents[incidents["response_action"].fillna("").str.contains("lock")]
    return Security(
        auth_failures=metrics.authentication_failure_rate(since=since, service=service),
        auth_over_time=metrics.authentication_failure_rate(
            since=since, service=service, bucket=width
        ),
        violations=metrics.authorization_violations(since=since, service=service),
        incidents=incidents,
        lockouts=lockouts.reset_index(drop=True),
        response=metrics.security_response_time(since=since, service=service),
        bucket=width,
    )


# ---------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class Models:
    """The Models page: registry versions, their metrics over time, drift, retrains."""

    versions: pd.DataFrame
    version_metrics: pd.DataFrame
    quality_over_time: pd.DataFrame
    drift: pd.DataFrame
    retrains: pd.DataFrame
    last_retrain: dict[str, Any] = field(default_factory=dict)
    #: The width of the buckets of ``quality_over_time``.
    bucket: str = "1h"


def _version_metrics(versions: pd.DataFrame) -> pd.DataFrame:
    """One row per version and metric from the registry's ``metrics`` JSON (the holdout's
    numbers when a retrain scored it, else the top-level numbers)."""
    rows: list[dict[str, Any]] = []
    for row in versions.itertuples():
        try:
            found = json.loads(row.metrics) if isinstance(row.metrics, str) else {}
        except json.JSONDecodeError:
            found = {}
        numbers = found.get("holdout", found) if isinstance(found, dict) else {}
        if not isinstance(numbers, dict):
            continue
        for name in ("pr_auc", "precision", "recall", "f1"):
            value = numbers.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rows.append(
                    {
                        "name": row.name,
                        "version": int(row.version),
                        "created_at": row.created_at,
                        "status": row.status,
                        "metric": name,
                        "value": float(value),
                    }
                )
    if not rows:
        return pd.DataFrame(
            {
                "name": pd.Series(dtype="str"),
                "version": pd.Series(dtype="int64"),
                "created_at": pd.Series(dtype="datetime64[us, UTC]"),
                "status": pd.Series(dtype="str"),
                "metric": pd.Series(dtype="str"),
                "value": pd.Series(dtype="float64"),
            }
        )
    return pd.DataFrame(rows)


def _versions_table(versions: pd.DataFrame) -> pd.DataFrame:
    """The registry's versions with their holdout numbers as columns (``pr_auc``,
    ``precision``, ``recall``, ``f1``; NaN where a version has none), not as JSON."""
    table = versions.drop(columns=["params", "metrics"], errors="ignore")
    numbers = _version_metrics(versions)
    if numbers.empty:
        return table
    wide = numbers.pivot_table(index=["name", "version"], columns="metric", values="value")
    wide = wide.reindex(columns=[c for c in ("pr_auc", "precision", "recall", "f1") if c in wide])
    return table.merge(wide.reset_index(), on=["name", "version"], how="left")


def models(source: StoreSource, since: str | None = None) -> Models:
    """Registry versions (newest first) with their metrics, the stored predictions' quality
    per bucket, drift events and retrain runs (the last one on its own)."""
    store = source
    versions = Registry(store).versions()
    runs = retrain_runs(store)
    last: dict[str, Any] = {}
    if len(runs):
        first = runs.iloc[0]
        last = {k: first[k] for k in ("started_at", "trigger", "decision", "reason")}
        last["promoted_version"] = first["promoted_version"]
    width = bucket_for(since, status(source).span if since is None else None)
    return Models(
        versions=_versions_table(versions),
        version_metrics=_version_metrics(versions),
        quality_over_time=Metrics(source).prediction_quality(since=since, bucket=width),
        drift=drift_events(store),
        retrains=runs,
        last_retrain=last,
        bucket=width,
    )
