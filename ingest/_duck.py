"""DuckDB plumbing every store shares: a configured in-memory connection, and ATTACH that waits
out another process's lock.

DuckDB lets no second process open a file while a writer holds it, not even read-only, so
every attach retries with backoff until ``lock_timeout`` runs out, then raises
:class:`~faultcast.ingest.errors.StoreLockedError` with what to do.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any, Final

import duckdb
from faultcast.ingest.errors import StorageError, StoreLockedError

MEMORY: Final[str] = ":memory:"
LOCK_RE: Final[re.Pattern[str]] = re.compile(
    r"Could not set lock|Conflicting lock|database is locked", re.IGNORECASE
)


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (for the few statements that take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def scratch_connection(
    memory_limit: str | None = "512MB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up the way every store works: UTC, no progress bar
    (DuckDB prints one on stdout for queries over 2 s, which would corrupt ``--json`` output),
    bounded memory, and no checkpoint on detach."""
    config: dict[str, Any] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    try:
        con = duckdb.connect(MEMORY, config=config)
    except duckdb.Error as e:  # pragma: no cover - a broken DuckDB install
        raise StorageError(f"could not start DuckDB: {e}") from e
    # Naive timestamps are read as UTC.  Without the ICU extension (it cannot always be loaded
    # offline) DuckDB has no time zones and works in UTC anyway.
    for setting in (
        "SET TimeZone = 'UTC'",
        "SET enable_progress_bar = false",
        # Detaching must not checkpoint: a chunk's rows are already in the file (DuckDB writes
        # large inserts straight to blocks; the WAL only points at them), and a checkpoint per
        # chunk cost as much as the insert.  Ingest checkpoints once at the end of a run, and
        # DuckDB still checkpoints when the WAL passes its threshold.
        "SET checkpoint_on_detach = 'DISABLED'",
    ):
        with contextlib.suppress(duckdb.Error):
            con.execute(setting)
    return con


def attach_waiting(
    con: duckdb.DuckDBPyConnection,
    path: str,
    alias: str,
    *,
    read_only: bool,
    lock_timeout: float,
    deadline: float | None = None,
    what: str = "store",
) -> None:
    """``ATTACH path AS alias``, retrying with backoff while another process holds the file.

    ``deadline`` (a :func:`time.monotonic` time) shares one wait among several attaches;
    by default the wait is ``lock_timeout`` from now.  ``what`` names the file in errors.
    """
    mode = " (READ_ONLY)" if read_only else ""
    sql = f"ATTACH {sql_literal(path)} AS {alias}{mode}"
    if deadline is None:
        deadline = time.monotonic() + lock_timeout
    delay = 0.01
    while True:
        try:
            con.execute(sql)
            return
        except duckdb.Error as e:
            if not LOCK_RE.search(str(e)):
                raise StorageError(f"could not open the {what} {path}: {e}") from e
            if time.monotonic() >= deadline:
                raise StoreLockedError(
                    f"the {what} {path} is locked by another process and stayed locked for "
                    f"{lock_timeout:.0f} s ({e}). Stop the other writer or raise lock_timeout."
                ) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
