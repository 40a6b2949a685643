"""The commit: one parsed chunk into the store in one transaction, exactly once.

Quarantine rows, new events (their templates mined under the write lock), the patterns they
fold into and the source's checkpoint are written together, so a run killed at any instant
resumes where the last commit ended and stores nothing twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from faultcast.ingest._lines import BadLine
from faultcast.ingest._sources import Checkpoint
from faultcast.ingest.issues import prepare_issues, update_issues
from faultcast.ingest.patterns import PatternMiner, TemplateChange
from faultcast.ingest.store import Store

#: The new events of ``parsed`` into ``events``, in the order of
#: :data:`~faultcast.ingest.schema.EVENT_COLUMNS`, with the mined templates.
_INSERT = """
INSERT INTO store.events
SELECT p.event_id, p.ts, p.service, p.host, p.component, p.level,
       p.category, p.error_type, p.message,
       coalesce(m.template_id, p.template_id),
       coalesce(m.mined_template, p.template),
       p.session_key, p.failure, p.recovery_action, p.recovery_outcome,
       p.retry_count, p.recovery_ms, p.attrs, $source, p.line_no, now(),
       p.source_ip, p.user, i.issue_id
FROM parsed p LEFT JOIN mined m ON p.template = m.masked LEFT JOIN issue_batch i ON i.rid = p.rowid
WHERE p.reason IS NULL AND p.event_id NOT IN ({existing})
{dedupe}
"""
#: The new events of ``parsed`` as :func:`~faultcast.ingest.issues.prepare_issues` takes them.
_ISSUE_ROWS = """
SELECT p.rowid AS rid, p.event_id, p.line_no AS source_offset, p.ts, p.service, p.level,
       p.failure, p.error_type, coalesce(m.template_id, p.template_id) AS template_id,
       coalesce(m.mined_template, p.template) AS template, p.message, p.session_key,
       p.user AS "user", p.attrs
FROM parsed p LEFT JOIN mined m ON p.template = m.masked WHERE p.reason IS NULL
"""


@dataclass
class Committed:
    """What one commit did with a chunk of ``read`` lines."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: Lines appended to the event before them (a text log's continuation lines).
    continuations: int = 0
    #: The reason of every line newly quarantined.
    reasons: list[str] = field(default_factory=list)


class Committer:
    """Commits parsed chunks into one store, keeping the template miner in step with it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.miner: PatternMiner | None = None  # loaded from the store under the write lock
        self._miner_stamp: Any = None

    def commit(
        self, n_read: int, bad: Sequence[BadLine], source: str, checkpoint: Checkpoint | None
    ) -> Committed:
        """Store temp table ``parsed`` and the lines ``bad`` taken out before parsing (``n_read``
        lines in all) from ``source``, with the source's ``checkpoint`` when it has one."""
        con = self.store.scratch
        bad_table = pa.table(
            {
                "line_no": pa.array([b.line_no for b in bad], pa.int64()),
                "raw": pa.array([b.raw for b in bad], pa.string()),
                "reason": pa.array([b.reason for b in bad], pa.string()),
            }
        )
        con.register("bad_lines", bad_table)
        try:
            stats = con.execute(
                "SELECT count(*) FILTER (WHERE reason IS NULL), "
                "min(ts) FILTER (WHERE reason IS NULL), max(ts) FILTER (WHERE reason IS NULL), "
                "count(*) FILTER (WHERE reason IS NULL AND given_id), count(*) FROM parsed"
            ).fetchall()[0]
            good, lo, hi, given_ids = int(stats[0]), stats[1], stats[2], int(stats[3])
            # One row per event or quarantined line: the other lines continued an event.
            continuations = n_read - len(bad) - int(stats[4])
            con.execute(
                "CREATE OR REPLACE TEMP TABLE qrows AS "
                "SELECT line_no, raw, reason FROM parsed WHERE reason IS NOT NULL "
                "UNION ALL SELECT line_no, raw, reason FROM bad_lines"
            )
            with self.store.writing() as w:
                # Templates are assigned under the write lock, from the miner state in the store,
                # so writers taking turns never give one id to two templates.
                changes = self._mine_locked(w)
                new_reasons = w.execute(
                    """
                    INSERT INTO store.quarantine
                    SELECT $source, line_no, raw, reason, now() FROM qrows b
                    WHERE NOT EXISTS (
                        SELECT 1 FROM store.quarantine q
                        WHERE q.source = $source AND q.source_offset = b.line_no AND q.raw = b.raw
                    )
                    RETURNING reason
                    """,
                    {"source": source},
                ).fetchall()
                # Duplicates: hashed ids repeat only with the same line, so the same ts: prune by
                # the batch's time range.  Producer-given ids are checked against everything.
                if given_ids:
                    existing = "SELECT event_id FROM store.events"
                    dedupe = (
                        "QUALIFY row_number() OVER (PARTITION BY p.event_id ORDER BY p.line_no) = 1"
                    )
                    params: dict[str, Any] = {"source": source}
                else:
                    existing = "SELECT event_id FROM store.events WHERE ts BETWEEN $lo AND $hi"
                    dedupe = ""
                    params = {"source": source, "lo": lo, "hi": hi}
                inserted = 0
                if good:
                    prepare_issues(w, _ISSUE_ROWS)  # the issue of each new event
                    inserted = int(
                        w.execute(
                            _INSERT.format(existing=existing, dedupe=dedupe), params
                        ).fetchall()[0][0]
                    )
                    self._store_patterns(w, changes)
                    update_issues(w)  # the issues these events belong to, in this transaction
                if checkpoint is not None:
                    file_id, prefix_len, prefix_md5, byte_offset, next_line = checkpoint
                    w.execute(
                        "INSERT OR REPLACE INTO store.ingest_checkpoints VALUES (?, ?, ?, ?, ?, ?, now())",
                        [source, file_id, prefix_len, prefix_md5, byte_offset, next_line],
                    )
        finally:
            con.unregister("bad_lines")
            with contextlib.suppress(Exception):
                con.unregister("mined")
        q_inserted = len(new_reasons)
        q_dupes = (n_read - continuations - good) - q_inserted
        return Committed(
            read=n_read,
            stored=inserted,
            duplicates=(good - inserted) + q_dupes,
            quarantined=q_inserted,
            continuations=continuations,
            reasons=[str(r[0]) for r in new_reasons],
        )

    # -- patterns ---------------------------------------------------------
    def _mine_locked(self, w: duckdb.DuckDBPyConnection) -> list[TemplateChange]:
        """With the store attached for writing: bring the miner up to the stored state (another
        process may have stored a newer one), mine this chunk, register the result as ``mined``."""
        rows = w.execute(
            "SELECT updated_at, state FROM store.miner_state WHERE name = 'drain'"
        ).fetchall()
        stamp = rows[0][0] if rows else None
        if self.miner is None or stamp != self._miner_stamp:
            self.miner = PatternMiner(bytes(rows[0][1]) if rows else None)
            self._miner_stamp = stamp
        forms = [
            r[0]
            for r in w.execute(
                "SELECT template FROM parsed WHERE reason IS NULL GROUP BY template ORDER BY min(line_no)"
            ).fetchall()
        ]
        mined: pa.Table
        changes: list[TemplateChange]
        mined, changes = self.miner.mine_table(forms)
        self.store.scratch.register("mined", mined)
        return changes

    def _store_patterns(self, w: duckdb.DuckDBPyConnection, changes: list[TemplateChange]) -> None:
        """Fold this transaction's new events into ``patterns``; record template changes and the
        miner's state, all in the chunk's transaction."""
        w.execute(
            """
            INSERT INTO store.patterns
            SELECT template_id, arg_max(template, ts), count(*), min(ts), max(ts), arg_min(message, ts), now()
            FROM store.events WHERE ingested_at = now() GROUP BY template_id
            ON CONFLICT (template_id) DO UPDATE SET
                template = excluded.template,
                count = patterns.count + excluded.count,
                first_seen = least(patterns.first_seen, excluded.first_seen),
                last_seen = greatest(patterns.last_seen, excluded.last_seen),
                updated_at = excluded.updated_at
            """
        )
        if changes:
            table = pa.table(
                {
                    "template_id": [c.template_id for c in changes],
                    "old_template": [c.old_template for c in changes],
                    "new_template": [c.new_template for c in changes],
                }
            )
            self.store.scratch.register("template_changes", table)
            try:
                w.execute("INSERT INTO store.pattern_changes SELECT *, now() FROM template_changes")
            finally:
                self.store.scratch.unregister("template_changes")
        assert self.miner is not None
        if self.miner.changed:
            self._miner_stamp = w.execute(
                "INSERT OR REPLACE INTO store.miner_state VALUES ('drain', ?, ?, now()) RETURNING updated_at",
                [self.miner.state(), self.miner.clusters],
            ).fetchall()[0][0]
            self.miner.changed = False

    def record_run(
        self, run_id: str, per_source: pa.Table, seconds: float, redactions: str
    ) -> None:
        """One row per source of a run in ``ingest_runs`` (``per_source``: source, read,
        stored, duplicates, quarantined)."""
        con = self.store.scratch
        con.register("run_rows", per_source)
        try:
            with self.store.writing() as w:
                w.execute(
                    "INSERT INTO store.ingest_runs SELECT ?, source, now() - to_microseconds(?::BIGINT), "
                    "now(), read, stored, duplicates, quarantined, ?::JSON FROM run_rows",
                    [run_id, int(seconds * 1e6), redactions],
                )
        finally:
            con.unregister("run_rows")
