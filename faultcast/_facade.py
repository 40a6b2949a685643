"""The facade: ``faultcast.connect()`` returns a :class:`FaultCast` over one store."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from faultcast.analytics import Metrics
from faultcast.ingest import Ingestor, IngestReport, Limits, Redactor, Store
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.jsonl import DEFAULT_LIMITS
from faultcast.ingest.schema import EVENT_COLUMNS
from faultcast.ingest.shards import ShardedStore
from faultcast.models.backtest import backtest as run_backtest
from faultcast.models.features import UnitFeatureSpec
from faultcast.models.learn import latest_predictions, learn_sessions
from faultcast.models.learn import learn as learn_units
from faultcast.models.recommend import Recommendation, RecoveryRecommender
from faultcast.models.registry import Registry
from faultcast.models.retrain import DEFAULT_MARGIN, retrain_runs
from faultcast.models.retrain import retrain as run_retrain

_EVENT_FILTERS = (
    "service",
    "host",
    "component",
    "level",
    "category",
    "error_type",
    "template_id",
    "session_key",
)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration like ``"15m"``, ``"1h"``, ``"2d"`` or a number of seconds.

    >>> parse_duration("15m"), parse_duration("1.5h"), parse_duration(30)
    (900.0, 5400.0, 30.0)
    """
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 15m, 1h, 2d")
    return float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s").lower()]


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
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "faultcast.duckdb",
        *,
        redact_patterns: Sequence[str | tuple[str, str]] = (),
        lock_timeout: float = 30.0,
        memory_limit: str | None = "512MB",
        limits: Limits = DEFAULT_LIMITS,
        masks: Sequence[str] = (),
    ) -> None:
        self.store: Store | ShardedStore
        if isinstance(path, (str, os.PathLike)):
            self.store = Store(path, lock_timeout=lock_timeout, memory_limit=memory_limit)
        else:
            self.store = ShardedStore(
                list(path), lock_timeout=lock_timeout, memory_limit=memory_limit
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
        ``"<Date> <Time> <Pid> <Level> <Component>: <Content>"``) or ``"auto"``.
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
        if isinstance(self.store, ShardedStore):
            raise FaultcastError(
                f"several shards are read as one, never written: connect to one shard "
                f"(faultcast.connect(path)) to {what} into it"
            )
        return self.store

    # ------------------------------------------------------------------ reads
    def events(
        self,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        **filters: str | Sequence[str] | None,
    ) -> pd.DataFrame:
        """Stored events, oldest first, filtered by time and by any of
        service, host, component, level, category, error_type, template_id, session_key
        (a value or a list of values)."""
        where, params = self._where(since, until, filters)
        sql = f"SELECT * FROM store.events WHERE {where} ORDER BY ts, source, source_offset"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        if not self.store.exists():
            return pd.DataFrame({name: pd.Series(dtype="object") for name, _ in EVENT_COLUMNS})
        return self.store.query_df(sql, params)

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
        """The message patterns, most frequent first.

        Columns: template_id, template, count, services, first_seen, last_seen, example (a
        message of the pattern), error_count, failure_count, recent_count (in the last
        ``window`` before the latest event, or before ``until``), baseline_per_window (its mean
        count per window over the ``baseline_windows`` windows before that), surge_ratio,
        is_new (first seen within the last window) and is_surging (seen before, and now at
        least 5 and well above its own baseline: >= 3x + 3 sigma of a Poisson mean).

        ``new=True`` / ``surging=True`` keep only those (surging ones by surge ratio).
        Filters as in :meth:`events` (service, level, category, ...)."""
        seconds = parse_duration(window)
        where, params = self._where(since, until, filters)
        order = (
            "surge_ratio DESC NULLS LAST, recent_count DESC"
            if surging
            else "count DESC, template_id"
        )
        keep = ["TRUE"]
        if new:
            keep.append("is_new")
        if surging:
            keep.append("is_surging")
        sql = f"""
            WITH bounds AS (
                SELECT coalesce(?::TIMESTAMPTZ, max(ts)) AS now, to_seconds(?::DOUBLE) AS w FROM store.events
            ), counted AS (
                SELECT template_id, any_value(template) AS template, count(*) AS count,
                    count(DISTINCT service) AS services, min(ts) AS first_seen, max(ts) AS last_seen,
                    arg_min(message, ts) AS example,
                    count(*) FILTER (WHERE level IN ('error', 'critical')) AS error_count,
                    count(*) FILTER (WHERE failure) AS failure_count,
                    count(*) FILTER (WHERE ts > b.now - b.w AND ts <= b.now) AS recent_count,
                    count(*) FILTER (
                        WHERE ts > b.now - b.w * ({int(baseline_windows)} + 1) AND ts <= b.now - b.w
                    ) / {int(baseline_windows)}::DOUBLE AS baseline_per_window,
                    any_value(b.now) AS now, any_value(b.w) AS w
                FROM store.events, bounds b WHERE {where} GROUP BY template_id
            ), flagged AS (
                SELECT * EXCLUDE (now, w),
                    recent_count / nullif(baseline_per_window, 0) AS surge_ratio,
                    first_seen > now - w AS is_new,
                    first_seen <= now - w AND recent_count >= 5
                        AND recent_count >= 3 * baseline_per_window + 3 * sqrt(baseline_per_window) + 1
                        AS is_surging
                FROM counted
            )
            SELECT * FROM flagged WHERE {" AND ".join(keep)} ORDER BY {order}
        """
        params = [until, seconds, *params]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self.store.query_df(sql, params)

    def _where(
        self,
        since: datetime | str | None,
        until: datetime | str | None,
        filters: dict[str, str | Sequence[str] | None],
    ) -> tuple[str, list[Any]]:
        unknown = set(filters) - set(_EVENT_FILTERS)
        if unknown:
            raise TypeError(f"unknown filters {sorted(unknown)}; use {list(_EVENT_FILTERS)}")
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if since is not None:
            where.append("ts >= ?::TIMESTAMPTZ")
            params.append(since)
        if until is not None:
            where.append("ts < ?::TIMESTAMPTZ")
            params.append(until)
        for column, value in filters.items():
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(values)
        return " AND ".join(where), params

    def quarantine(self, *, source: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Quarantined input: source, source_offset, raw (redacted), reason, ingested_at."""
        sql = "SELECT * FROM store.quarantine"
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY source, source_offset"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self.store.query_df(sql, params)

    # ------------------------------------------------------------------ models
    @property
    def registry(self) -> Registry:
        """The model registry (versions, promote, rollback)."""
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

    def _file_state(self) -> Any:
        """What changes when the store's files change (None: cannot tell, read again)."""
        if isinstance(self.store, ShardedStore) or self.store.is_memory:
            return None
        try:
            st = os.stat(self.store.path)
        except FileNotFoundError:
            return "missing"
        wal = self.store.path + ".wal"
        wal_state = os.stat(wal).st_mtime_ns if os.path.exists(wal) else 0
        return (st.st_mtime_ns, st.st_size, wal_state)

    # ------------------------------------------------------------------ recovery
    def recommender(
        self, *, since: Any = None, unit: str = "service", refresh: bool = False
    ) -> RecoveryRecommender:
        """The recovery recommender learned from this store's recorded outcomes (kept in memory
        until the store changes)."""
        state = self._file_state()
        if state is None:
            marker = self.store.query_df(
                "SELECT count(*) AS n, max(ingested_at) AS last FROM store.events "
                "WHERE recovery_outcome IN ('succeeded', 'failed')"
            ).iloc[0]
            state = (int(marker["n"]), str(marker["last"]))
        key = (str(since), unit, state)
        if refresh or key not in self._recommenders:
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

    def _latest_predictions(self) -> pd.DataFrame:
        key = self._file_state()
        cached = self._predictions
        if cached is not None and key is not None and cached[0] == key:
            return cached[1]
        raw = pd.DataFrame() if key == "missing" else latest_predictions(self.store)
        frame = pd.DataFrame(
            {
                "unit": raw.get("unit", pd.Series(dtype=str)),
                "risk": raw.get("probability", pd.Series(dtype=float)),
                "alert": raw.get("alert", pd.Series(dtype=bool)),
                "threshold": raw.get("threshold", pd.Series(dtype=float)),
                "anomaly_score": raw.get("anomaly_score", pd.Series(dtype=float)),
                "as_of": raw.get("made_at", pd.Series(dtype="datetime64[ns, UTC]")),
                "horizon_s": raw.get("horizon_s", pd.Series(dtype=float)),
                "model_version": raw.get("model_version", pd.Series(dtype="Int64")),
                "top_features": [
                    [item["text"] for item in json.loads(e)] if isinstance(e, str) else []
                    for e in raw.get("explanation", pd.Series(dtype=object))
                ],
            }
        ).reset_index(drop=True)
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
        margin: float = DEFAULT_MARGIN,
        trigger: str = "manual",
    ) -> dict[str, Any]:
        """Rebuild the failure model from history, score candidates on the most recent
        ``holdout`` (never trained on), promote the best only if it beats production by
        ``margin`` PR-AUC.  Returns the run's record: ``promoted``, ``decision``, ``reason``,
        ``candidates``, ``production``, ``split``."""
        result: dict[str, Any] = run_retrain(
            self._writable("retrain"),
            since=parse_duration(since),
            holdout=parse_duration(holdout),
            margin=margin,
            trigger=trigger,
        )
        self._predictions = None
        return result

    def retrain_runs(self) -> pd.DataFrame:
        """Past retrains, newest first, with their decision and reason."""
        return retrain_runs(self.store)

    def summary(self) -> dict[str, Any]:
        """Counts of the whole store: events, quarantined, services, levels, categories, time span."""
        with self.store.reading() as con:
            row = con.execute(
                "SELECT count(*), count(DISTINCT service), min(ts), max(ts), "
                "count(*) FILTER (WHERE failure), count(DISTINCT template_id) FROM store.events"
            ).fetchall()[0]
            levels = dict(
                con.execute(
                    "SELECT level, count(*) FROM store.events GROUP BY ALL ORDER BY 2 DESC"
                ).fetchall()
            )
            cats = dict(
                con.execute(
                    "SELECT category, count(*) FROM store.events WHERE category IS NOT NULL "
                    "GROUP BY ALL ORDER BY 2 DESC"
                ).fetchall()
            )
            quarantined = con.execute("SELECT count(*) FROM store.quarantine").fetchall()[0][0]
        return {
            "events": int(row[0]),
            "services": int(row[1]),
            "first": row[2].isoformat() if row[2] else None,
            "last": row[3].isoformat() if row[3] else None,
            "failures": int(row[4]),
            "templates": int(row[5]),
            "levels": {k: int(v) for k, v in levels.items()},
            "categories": {k: int(v) for k, v in cats.items()},
            "quarantined": int(quarantined),
        }


def connect(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "faultcast.duckdb",
    **options: Any,
) -> FaultCast:
    """Open (creating on first write) the faultcast store at ``path``; ``":memory:"`` works; a
    list of paths reads those shards as one (read-only: ingest, learn and retrain need one)."""
    if not isinstance(path, (str, os.PathLike)):
        paths = list(path)
        if not paths:
            raise FaultcastError("connect() needs a path, or a list of shard paths")
        if len(paths) > 1:
            return FaultCast(paths, **options)
        path = paths[0]
    return FaultCast(path, **options)
