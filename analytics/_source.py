"""Open what the metrics read: one store file, or several shards read as one.

The dashboard may not import :mod:`faultcast.ingest` (layers), so it opens its store here.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import duckdb
import pandas as pd
from faultcast.analytics._sql import COUNT, IS_ERROR, TIME, Source, frame, read
from faultcast.ingest.opening import open_store
from faultcast.ingest.store import StoreReader

#: What :func:`open_source` returns: one store file, or shards read as one.
StoreSource: TypeAlias = StoreReader

#: A read source over one path or several (:func:`faultcast.ingest.opening.open_store`).
#: The dashboard may not import :mod:`faultcast.ingest` (layers), so it opens its store here.
#:
#: >>> from faultcast.analytics import Metrics, open_source
#: >>> Metrics(open_source([":memory:"])).error_frequency().empty
#: True
open_source = open_store


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
