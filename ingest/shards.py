"""Several store files read as one: the shards that ``faultcast serve --kafka`` workers write.

A :class:`ShardedStore` has the read interface of :class:`~faultcast.ingest.Store`
(``reading()``, ``query_df()``, ``schema_version()``, ``counts()``, ``exists()``, ``close()``),
so everything that reads a store reads shards too.  For each read it attaches every shard
read-only (``shard_0``, ``shard_1``, ...; waiting out a writer like the store does) and
makes ``store.<table>`` a view over all of them, then detaches them again.

How the tables combine:

- ``events`` and every other table: the rows of all shards (``UNION ALL BY NAME``, so a
  shard at an older schema version reads with NULL in the columns it lacks, and a table no
  shard has yet reads as empty).
- Template ids are given per shard, by each shard's own miner, so the same id can mean two
  templates in two shards and one template can have two ids.  Templates are therefore matched
  by their text: a template keeps the id it has in the first shard (in the order given) that
  has its text, and when that id already belongs to another template of an earlier shard, it
  becomes ``<id>@<shard>`` (``T7@1``).  ``events.template_id`` and
  ``pattern_changes.template_id`` read through this mapping, and ``patterns`` has one row
  per template: counts summed, first seen the earliest, last seen the latest, the example of
  the earliest shard to see it.
- ``schema_version()`` is the lowest version of the shards (what all of them have).

Examples
--------
>>> import tempfile, os
>>> from faultcast.ingest import Store
>>> folder = tempfile.TemporaryDirectory()
>>> paths = [os.path.join(folder.name, f"shard-{i}.duckdb") for i in range(2)]
>>> for i, path in enumerate(paths):
...     with Store(path).writing() as con:
...         _ = con.execute("INSERT INTO store.events (event_id, ts, service) "
...                         "VALUES (?, TIMESTAMPTZ '2026-01-01 00:00:00+00', ?)", [f"e{i}", f"svc-{i}"])
>>> shards = ShardedStore(paths)
>>> shards.counts()
{'events': 2, 'quarantined': 0}
>>> shards.query_df("SELECT service FROM store.events ORDER BY service")["service"].tolist()
['svc-0', 'svc-1']
>>> shards.close(); folder.cleanup()
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final, NoReturn

import duckdb
import pandas as pd
from faultcast.ingest._duck import MEMORY, attach_waiting, scratch_connection
from faultcast.ingest._log import get_logger
from faultcast.ingest.errors import StorageError
from faultcast.ingest.migrations import MIGRATIONS
from faultcast.ingest.store import file_state

log = get_logger(__name__)

#: The in-memory database holding an empty table of every migration (the views' shape).
_SCHEMA_DB: Final[str] = "empty_schema"
#: Tables whose template ids are mapped to the merged ids.
_TEMPLATE_TABLES: Final[tuple[str, ...]] = ("events", "pattern_changes")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ShardedStore:
    """Several faultcast store files read as one, read-only (see the module docstring).

    Parameters
    ----------
    paths
        The shards' DuckDB files, each written by one :class:`~faultcast.ingest.Store`.  A
        file that does not exist (a worker that has not written yet) is skipped with a
        warning; reading fails only when none exists.
    lock_timeout, memory_limit, threads
        As for :class:`~faultcast.ingest.Store`.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        lock_timeout: float = 30.0,
        memory_limit: str | None = "512MB",
        threads: int | None = None,
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("ShardedStore takes a list of paths; use Store(path) for one file")
        resolved: list[str] = []
        for path in paths:
            if str(path) == MEMORY:
                raise ValueError(
                    "an in-memory store cannot be a shard (no other connection can see it); "
                    "give the shards' file paths"
                )
            full = str(Path(path).expanduser().resolve())
            if full in resolved:
                raise ValueError(f"the shard {full} is listed twice")
            resolved.append(full)
        if not resolved:
            raise ValueError("ShardedStore needs at least one shard path")
        self.paths: tuple[str, ...] = tuple(resolved)
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self._warned: set[str] = set()
        self._con: duckdb.DuckDBPyConnection = scratch_connection(memory_limit, threads)
        self._con.execute("ATTACH ':memory:' AS store")
        self._con.execute(f"ATTACH ':memory:' AS {_SCHEMA_DB}")
        self._con.execute(f"USE {_SCHEMA_DB}")
        try:
            for migration in MIGRATIONS:
                for statement in migration.statements:
                    self._con.execute(statement)
        finally:
            self._con.execute("USE memory")
        self._attached: list[int] = []

    # ------------------------------------------------------------------ plumbing
    @property
    def path(self) -> str:
        """The shards' paths, joined by the platform's path separator."""
        return os.pathsep.join(self.paths)

    @property
    def is_memory(self) -> bool:
        return False

    def exists(self) -> bool:
        """Whether any shard exists (there is something to read)."""
        return any(Path(p).exists() for p in self.paths)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> ShardedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ShardedStore({list(self.paths)!r})"

    def writing(self) -> NoReturn:
        """Shards are written one by one: ingest into one shard's own store."""
        raise StorageError(
            "several shards are read as one, never written: ingest into one shard "
            f"(faultcast.connect({self.paths[0]!r}).ingest(...))"
        )

    def _attach_all(self) -> None:
        present = []
        for i, path in enumerate(self.paths):
            if Path(path).exists():
                present.append(i)
            elif path not in self._warned:
                self._warned.add(path)
                log.warning("shards.missing", path=path, hint="skipped until it is written")
        if not present:
            raise StorageError(
                f"none of the shards exists ({', '.join(self.paths)}): ingest into them first"
            )
        deadline = time.monotonic() + self.lock_timeout
        for i in present:
            attach_waiting(
                self._con,
                self.paths[i],
                f"shard_{i}",
                read_only=True,
                lock_timeout=self.lock_timeout,
                deadline=deadline,
                what="shard",
            )
            self._attached.append(i)

    def _detach_all(self) -> None:
        while self._attached:
            i = self._attached.pop()
            with suppress(duckdb.Error):
                self._con.execute(f"DETACH shard_{i}")

    def _tables(self) -> dict[str, list[int]]:
        """Each table name and the attached shards that have it (schema tables first)."""
        rows = self._con.execute(
            "SELECT database_name, table_name FROM duckdb_tables() "
            "WHERE schema_name = 'main' ORDER BY database_name, table_name"
        ).fetchall()
        tables: dict[str, list[int]] = {}
        for database, table in rows:
            if database == _SCHEMA_DB:
                tables.setdefault(table, [])
        for database, table in rows:
            if database.startswith("shard_"):
                tables.setdefault(table, []).append(int(database.removeprefix("shard_")))
        return tables

    def _build_views(self) -> None:
        con = self._con
        tables = self._tables()
        with_patterns = tables.get("patterns", [])
        for i in self._attached:
            version = con.execute(
                f"SELECT count(*) FROM duckdb_tables() WHERE database_name = 'shard_{i}' "
                "AND table_name = 'schema_version'"
            ).fetchall()[0][0]
            if not version:
                raise StorageError(
                    f"{self.paths[i]} is not a faultcast store (no schema); ingest into it first"
                )
        # The merged template ids (see the module docstring); only ids that change are kept.
        if with_patterns:
            all_patterns = " UNION ALL ".join(
                f"SELECT {i} AS shard, template_id, template FROM shard_{i}.patterns"
                for i in with_patterns
            )
            con.execute(
                f"""CREATE OR REPLACE TABLE store._template_ids AS
                WITH all_p AS ({all_patterns}),
                homes AS (SELECT template, min(shard) AS home FROM all_p GROUP BY template),
                home_ids AS (
                    SELECT h.template, h.home, min(a.template_id) AS cid
                    FROM homes h JOIN all_p a ON a.template = h.template AND a.shard = h.home
                    GROUP BY h.template, h.home
                ),
                ranked AS (
                    SELECT *, row_number() OVER (PARTITION BY cid ORDER BY home, template) AS r
                    FROM home_ids
                ),
                canon AS (
                    SELECT template,
                        CASE WHEN r = 1 THEN cid ELSE cid || '@' || home::VARCHAR END AS canonical
                    FROM ranked
                )
                SELECT a.shard, a.template_id, c.canonical
                FROM all_p a JOIN canon c ON c.template = a.template
                WHERE c.canonical <> a.template_id"""
            )
            remapped = {
                int(r[0])
                for r in con.execute("SELECT DISTINCT shard FROM store._template_ids").fetchall()
            }
        else:
            con.execute(
                "CREATE OR REPLACE TABLE store._template_ids "
                "(shard INTEGER, template_id VARCHAR, canonical VARCHAR)"
            )
            remapped = set()

        def part(table: str, i: int) -> str:
            source = f"shard_{i}.{_ident(table)}"
            if table in _TEMPLATE_TABLES and i in remapped:
                return (
                    f"SELECT t.* REPLACE (coalesce(m.canonical, t.template_id) AS template_id) "
                    f"FROM {source} t LEFT JOIN store._template_ids m "
                    f"ON m.shard = {i} AND m.template_id = t.template_id"
                )
            return f"SELECT * FROM {source}"

        for table, shards in tables.items():
            if table.startswith("_"):
                continue
            empty = (
                f"SELECT * FROM {_SCHEMA_DB}.{_ident(table)}"
                if table in self._schema_tables()
                else None
            )
            if table == "patterns" and shards:
                body = self._patterns_view(shards, remapped, empty)
            else:
                parts = ([empty] if empty else []) + [part(table, i) for i in shards]
                body = " UNION ALL BY NAME ".join(parts)
            con.execute(f"CREATE OR REPLACE VIEW store.{_ident(table)} AS {body}")

    def _schema_tables(self) -> set[str]:
        rows = self._con.execute(
            f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{_SCHEMA_DB}'"
        ).fetchall()
        return {r[0] for r in rows}

    @staticmethod
    def _patterns_view(shards: list[int], remapped: set[int], empty: str | None) -> str:
        parts = []
        for i in shards:
            if i in remapped:
                parts.append(
                    f"SELECT p.* REPLACE (coalesce(m.canonical, p.template_id) AS template_id), "
                    f"{i} AS shard FROM shard_{i}.patterns p LEFT JOIN store._template_ids m "
                    f"ON m.shard = {i} AND m.template_id = p.template_id"
                )
            else:
                parts.append(f"SELECT *, {i} AS shard FROM shard_{i}.patterns")
        merged = f"""
            SELECT template_id, arg_min(template, shard) AS template,
                sum(count)::BIGINT AS count, min(first_seen) AS first_seen,
                max(last_seen) AS last_seen, arg_min(example, shard) AS example,
                max(updated_at) AS updated_at
            FROM ({" UNION ALL BY NAME ".join(parts)}) AS p
            GROUP BY template_id"""
        return f"{empty} UNION ALL BY NAME {merged}" if empty else merged

    # ------------------------------------------------------------------ sessions
    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Attach every shard read-only for the ``with`` block, with ``store.<table>`` views
        over all of them."""
        with self._lock:
            try:
                self._attach_all()
                self._build_views()
                yield self._con
            except duckdb.Error as e:
                raise StorageError(f"reading the shards {', '.join(self.paths)} failed: {e}") from e
            finally:
                self._detach_all()

    # ------------------------------------------------------------------ reads
    def schema_version(self) -> int:
        """The lowest schema version among the shards that exist (0 when none does)."""
        if not self.exists():
            return 0
        with self.reading() as con:
            row = con.execute(
                "SELECT min(v) FROM (SELECT max(version) AS v FROM ("
                + " UNION ALL ".join(
                    f"SELECT {i} AS shard, version FROM shard_{i}.schema_version"
                    for i in self._attached
                )
                + ") GROUP BY shard)"
            ).fetchall()
        return int(row[0][0] or 0)

    def query_df(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Run one read query (tables as ``store.<name>``) and return a DataFrame."""
        with self.reading() as con:
            return con.execute(sql, params or []).df()

    def change_marker(self) -> object:
        """A value that changes whenever any shard's file changes."""
        return tuple(file_state(p) for p in self.paths)

    def counts(self) -> dict[str, int]:
        """Rows in events and quarantine, over all shards."""
        with self.reading() as con:
            row = con.execute(
                "SELECT (SELECT count(*) FROM store.events), (SELECT count(*) FROM store.quarantine)"
            ).fetchall()[0]
        return {"events": int(row[0]), "quarantined": int(row[1])}
