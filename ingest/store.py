"""The DuckDB store: migrations, short-lived write sessions, reads that wait out a writer.

DuckDB lets no second process open a file while a writer holds it, not even read-only.  So the
store never keeps the file open: all work happens on an in-memory *scratch* connection, and the
file is ``ATTACH``-ed as ``store`` only for one read or one batch commit, then detached.  A
reader or writer that finds the file locked retries with backoff for ``lock_timeout`` seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import duckdb
import pandas as pd
from faultcast.ingest._duck import MEMORY, attach_waiting, scratch_connection
from faultcast.ingest._log import get_logger
from faultcast.ingest.errors import StorageError
from faultcast.ingest.migrations import LATEST_VERSION, MIGRATIONS

log = get_logger(__name__)

__all__ = ["MEMORY", "Store", "StoreReader", "file_state"]


@runtime_checkable
class StoreReader(Protocol):
    """What every reader of a store needs (models, analytics, the dashboard): a
    :class:`Store` or several shards read as one (:class:`~faultcast.ingest.shards.ShardedStore`).

    Tables read as ``store.<name>`` inside :meth:`reading`.
    """

    @property
    def path(self) -> str: ...

    @property
    def is_memory(self) -> bool: ...

    def exists(self) -> bool: ...

    def reading(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def query_df(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> pd.DataFrame: ...

    def schema_version(self) -> int: ...

    def counts(self) -> dict[str, int]: ...

    def change_marker(self) -> object | None: ...

    def close(self) -> None: ...


def file_state(path: str) -> object:
    """What changes when a store file (or its WAL) changes: size and modification times."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    try:
        wal: object = os.stat(path + ".wal").st_mtime_ns
    except FileNotFoundError:
        wal = 0
    return (st.st_mtime_ns, st.st_size, wal)


def _has_events(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store being migrated (the current database) has an event yet."""
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchall()[0][0])


class Store:
    """A faultcast store: one DuckDB file (or ``":memory:"``).

    Parameters
    ----------
    path
        The DuckDB file; created with the schema on first write.  ``":memory:"`` keeps
        everything in this process.
    lock_timeout
        Seconds to keep retrying while another process holds the file.
    memory_limit
        DuckDB's memory limit for this process's work (bounds ingest's peak memory).

    Examples
    --------
    >>> store = Store(":memory:")
    >>> store.schema_version() >= 1
    True
    >>> int(store.query_df("SELECT count(*) AS n FROM store.events")["n"][0])
    0
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "faultcast.duckdb",
        *,
        lock_timeout: float = 30.0,
        memory_limit: str | None = "512MB",
        threads: int | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.path = MEMORY if str(path) == MEMORY else str(Path(path).expanduser().resolve())
        self.lock_timeout = lock_timeout
        # Stores of one file in one process share a lock (the file lock guards only between
        # processes): ``faultcast serve --http`` writes and reads through several.
        self._lock = lock or threading.RLock()
        # Ingest checkpoints once at the end of a run (:meth:`checkpoint`), not on each detach.
        self._con: duckdb.DuckDBPyConnection = scratch_connection(memory_limit, threads)
        self._attached = False
        self._read_only_attach = False
        if self.is_memory:
            self._con.execute("ATTACH ':memory:' AS store")
            self._attached = True
            self._migrate()

    # ------------------------------------------------------------------ plumbing
    @property
    def is_memory(self) -> bool:
        return bool(self.path == MEMORY)

    @property
    def lock(self) -> threading.RLock:
        """Held while the file is attached (a read or a commit); pass it to another Store of
        the same file in this process."""
        return self._lock

    @property
    def scratch(self) -> duckdb.DuckDBPyConnection:
        """The in-memory connection all work runs on (the store is attached to it as ``store``)."""
        return self._con

    def exists(self) -> bool:
        """Whether there is a store to read (a file with at least the first migration)."""
        return self.is_memory or Path(self.path).exists()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def _attach(self, read_only: bool) -> None:
        if self.is_memory:
            return
        if read_only and not Path(self.path).exists():
            raise StorageError(
                f"no faultcast store at {self.path}: ingest some events first "
                f"(faultcast ingest FILE --db {self.path})"
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        attach_waiting(
            self._con, self.path, "store", read_only=read_only, lock_timeout=self.lock_timeout
        )
        self._attached = True
        self._read_only_attach = read_only

    def _detach(self) -> None:
        if self.is_memory or not self._attached:
            return
        try:
            self._con.execute("DETACH store")
        finally:
            self._attached = False

    def _version_unlocked(self) -> int:
        has = self._con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'store' AND table_name = 'schema_version'"
        ).fetchall()[0][0]
        if not has:
            return 0
        row = self._con.execute(
            "SELECT coalesce(max(version), 0) FROM store.schema_version"
        ).fetchall()
        return int(row[0][0])

    def _migrate(self) -> None:
        current = self._version_unlocked()
        if current > LATEST_VERSION:
            raise StorageError(
                f"the store {self.path} has schema version {current}, newer than this faultcast "
                f"({LATEST_VERSION}); upgrade faultcast to use it"
            )
        if current == LATEST_VERSION:
            return
        con = self._con
        con.execute(
            "CREATE TABLE IF NOT EXISTS store.schema_version "
            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
        )
        con.execute("USE store")
        try:
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    for statement in migration.statements:
                        con.execute(statement)
                    if migration.backfill and _has_events(con):
                        for statement in migration.backfill:
                            con.execute(statement)
                    con.execute(
                        "INSERT INTO schema_version VALUES (?, ?, now())",
                        [migration.version, migration.name],
                    )
                    con.execute("COMMIT")
                except duckdb.Error as e:
                    con.execute("ROLLBACK")
                    raise StorageError(
                        f"migration {migration.version} ({migration.name}) failed on {self.path}: {e}"
                    ) from e
                log.debug(
                    "store.migrated", path=self.path, version=migration.version, name=migration.name
                )
        finally:
            con.execute("USE memory")

    # ------------------------------------------------------------------ sessions
    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Attach the store for writing (migrated to the latest schema) for the ``with`` block.

        The block runs inside one transaction: it commits when the block ends and rolls back
        when it raises.  Keep blocks short: other processes wait while it runs.
        """
        with self._lock:
            self._attach(read_only=False)
            try:
                self._migrate()
                self._con.execute("BEGIN TRANSACTION")
                try:
                    yield self._con
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                else:
                    self._con.execute("COMMIT")
            except duckdb.InterruptException as e:
                raise KeyboardInterrupt from e
            except duckdb.Error as e:
                raise StorageError(f"writing to the store {self.path} failed: {e}") from e
            finally:
                self._detach()

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Attach the store read-only for the ``with`` block (waiting out a writer briefly)."""
        with self._lock:
            self._attach(read_only=True)
            try:
                if self._version_unlocked() < 1:
                    raise StorageError(
                        f"{self.path} is not a faultcast store (no schema); ingest into it first"
                    )
                yield self._con
            except duckdb.Error as e:
                raise StorageError(f"reading the store {self.path} failed: {e}") from e
            finally:
                self._detach()

    def checkpoint(self) -> None:
        """Fold the WAL into the file (readers then open it without replaying the WAL)."""
        if self.is_memory:
            return
        with self._lock:
            self._attach(read_only=False)
            try:
                self._con.execute("CHECKPOINT store")
            except duckdb.Error as e:
                raise StorageError(f"checkpointing the store {self.path} failed: {e}") from e
            finally:
                self._detach()

    # ------------------------------------------------------------------ reads
    def schema_version(self) -> int:
        """The store's schema version (0 when it has none yet)."""
        if not self.exists():
            return 0
        with self._lock:
            self._attach(read_only=not self.is_memory)
            try:
                return self._version_unlocked()
            finally:
                self._detach()

    def query_df(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run one read query (tables as ``store.<name>``) and return a DataFrame."""
        with self.reading() as con:
            return con.execute(sql, params or []).df()

    def change_marker(self) -> object | None:
        """A value that changes whenever the store's file changes (for caches of what was
        read); None for an in-memory store, whose changes cannot be seen from outside."""
        return None if self.is_memory else file_state(self.path)

    def counts(self) -> dict[str, int]:
        """Rows in events and quarantine."""
        with self.reading() as con:
            row = con.execute(
                "SELECT (SELECT count(*) FROM store.events), (SELECT count(*) FROM store.quarantine)"
            ).fetchall()[0]
        return {"events": int(row[0]), "quarantined": int(row[1])}
