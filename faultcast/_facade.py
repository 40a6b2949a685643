"""The facade: ``faultcast.connect()`` returns a :class:`FaultCast` over one store."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from faultcast.ingest import Ingestor, IngestReport, Limits, Redactor, Store
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.jsonl import DEFAULT_LIMITS
from faultcast.ingest.schema import EVENT_COLUMNS

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
        path: str | os.PathLike[str] = "faultcast.duckdb",
        *,
        redact_patterns: Sequence[str | tuple[str, str]] = (),
        lock_timeout: float = 30.0,
        memory_limit: str | None = "512MB",
        limits: Limits = DEFAULT_LIMITS,
        masks: Sequence[str] = (),
    ) -> None:
        self.store = Store(path, lock_timeout=lock_timeout, memory_limit=memory_limit)
        self.redactor = Redactor(redact_patterns)
        for mask in masks:
            try:
                re.compile(mask)
            except re.error as e:
                raise ValueError(f"mask {mask!r} is not a regular expression: {e}") from e
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
        ingestor = Ingestor(self.store, redactor=self.redactor, limits=self.limits)
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
    """Open (creating on first write) the faultcast store at ``path``; ``":memory:"`` works."""
    if not isinstance(path, (str, os.PathLike)):
        paths = list(path)
        if len(paths) != 1:
            raise FaultcastError(
                "reading several shards as one is not supported yet; connect to one store"
            )
        path = paths[0]
    return FaultCast(path, **options)
