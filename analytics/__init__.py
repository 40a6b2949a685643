"""faultcast.analytics: every query the dashboard, API and notebooks show, as DataFrames.

Each metric is a function ``metric(store, **options) -> DataFrame`` over a
:class:`faultcast.ingest.Store` (or several stores read as one, a
:class:`faultcast.ingest.shards.ShardedStore`), and a method of :class:`Metrics`, which
``faultcast.connect()`` offers as ``fc.metrics``.  Every metric runs with no arguments (the
whole history, sensible defaults) and takes, where they apply:

- ``since`` / ``until``: the window ``since <= ts < until``, each a datetime (naive is UTC),
  ISO 8601 text or a duration before the latest event (``"24h"``, ``"15m"``);
- ``service``, ``host``, ``component``, ``level``, ``category``, ``error_type``,
  ``template_id``: keep events with this value, or any of a list of values;
- ``by``: the columns to group by (one name, a list, or None);
- ``bucket``: a time bucket width (``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``), UTC-aligned.

Every frame has the columns and dtypes its docstring lists, also when nothing matches (an
empty store reads as empty frames).  Values reach DuckDB only as query parameters.

Examples
--------
>>> from faultcast.analytics import Metrics, example_store
>>> metrics = Metrics(example_store())
>>> metrics.error_frequency(by="service")[["service", "errors"]]
    service  errors
0  payments       8
1  checkout       7
>>> metrics.scorecard()["passed"].tolist()
[False, False, False, <NA>, True]
"""

from __future__ import annotations

from faultcast.analytics._alerts import (
    alert_history,
    alert_silences,
    alerts,
    quarantine_activity,
)
from faultcast.analytics._bind import metric
from faultcast.analytics._degradation import degradation
from faultcast.analytics._display import printable, printable_frame
from faultcast.analytics._events import events, quarantine, store_summary
from faultcast.analytics._example import example_store
from faultcast.analytics._frequency import error_frequency, error_rate
from faultcast.analytics._issues import issue, issue_changes, issues, set_issue_status
from faultcast.analytics._now import failure_episodes, unit_issues
from faultcast.analytics._patterns import (
    new_patterns,
    patterns,
    precursor_patterns,
    surging_patterns,
    top_patterns,
)
from faultcast.analytics._prediction import (
    prediction_calibration,
    prediction_quality,
    risk_timeline,
)
from faultcast.analytics._recovery import recovery_success, recovery_time, retry_attempts
from faultcast.analytics._scorecard import CRITERIA, scorecard
from faultcast.analytics._security import (
    authentication_failure_rate,
    authorization_violations,
    security_incidents,
    security_recovery_success,
    security_response_time,
)
from faultcast.analytics._source import StoreSource, open_source, store_status
from faultcast.analytics._sql import Source, parse_duration

__all__ = [
    "CRITERIA",
    "Metrics",
    "Source",
    "StoreSource",
    "alert_history",
    "alert_silences",
    "alerts",
    "authentication_failure_rate",
    "authorization_violations",
    "degradation",
    "error_frequency",
    "error_rate",
    "events",
    "failure_episodes",
    "example_store",
    "issue",
    "issue_changes",
    "issues",
    "new_patterns",
    "open_source",
    "parse_duration",
    "patterns",
    "precursor_patterns",
    "prediction_calibration",
    "prediction_quality",
    "printable",
    "printable_frame",
    "quarantine",
    "quarantine_activity",
    "recovery_success",
    "recovery_time",
    "retry_attempts",
    "risk_timeline",
    "scorecard",
    "security_incidents",
    "security_recovery_success",
    "security_response_time",
    "set_issue_status",
    "store_status",
    "store_summary",
    "surging_patterns",
    "top_patterns",
    "unit_issues",
]


class Metrics:
    """Every metric of :mod:`faultcast.analytics` as a method over one store (``fc.metrics``).

    ``Metrics(store).error_frequency(...)`` is ``error_frequency(store, ...)``; each method
    carries its function's documentation (``help(fc.metrics.error_frequency)``).  Metrics only
    read: they run while another process ingests (a read waits out a commit briefly).

    To add a metric, write ``def my_metric(source, *, since=None, ...) -> DataFrame`` in
    its own module of this package with the helpers of ``faultcast.analytics._sql`` (``Scope``
    for the window and filters, ``Sql`` for parameters, ``read`` and ``frame`` for typed
    frames), then add ``my_metric = metric(my_metric)`` below and its name
    to ``__all__``.

    Examples
    --------
    >>> from faultcast.analytics import Metrics, example_store
    >>> m = Metrics(example_store())
    >>> m.recovery_success(by="category")["attempts"].sum()
    np.int64(7)
    >>> sorted(name for name in dir(m) if not name.startswith("_"))[:3]
    ['authentication_failure_rate', 'authorization_violations', 'degradation']
    """

    def __init__(self, store: Source) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"Metrics({self.store!r})"

    # the stored events themselves
    events = metric(events)
    # frequency
    error_frequency = metric(error_frequency)
    error_rate = metric(error_rate)
    # recovery
    recovery_success = metric(recovery_success)
    recovery_time = metric(recovery_time)
    retry_attempts = metric(retry_attempts)
    # security
    authentication_failure_rate = metric(authentication_failure_rate)
    authorization_violations = metric(authorization_violations)
    security_recovery_success = metric(security_recovery_success)
    security_incidents = metric(security_incidents)
    security_response_time = metric(security_response_time)
    # degradation and the seed's criteria
    degradation = metric(degradation)
    scorecard = metric(scorecard)
    # patterns
    patterns = metric(patterns)
    top_patterns = metric(top_patterns)
    new_patterns = metric(new_patterns)
    surging_patterns = metric(surging_patterns)
    precursor_patterns = metric(precursor_patterns)
    # stored failure predictions
    prediction_quality = metric(prediction_quality)
    prediction_calibration = metric(prediction_calibration)
    risk_timeline = metric(risk_timeline)
    # issues (errors grouped by fingerprint)
    issues = metric(issues)
    # what is failing now: recent failure episodes and each unit's recent issues
    failure_episodes = metric(failure_episodes)
    unit_issues = metric(unit_issues)
