"""Open what the metrics read: one store file, or several shards read as one.

The dashboard may not import :mod:`faultcast.ingest` (layers), so it opens its store here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final, TypeAlias

import duckdb
import pandas as pd
from faultcast.analytics._sql import COUNT, IS_ERROR, TIME, Source, frame, read
from faultcast.ingest import Store
from faultcast.ingest.shards import ShardedStore

#: What :func:`open_source` returns: one store file, or shards read as one.
StoreSource: TypeAlias = Store | ShardedStore


def open_source(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    lock_timeout: float = 30.0,
    memory_limit: str | None = "512MB",
    threads: int | None = None,
) -> StoreSource:
    """A read source over ``paths``: a :class:`Store` for one path, a
    :class:`ShardedStore` for several.

    The file is attached only for each read, and a read that finds it held by a writer (an
    ``ingest --follow`` committing a chunk) retries for up to ``lock_timeout`` seconds, so the
    source can be kept open for as long as the caller likes.  A path that does not exist yet
    reads as an empty store (every metric returns an empty frame).

    Examples
    --------
    >>> from faultcast.analytics import Metrics, open_source
    >>> source = open_source([":memory:"])
    >>> Metrics(source).error_frequency().empty
    True
    >>> open_source(["a.duckdb", "b.duckdb"])   # doctest: +ELLIPSIS
    ShardedStore(...)
    """
    if isinstance(paths, (str, os.PathLike)):
        listed: list[str | os.PathLike[str]] = [paths]
    else:
        listed = list(paths)
    if not listed:
        raise ValueError("open_source needs at least one store path")
    if len(listed) == 1:
        return Store(
            listed[0], lock_timeout=lock_timeout, memory_limit=memory_limit, threads=threads
        )
    return ShardedStore(
        listed, lock_timeout=lock_timeout, memory_limit=memory_limit, threads=threads
    )


_STATUS: Final[list[tuple[str, str]]] = [
    ("events", COUNT),
    ("errors", COUNT),
    ("services", COUNT),
    ("first_event", TIME),
    ("last_event", TIME),
]


def store_status(source: Source) -> pd.DataFrame:
    """What a store holds, in one row: ``events``, ``errors`` and ``services`` (int64),
    ``first_event`` and ``last_event`` (datetime64[us, UTC], NaT when empty).

    A store file not written yet reads as zero events (the dashboard's first-run page).

    Examples
    --------
    >>> from faultcast.analytics import example_store, store_status
    >>> store_status(example_store())[["events", "errors", "services"]]
       events  errors  services
    0      19      15         2
    >>> int(store_status(open_source("never-written.duckdb"))["events"].iloc[0])
    0
    """

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        return con.execute(
            f"""SELECT count(*) AS events, count(*) FILTER (WHERE {IS_ERROR}) AS errors,
                    count(DISTINCT service) AS services, min(ts) AS first_event,
                    max(ts) AS last_event
                FROM store.events"""
        ).df()

    df = read(source, _STATUS, query)
    if df.empty:
        df = frame(
            pd.DataFrame(
                {
                    "events": [0],
                    "errors": [0],
                    "services": [0],
                    "first_event": pd.Series([pd.NaT], dtype=TIME),
                    "last_event": pd.Series([pd.NaT], dtype=TIME),
                }
            ),
            _STATUS,
        )
    return df
