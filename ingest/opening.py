"""Opening a store: the one place that decides what a path (or a list of paths) means.

One path is a :class:`~faultcast.ingest.store.Store` (``":memory:"`` included); several are
shards read as one, a :class:`~faultcast.ingest.shards.ShardedStore`.  Both satisfy
:class:`~faultcast.ingest.store.StoreReader`, which is what every reader is typed against.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.shards import ShardedStore
from faultcast.ingest.store import Store

PathLike = str | os.PathLike[str]


def open_store(
    paths: PathLike | Sequence[PathLike],
    *,
    lock_timeout: float = 30.0,
    memory_limit: str | None = "512MB",
    threads: int | None = None,
) -> Store | ShardedStore:
    """A :class:`Store` for one path, a :class:`ShardedStore` for several (read-only).

    The file is attached only for each read or write batch, and an attach that finds it held
    by another process retries for up to ``lock_timeout`` seconds, so the result can be kept
    open for as long as the caller likes.  A path that does not exist yet reads as an empty
    store and is created on the first write.

    Examples
    --------
    >>> open_store(":memory:")
    Store(':memory:')
    >>> open_store([":memory:"])
    Store(':memory:')
    >>> open_store(["a.duckdb", "b.duckdb"])   # doctest: +ELLIPSIS
    ShardedStore(...)
    """
    if isinstance(paths, (str, os.PathLike)):
        listed: list[PathLike] = [paths]
    else:
        listed = list(paths)
    if not listed:
        raise FaultcastError("a store needs a path, or a list of shard paths")
    if len(listed) == 1:
        return Store(
            listed[0], lock_timeout=lock_timeout, memory_limit=memory_limit, threads=threads
        )
    return ShardedStore(
        listed, lock_timeout=lock_timeout, memory_limit=memory_limit, threads=threads
    )


def writable(store: object, what: str = "write") -> Store:
    """``store`` when it can be written (one :class:`Store`); shards read as one cannot.

    >>> writable(Store(":memory:"))
    Store(':memory:')
    """
    if isinstance(store, Store):
        return store
    raise FaultcastError(
        f"several shards are read as one, never written: connect to one shard "
        f"(faultcast.connect(path)) to {what} into it"
    )
