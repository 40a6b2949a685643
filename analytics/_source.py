"""Open what the metrics read: one store file, or several shards read as one.

The dashboard may not import :mod:`faultcast.ingest` (layers), so it opens its store here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from faultcast.ingest import Store
from faultcast.ingest.shards import ShardedStore


def open_source(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    lock_timeout: float = 30.0,
    memory_limit: str | None = "512MB",
    threads: int | None = None,
) -> Store | ShardedStore:
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
