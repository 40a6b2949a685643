"""The DuckDB store: migrations, short-lived write sessions, reads that wait out a writer.

DuckDB lets no second process open a file while a writer holds it, not even read-only.  So the
store never keeps the file open: all work happens on an in-memory *scratch* connection, and the
file is ``ATTACH``-ed as ``store`` only for one read or one batch commit, then detached.  A
reader or writer that finds the file locked retries with backoff for ``lock_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import structlog
from faultcast.ingest.errors import StorageError, StoreLockedError
from faultcast.ingest.migrations import LATEST_VERSION, MIGRATIONS

log = structlog.get_logger(__name__)

MEMORY = ":memory:"
_LOCK_RE = re.compile(r"Could not set lock|Conflicting lock|database is locked", re.IGNORECASE)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
    ) -> None:
        self.path = MEMORY if str(path) == MEMORY else str(Path(path).expanduser().resolve())
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(MEMORY, config=config)
        except duckdb.Error as e:  # pragma: no cover - a broken DuckDB install
            raise StorageError(f"could not start DuckDB: {e}") from e
        # Naive timestamps are read as UTC.  Without the ICU extension (it cannot always be
        # loaded offline) DuckDB has no time zones and works in UTC anyway.
        with contextlib.suppress(duckdb.Error):
            self._con.execute("SET TimeZone = 'UTC'")
        # Detaching must not checkpoint: a chunk's rows are already in the file (DuckDB writes
        # large inserts straight to blocks; the WAL only points at them), and a checkpoint per
        # chunk cost as much as the insert.  Ingest checkpoints once at the end of a run
        # (:meth:`checkpoint`), and DuckDB still checkpoints when the WAL passes its threshold.
        with contextlib.suppress(duckdb.Error):
            self._con.execute("SET checkpoint_on_detach = 'DISABLED'")
        self._attached = False
        self._read_only_attach = False
        if self.is_memory:
            self._con.execute("ATTACH ':memory:' AS store")
            self._attached = True
            self._migrate()

    # ------------------------------------------------------------------ plumbing
    @property
    def is_memory(self) -> bool:
        return self.path == MEMORY

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
        mode = " (READ_ONLY)" if read_only else ""
        sql = f"ATTACH {_sql_literal(self.path)} AS store{mode}"
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                self._con.execute(sql)
                self._attached = True
                self._read_only_attach = read_only
                return
            except duckdb.Error as e:
                if not _LOCK_RE.search(str(e)):
                    raise StorageError(f"could not open the store {self.path}: {e}") from e
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"the store {self.path} is locked by another process and stayed locked "
                        f"for {self.lock_timeout:.0f} s ({e}). Stop the other writer or raise "
                        "lock_timeout."
                    ) from e
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

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
                log.info(
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

    def counts(self) -> dict[str, int]:
        """Rows in events and quarantine."""
        with self.reading() as con:
            row = con.execute(
                "SELECT (SELECT count(*) FROM store.events), (SELECT count(*) FROM store.quarantine)"
            ).fetchall()[0]
        return {"events": int(row[0]), "quarantined": int(row[1])}
