"""The facade: ``faultcast.connect()`` returns a :class:`FaultCast` over one store.

It holds no SQL: reads go through :mod:`faultcast.analytics` (the one read path), writes and
models through :mod:`faultcast.ingest` and :mod:`faultcast.models`.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from faultcast.analytics import Metrics, store_summary
from faultcast.analytics import events as read_events
from faultcast.analytics import issue as read_issue
from faultcast.analytics import issue_changes as read_issue_changes
from faultcast.analytics import issues as read_issues
from faultcast.analytics import patterns as read_patterns
from faultcast.analytics import quarantine as read_quarantine
from faultcast.analytics import set_issue_status as write_issue_status
from faultcast.ingest import Ingestor, IngestReport, Limits, Redactor
from faultcast.ingest.durations import parse_duration
from faultcast.ingest.jsonl import DEFAULT_LIMITS
from faultcast.ingest.opening import open_store, writable
from faultcast.ingest.store import Store, StoreReader

if TYPE_CHECKING:
    import pandas as pd

    from faultcast.models.recommend import Recommendation, RecoveryRecommender
    from faultcast.models.registry import Registry

__all__ = ["FaultCast", "connect", "parse_duration"]


class FaultCast:
    """A connection to a faultcast store.

    Examples
    --------
    >>> import faultcast
    >>> fc = faultcast.connect(":memory:")
    >>> fc.events().empty
    True
    """

    def __init__(
        self,
        path: str
        | os.PathLike[str]
        | Sequence[str | os.PathLike[str]]
        | Store = "faultcast.duckdb",
        *,
        redact_patterns: Sequence[str | tuple[str, str]] = (),
        lock_timeout: float = 30.0,
        memory_limit: str | None = "512MB",
        limits: Limits = DEFAULT_LIMITS,
        masks: Sequence[str] = (),
    ) -> None:
        # An open Store is used as is (``faultcast serve --http`` reads through its writer's).
        self.store: StoreReader = (
            path
            if isinstance(path, Store)
            else open_store(path, lock_timeout=lock_timeout, memory_limit=memory_limit)
        )
        #: Every metric of :mod:`faultcast.analytics` over this store: ``fc.metrics.error_rate()``.
        self.metrics = Metrics(self.store)
        self.redactor = Redactor(redact_patterns)
        for mask in masks:
            try:
                re.compile(mask)
            except re.error as e:
                raise ValueError(f"mask {mask!r} is not a regular expression: {e}") from e
        self._predictions: tuple[Any, pd.DataFrame] | None = None
        self._recommenders: dict[Any, RecoveryRecommender] = {}
        self.limits = dataclasses.replace(
            limits, extra_masks=tuple(limits.extra_masks) + tuple(masks)
        )

    @property
    def path(self) -> str:
        return str(self.store.path)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> FaultCast:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"faultcast.connect({self.store.path!r})"

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        format: str = "auto",
        log_format: str | None = None,
        session_key: str | None = None,
        service: str | None = None,
        *,
        follow: bool = False,
        from_start: bool = False,
        **options: Any,
    ) -> IngestReport:
        """Ingest files (``"-"`` for stdin) and return a report with read/stored/duplicates/quarantined.

        ``format``: ``"json"``, ``"text"`` (with ``log_format``, logparser's syntax, e.g.
        ``"<Date> <Time> <Pid> <Level> <Component>: <Content>"``; without it the layout is
        detected from each file's first lines) or ``"auto"``.
        ``session_key``: a JSON field name, or a regular expression whose first match in the
        message is the key (``"blk_-?[0-9]+"``).  ``service`` names the service of events that
        carry none.  Options of :meth:`faultcast.ingest.Ingestor.run` (``time_format``, ``year``,
        ``follow``...) pass through.  Re-ingesting the same input stores nothing twice.
        """
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        store = self._writable("ingest")
        ingestor = Ingestor(store, redactor=self.redactor, limits=self.limits)
        return ingestor.run(
            paths,
            format=format,
            service=service,
            session_key=session_key,
            log_format=log_format,
            follow=follow,
            from_start=from_start,
            **options,
        )

    def _writable(self, what: str) -> Store:
        return writable(self.store, what)

    # ------------------------------------------------------------------ reads
    def events(
        self,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        **filters: str | Sequence[str] | None,
    ) -> pd.DataFrame:
        """Stored events, oldest first (``newest_first=True``: the latest first), filtered by
        time (a datetime, ISO 8601 text, or a duration before the latest event such as
        ``"1h"``) and by any of service, host, component, level, category, error_type,
        template_id, session_key (a value or a list of values).
        See :func:`faultcast.analytics.events`."""
        return read_events(
            self.store,
            since=since,
            until=until,
            limit=limit,
            newest_first=newest_first,
            **_filters(filters, read_events),
        )

    def patterns(
        self,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        new: bool = False,
        surging: bool = False,
        window: str = "1h",
        baseline_windows: int = 24,
        limit: int | None = 20,
        **filters: str | Sequence[str] | None,
    ) -> pd.DataFrame:
        """The message patterns, most frequent first, each flagged new or surging by the one
        rule of :func:`faultcast.analytics.patterns` (see there for the columns).

        ``new=True`` / ``surging=True`` keep only those (surging ones by surge ratio).
        Filters as in :meth:`events` (service, level, category, ...)."""
        return read_patterns(
            self.store,
            since=since,
            until=until,
            new=new,
            surging=surging,
            window=window,
            baseline_windows=baseline_windows,
            limit=limit,
            **_filters(filters, read_patterns),
        )

    def quarantine(self, *, source: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Quarantined input: source, source_offset, raw (redacted), reason, ingested_at."""
        return read_quarantine(self.store, source=source, limit=limit)

    # ------------------------------------------------------------------ issues
    def issues(
        self,
        status: str | Sequence[str] | None = None,
        service: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        *,
        until: datetime | str | None = None,
        sort: str = "last_seen",
        limit: int | None = 100,
    ) -> pd.DataFrame:
        """Issues (errors grouped by fingerprint), newest last seen first: id, title, status,
        count, first_seen, last_seen, service, error_type, level, sessions, users, releases,
        trend, recovery, ...  See :func:`faultcast.analytics.issues`."""
        return read_issues(
            self.store,
            status=status,
            service=service,
            since=since,
            until=until,
            sort=sort,
            limit=limit,
        )

    def issue(self, id: str) -> dict[str, Any]:  # noqa: A002 - the issue id
        """One issue with its latest sample events (message, traceback) and its status
        changes.  See :func:`faultcast.analytics.issue`."""
        return read_issue(self.store, id)

    def issue_changes(self, id: str | None = None) -> pd.DataFrame:  # noqa: A002
        """Status changes of every issue (or of issue ``id``), newest first, with who and why."""
        return read_issue_changes(self.store, id)

    def resolve_issue(
        self,
        id: str,  # noqa: A002
        in_next_release: bool = False,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Resolve an issue; it becomes ``regressed`` when it recurs (``in_next_release``: only
        on an event of a release other than its latest).  ``actor`` defaults to the OS user."""
        return write_issue_status(
            self._writable("resolve an issue"),
            id,
            "resolved",
            actor=actor,
            reason=reason,
            in_next_release=in_next_release,
        )

    def ignore_issue(
        self,
        id: str,  # noqa: A002
        for_: str | float | timedelta | None = None,
        until_count: int | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Ignore an issue: for good, for a while (``for_="2h"``), or until ``until_count`` more
        events; it reopens when that expires."""
        return write_issue_status(
            self._writable("ignore an issue"),
            id,
            "ignored",
            actor=actor,
            reason=reason,
            until=for_,
            until_count=until_count,
        )

    def reopen_issue(
        self,
        id: str,  # noqa: A002
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Set an issue (resolved, ignored or regressed) back to ``open``."""
        return write_issue_status(
            self._writable("reopen an issue"), id, "open", actor=actor, reason=reason
        )

    # ------------------------------------------------------------------ models
    @property
    def registry(self) -> Registry:
        """The model registry (versions, promote, rollback)."""
        from faultcast.models.registry import Registry

        return Registry(self._writable("keep models"))

    def models(self, name: str | None = None) -> pd.DataFrame:
        """Model versions, newest first: name, version, created_at, status, bytes, metrics, params."""
        return self.registry.versions(name)

    def learn(
        self,
        *,
        unit: str = "service",
        horizon: str | float = "15m",
        tick: str | float = "1m",
        progress: Callable[[int, int], None] | None = None,
        sessions: bool = False,
        session_column: str = "session_key",
        session_idle: str | float = "5m",
    ) -> dict[str, Any]:
        """Feed the events not learned yet through the failure model; store its predictions.

        Resumable and idempotent: a second call on an unchanged store learns nothing.
        ``unit``, ``horizon`` and ``tick`` apply to the first run on a store (later runs
        continue the stored model).  Returns what was learned and the model version written.
        ``sessions=True`` also learns every session (``session_column``) that ended (no event
        for ``session_idle``) since the last run, and stores a prediction per session; its
        summary is under ``"sessions"``.
        """
        from faultcast.models.features import UnitFeatureSpec
        from faultcast.models.learn import learn as learn_units
        from faultcast.models.learn import learn_sessions

        spec = UnitFeatureSpec(
            unit=unit, horizon_s=int(parse_duration(horizon)), tick_s=int(parse_duration(tick))
        )
        store = self._writable("learn")
        summary: dict[str, Any] = learn_units(store, spec, progress=progress)
        if sessions:
            summary["sessions"] = learn_sessions(
                store, session_column=session_column, idle=parse_duration(session_idle)
            )
        self._predictions = None
        return summary

    def predict_failure(
        self, unit: str | None = None, horizon: str | float = "15m"
    ) -> pd.DataFrame:
        """Risk of a failure within ``horizon`` per unit, as of the last learned tick.

        Columns: unit, risk (probability), alert (risk at or above the alert threshold and
        the unit not already failing), threshold, anomaly_score (the strongest surge of any
        signal, in standard deviations), as_of, horizon_s, model_version, top_features (why,
        in words, for the riskiest units).  Highest risk first.  Served from memory: the store
        is read again only when its file changed.
        """
        seconds = parse_duration(horizon)
        frame = self._latest_predictions()
        if not frame.empty and float(frame["horizon_s"].iloc[0]) != seconds:
            have = float(frame["horizon_s"].iloc[0])
            raise ValueError(
                f"the model predicts {have / 60:g} min ahead, not {seconds / 60:g} min; "
                f"learn a new store with `faultcast learn --horizon {seconds / 60:g}m`"
            )
        if unit is not None:
            frame = frame[frame["unit"].to_numpy() == unit]
        return frame

    # ------------------------------------------------------------------ recovery
    def recommender(
        self, *, since: Any = None, unit: str = "service", refresh: bool = False
    ) -> RecoveryRecommender:
        """The recovery recommender learned from this store's recorded outcomes (kept in memory
        until the store changes)."""
        state = self.store.change_marker()
        if state is None:  # in memory: changes only through this process, by ingest
            state = tuple(self.store.counts().values())
        key = (str(since), unit, state)
        if refresh or key not in self._recommenders:
            from faultcast.models.recommend import RecoveryRecommender

            self._recommenders.clear()
            self._recommenders[key] = RecoveryRecommender.from_store(
                self.store,
                since=since,
                unit=unit,
                seed=0,
            )
        return self._recommenders[key]

    def recommend(
        self,
        error: Mapping[str, Any] | BaseException | str,
        *,
        actions: Any = None,
        since: Any = None,
        unit: str = "service",
    ) -> Recommendation:
        """The recovery most likely to work for an error, learned from the outcomes in the store.

        ``error``: an event row or dict (``category``, ``error_type``, ``message``, ``service``,
        ``recent_error_rate``), an exception, or an error type (``"TimeoutError"``).  Returns the
        action, its expected success, the alternatives, and whether it is confident enough to
        automate (``.to_dict()`` for JSON).  ``actions`` limits the choice to what you can do.
        Raises NotFittedError (a ValueError) when the store holds no recovery outcome.
        """
        if isinstance(error, str):
            error = {"error_type": error}
        return self.recommender(since=since, unit=unit).recommend(error, actions=actions)

    def policy(self, service: str | None = None, *, unit: str = "service") -> pd.DataFrame:
        """The learned recovery policy, compact, for an application to cache: per error class
        the action, its expected success and whether to automate it
        (:meth:`faultcast.models.RecoveryRecommender.policy`); empty with no outcome stored."""
        return self.recommender(unit=unit).policy(service)

    def _latest_predictions(self) -> pd.DataFrame:
        key = self.store.change_marker()
        cached = self._predictions
        if cached is not None and key is not None and cached[0] == key:
            return cached[1]
        from faultcast.models.learn import current_risk

        frame = current_risk(self.store)
        self._predictions = (key, frame)
        return frame

    def backtest(
        self,
        mode: str = "unit",
        *,
        unit_column: str = "service",
        horizon: str | float = "15m",
        tick: str | float = "1m",
        labels: str | os.PathLike[str] | dict[str, bool] | None = None,
        unsupervised: bool = False,
        session_column: str = "session_key",
        progress: Callable[[int, int], None] | None = None,
        rows: bool = False,
    ) -> dict[str, Any]:
        """Replay the history in time order (predict first, learn when the label is due).

        Returns precision, recall, f1, pr_auc, alerts, positives, median_lead_time_s and, under
        ``baselines``, the same for a static error-rate threshold and a batch scikit-learn model
        (both on the second half of the history).  ``mode="session"`` scores sessions, with
        labels from ``labels`` (CSV ``key,label``) or from failure events, or ``unsupervised``.
        ``rows=True`` (unit mode) adds ``rows`` (every prediction of the replay, a DataFrame)
        and ``onsets`` (the failure onsets) for curves of your own.
        """
        if isinstance(labels, os.PathLike):
            labels = str(labels)
        from faultcast.models.backtest import backtest as run_backtest

        result: dict[str, Any] = run_backtest(
            self.store,
            mode,
            unit_column=unit_column,
            horizon=parse_duration(horizon),
            tick=parse_duration(tick),
            labels=labels,
            unsupervised=unsupervised,
            session_column=session_column,
            progress=progress,
            rows=rows,
        )
        return result

    def retrain(
        self,
        *,
        since: str | float = "30d",
        holdout: str | float = "1d",
        margin: float | None = None,
        trigger: str = "manual",
    ) -> dict[str, Any]:
        """Rebuild the failure model from history, score candidates on the most recent
        ``holdout`` (never trained on), promote the best only if it beats production by
        ``margin`` PR-AUC.  Returns the run's record: ``promoted``, ``decision``, ``reason``,
        ``candidates``, ``production``, ``split``.  ``margin`` defaults to
        :data:`faultcast.models.retrain.DEFAULT_MARGIN` (0.01)."""
        from faultcast.models.retrain import DEFAULT_MARGIN
        from faultcast.models.retrain import retrain as run_retrain

        result: dict[str, Any] = run_retrain(
            self._writable("retrain"),
            since=parse_duration(since),
            holdout=parse_duration(holdout),
            margin=DEFAULT_MARGIN if margin is None else margin,
            trigger=trigger,
        )
        self._predictions = None
        return result

    def retrain_runs(self) -> pd.DataFrame:
        """Past retrains, newest first, with their decision and reason."""
        from faultcast.models.retrain import retrain_runs

        return retrain_runs(self.store)

    def summary(self) -> dict[str, Any]:
        """Counts of the whole store: events, quarantined, services, levels, categories, time
        span (:func:`faultcast.analytics.store_summary`)."""
        summary: dict[str, Any] = store_summary(self.store)
        return summary


#: Keyword arguments of the read functions that are not event filters.
_NOT_FILTERS = frozenset(
    {
        "since",
        "until",
        "limit",
        "newest_first",
        "new",
        "surging",
        "window",
        "baseline_windows",
        "min_count",
        "factor",
    }
)


def _filters(
    given: dict[str, str | Sequence[str] | None], read: Callable[..., Any]
) -> dict[str, Any]:
    """``given`` when each is an event filter of ``read`` (a clear error names the others)."""
    allowed = [
        name
        for name, p in inspect.signature(read).parameters.items()
        if p.kind is p.KEYWORD_ONLY and name not in _NOT_FILTERS
    ]
    unknown = set(given) - set(allowed)
    if unknown:
        raise TypeError(f"unknown filters {sorted(unknown)}; use {list(allowed)}")
    return given


def connect(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "faultcast.duckdb",
    **options: Any,
) -> FaultCast:
    """Open (creating on first write) the faultcast store at ``path``; ``":memory:"`` works; a
    list of paths reads those shards as one (read-only: ingest, learn and retrain need one)."""
    return FaultCast(path, **options)
