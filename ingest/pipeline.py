"""Ingest runs: read sources in chunks → redact → parse (SQL) → store, exactly once per line.

Each chunk is committed in one transaction together with its source's checkpoint (path, file
identity, byte offset, line number), so a run killed at any instant and started again resumes
where the last commit ended; event ids (given, or a hash of source, line number and line) make
re-reading a line a no-op.  Every line read ends up counted once as stored, duplicate or
quarantined.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, Full, Queue
from typing import IO, Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from faultcast.ingest._lines import (
    DEFAULT_CHUNK_BYTES,
    BadLine,
    LineChunk,
    iter_chunks,
    split_lines,
)
from faultcast.ingest.errors import IngestError
from faultcast.ingest.jsonl import (
    DEFAULT_LIMITS,
    PRESENT_KEYS_SQL,
    Limits,
    build_fast_sql,
    build_parse_sql,
)
from faultcast.ingest.patterns import PatternMiner, TemplateChange
from faultcast.ingest.redact import Redactor
from faultcast.ingest.store import Store
from faultcast.ingest.text import LogFormat, build_text_sql

log = structlog.get_logger(__name__)

Format = Literal["auto", "json", "text"]
STDIN = "-"
ProgressFn = Callable[[int, int | None], None]

_REASON_KIND = re.compile(r"(, got |: | \(| at byte | at column ).*$", re.DOTALL)


def reason_kind(reason: str) -> str:
    """The kind of a quarantine reason, for counting: its text before the specifics.

    >>> reason_kind("field \\"retry_count\\" must be a whole number >= 0, got text 'x'")
    'field "retry_count" must be a whole number >= 0'
    >>> reason_kind("line too long: 2000000 bytes; the limit is 1048576")
    'line too long'
    >>> reason_kind("invalid UTF-8 at byte 3 of the line (b'\\\\xff')")
    'invalid UTF-8'
    """
    return _REASON_KIND.sub("", reason)


@dataclass
class SourceReport:
    source: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    resumed_at_line: int = 1


@dataclass
class IngestReport:
    """What one ingest run did.  Always ``read == stored + duplicates + quarantined``."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    sources: list[SourceReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.stored + self.duplicates + self.quarantined

    @property
    def events_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "quarantine_reasons": dict(self.reasons.most_common()),
            "redactions": dict(self.redactions.most_common()),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "sources": [vars(s) for s in self.sources],
        }


@dataclass
class BatchResult:
    """What :meth:`Ingestor.ingest_lines` did with one batch: its report, and the
    (offset, reason) of every line it quarantined (to dead-letter them, say)."""

    report: IngestReport
    quarantined: list[tuple[int, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- sources
@dataclass
class _Opened:
    source: str  # absolute path, or "<stdin>"
    stream: IO[bytes]
    file_id: str | None  # device:inode for regular files
    size: int | None
    is_regular: bool


def _source_name(path: str) -> str:
    return "<stdin>" if path == STDIN else str(Path(path).expanduser().resolve())


def _open(path: str) -> _Opened:
    if path == STDIN:
        return _Opened("<stdin>", sys.stdin.buffer, None, None, False)
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(f"no such file: {path}")
    if p.is_dir():
        raise IngestError(f"{path} is a directory; pass the log files in it (e.g. {path}/*.jsonl)")
    try:
        raw = p.open("rb")
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    st = os.fstat(raw.fileno())
    stream: IO[bytes] = raw
    if path.endswith(".gz"):
        stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return _Opened(str(p.resolve()), stream, f"{st.st_dev}:{st.st_ino}", st.st_size, True)


def _prefix_md5(path: str, length: int) -> str:
    with open(path, "rb") as f:
        return hashlib.md5(f.read(length)).hexdigest()


def _sniff_json(path: str) -> None:
    """Refuse, with a clear message, an input that is plainly not JSON lines."""
    if path == STDIN:
        return
    opener: Callable[..., IO[bytes]] = gzip.open if path.endswith(".gz") else open  # type: ignore[assignment]
    with opener(path, "rb") as f:
        head = f.read(64 * 1024)
    for raw in head.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"{") or line.startswith(b"["):
            return
        try:
            shown = line[:80].decode("utf-8", errors="replace")
        except Exception:  # pragma: no cover
            shown = repr(line[:80])
        raise IngestError(
            f"{path} does not look like JSON lines (its first line is {shown!r}). "
            "Pass --format json to ingest it anyway (each bad line is quarantined); plain "
            "text logs need --format text with --log-format, which is not available yet."
        )


T = TypeVar("T")


def _prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Produce ``items`` on a background thread, at most ``depth`` ahead (bounded memory)."""
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(("item", item), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(("done", None))
        except BaseException as e:  # handed to the consumer
            queue.put(("error", e))

    thread = threading.Thread(target=produce, name="faultcast-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(Empty):
                queue.get_nowait()
            thread.join(timeout=0.05)


def _sniff_text(path: str, fmt: LogFormat, lines: int = 2000) -> None:
    """Refuse a file none of whose first lines match the log format, naming the format."""
    if path == STDIN:
        return
    opener: Callable[..., IO[bytes]] = gzip.open if path.endswith(".gz") else open  # type: ignore[assignment]
    rx = re.compile(fmt.regex)
    seen = 0
    with opener(path, "rb") as f:
        for raw in f:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if rx.search(text):
                return
            seen += 1
            if seen >= lines:
                break
    if seen == 0:
        return  # an empty file is simply nothing to ingest
    raise IngestError(
        f"none of the first {seen} lines of {path} match the log format {fmt.text!r} "
        f"(as a pattern: {fmt.regex}); check the format against a line of the file"
    )


# ---------------------------------------------------------------------- engine
class Ingestor:
    """Runs ingests into one store.  Reusable; not thread-safe (one run at a time)."""

    def __init__(
        self,
        store: Store,
        *,
        redactor: Redactor | None = None,
        limits: Limits = DEFAULT_LIMITS,
        chunk_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.redactor = redactor or Redactor()
        self.limits = limits
        self.miner: PatternMiner | None = None  # loaded from the store under the write lock
        self._miner_stamp: Any = None
        # FAULTCAST_CHUNK_BYTES: smaller chunks commit more often (tests use it to crash mid-run).
        self.chunk_bytes = chunk_bytes or int(
            os.environ.get("FAULTCAST_CHUNK_BYTES", DEFAULT_CHUNK_BYTES)
        )

    # -- one chunk --------------------------------------------------------
    def _redact_lines(
        self, lines: pa.LargeStringArray, counts: Counter[str]
    ) -> pa.LargeStringArray:
        """Redact secrets in place of the lines the prefilter flags (few); the rest pass untouched."""
        if len(lines) == 0:
            return lines
        mask = pc.match_substring_regex(lines, self.redactor.prefilter)
        hits = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if len(hits) == 0:
            return lines
        originals = lines.take(pa.array(hits)).to_pylist()
        fixed: list[str] = []
        changed = np.zeros(len(lines), dtype=bool)
        for i, text in zip(hits.tolist(), originals, strict=True):
            new, found = self.redactor.redact(text)
            if found:
                counts.update(found)
                changed[i] = True
                fixed.append(new)
        if not fixed:
            return lines
        return pc.replace_with_mask(lines, pa.array(changed), pa.array(fixed, pa.large_string()))

    def _prepare(self, chunk: LineChunk) -> tuple[LineChunk, list[BadLine], Counter[str]]:
        """Redaction, off the main thread: nothing unredacted goes further than this."""
        counts: Counter[str] = Counter()
        chunk.lines = self._redact_lines(chunk.lines, counts)
        bad = []
        for b in chunk.bad:
            text, found = self.redactor.redact(b.raw)
            counts.update(found)
            bad.append(BadLine(b.line_no, text, b.reason))
        return chunk, bad, counts

    def _parse(self, chunk: LineChunk, source: str, opts: dict[str, Any]) -> None:
        lines = chunk.lines
        # Several record batches, so DuckDB scans them in parallel.
        batch = pa.Table.from_batches(
            pa.table({"line_no": chunk.line_numbers, "line": lines}).to_batches(max_chunksize=16384)
        )
        con = self.store.scratch
        con.register("batch", batch)
        if opts.get("format") is not None:
            try:
                session = opts.get("session_key")
                con.execute(
                    build_text_sql(
                        opts["format"],
                        time_format=opts.get("time_format"),
                        default_year=int(opts["year"]),
                        default_service=opts.get("service"),
                        session_key_regex=session,
                        max_message_chars=self.limits.max_message_chars,
                        extra_masks=self.limits.extra_masks,
                    ),
                    {"source": source},
                )
            finally:
                con.unregister("batch")
            return
        session = opts.get("session_key")
        key_is_field = (
            session is None or re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_.@-]*", session) is not None
        )
        kwargs = {
            "session_key_field": session if key_is_field else None,
            "default_service": opts.get("service"),
            "limits": self.limits,
        }
        try:
            # Plainly good lines take the fast path; the rest get the full checks.
            present = {key for (key,) in con.execute(PRESENT_KEYS_SQL).fetchall()}
            con.execute(build_fast_sql(present_keys=present, **kwargs), {"source": source})
            fast = con.execute("SELECT count(*) FROM parsed").fetchall()[0][0]
            if fast < len(batch):
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE slow_batch AS "
                    "SELECT b.line_no, b.line FROM batch b ANTI JOIN parsed p USING (line_no)"
                )
                con.execute(
                    build_parse_sql(batch="slow_batch", target="parsed_slow", **kwargs),
                    {"source": source},
                )
                con.execute("INSERT INTO parsed SELECT * FROM parsed_slow")
        finally:
            con.unregister("batch")
        self._explain_invalid_json(con)
        if not key_is_field:
            con.execute(
                "UPDATE parsed SET session_key = nullif(regexp_extract(message, ?), '') WHERE reason IS NULL",
                [session],
            )

    def _explain_invalid_json(self, con: Any) -> None:
        rows = con.execute(
            "SELECT line_no, raw FROM parsed WHERE reason = 'invalid JSON'"
        ).fetchall()
        if not rows:
            return
        details = []
        for _, raw in rows:
            try:
                json.loads(raw)
                detail = "invalid JSON"
            except json.JSONDecodeError as e:
                detail = f"invalid JSON: {e.msg} at column {e.colno}"
            except RecursionError:
                detail = "invalid JSON: nested too deeply"
            details.append(detail)
        fix = pa.table({"line_no": [r[0] for r in rows], "detail": details})
        con.register("json_detail", fix)
        try:
            con.execute(
                "UPDATE parsed SET reason = d.detail FROM json_detail d WHERE parsed.line_no = d.line_no"
            )
        finally:
            con.unregister("json_detail")

    def _commit(
        self,
        chunk: LineChunk,
        bad: list[BadLine],
        source: str,
        checkpoint: tuple[str, int, str, int, int] | None,
        report: IngestReport,
        src_report: SourceReport,
    ) -> None:
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
                "count(*) FILTER (WHERE reason IS NULL AND event_id IS NOT NULL), "
                "min(ts) FILTER (WHERE reason IS NULL), max(ts) FILTER (WHERE reason IS NULL), "
                "count(*) FILTER (WHERE reason IS NULL AND given_id) FROM parsed"
            ).fetchall()[0]
            good, _, lo, hi, given_ids = int(stats[0]), stats[1], stats[2], stats[3], int(stats[4])
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
                q_inserted = len(new_reasons)
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
                    inserted = w.execute(
                        f"""
                        INSERT INTO store.events
                        SELECT p.event_id, p.ts, p.service, p.host, p.component, p.level,
                               p.category, p.error_type, p.message,
                               coalesce(m.template_id, p.template_id),
                               coalesce(m.mined_template, p.template),
                               p.session_key, p.failure, p.recovery_action, p.recovery_outcome,
                               p.retry_count, p.recovery_ms, p.attrs, $source, p.line_no, now()
                        FROM parsed p LEFT JOIN mined m ON p.template = m.masked
                        WHERE p.reason IS NULL AND p.event_id NOT IN ({existing})
                        {dedupe}
                        """,
                        params,
                    ).fetchall()[0][0]
                    self._store_patterns(w, changes)
                if checkpoint is not None:
                    file_id, prefix_len, prefix_md5, byte_offset, next_line = checkpoint
                    w.execute(
                        "INSERT OR REPLACE INTO store.ingest_checkpoints VALUES (?, ?, ?, ?, ?, ?, now())",
                        [source, file_id, prefix_len, prefix_md5, byte_offset, next_line],
                    )
            for (reason,) in new_reasons:
                report.reasons[reason_kind(reason)] += 1
        finally:
            con.unregister("bad_lines")
            with contextlib.suppress(Exception):
                con.unregister("mined")
        n_read = len(chunk)
        n_bad = n_read - good
        q_dupes = n_bad - int(q_inserted)
        for r in (report, src_report):
            r.read += n_read
            r.stored += int(inserted)
            r.quarantined += int(q_inserted)
            r.duplicates += (good - int(inserted)) + q_dupes

    # -- patterns ---------------------------------------------------------
    def _mine_locked(self, w: Any) -> list[TemplateChange]:
        """With the store attached for writing: bring the miner up to the stored state (another
        process may have stored a newer one), mine this chunk, register the result as ``mined``."""
        rows = w.execute(
            "SELECT updated_at, state FROM store.miner_state WHERE name = 'drain'"
        ).fetchall()
        stamp = rows[0][0] if rows else None
        if self.miner is None or stamp != self._miner_stamp:
            self.miner = PatternMiner(bytes(rows[0][1]) if rows else None)
            self._miner_stamp = stamp
        mined, changes = self._mine(w)
        self.store.scratch.register("mined", mined)
        return changes

    def _mine(self, con: Any) -> tuple[pa.Table, list[TemplateChange]]:
        """Templates for this chunk's distinct masked messages, in order of first appearance."""
        assert self.miner is not None
        forms = [
            r[0]
            for r in con.execute(
                "SELECT template FROM parsed WHERE reason IS NULL GROUP BY template ORDER BY min(line_no)"
            ).fetchall()
        ]
        mined: tuple[pa.Table, list[TemplateChange]] = self.miner.mine_table(forms)
        return mined

    def _store_patterns(self, w: Any, changes: list[TemplateChange]) -> None:
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

    # -- one source -------------------------------------------------------
    def _checkpoint_for(self, source: str) -> tuple[str, int, str, int, int] | None:
        if not self.store.exists() or self.store.schema_version() < 2:
            return None
        with self.store.reading() as con:
            rows = con.execute(
                "SELECT file_id, prefix_len, prefix_md5, byte_offset, line_no "
                "FROM store.ingest_checkpoints WHERE source = ?",
                [source],
            ).fetchall()
        if not rows:
            return None
        r = rows[0]
        return (str(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4]))

    def _resume_point(self, opened: _Opened, from_start: bool) -> tuple[int, int]:
        """(byte offset, next line number) to start reading this source at."""
        if from_start or not opened.is_regular:
            return 0, 1
        cp = self._checkpoint_for(opened.source)
        if cp is None:
            return 0, 1
        file_id, prefix_len, prefix_md5, byte_offset, next_line = cp
        size_ok = opened.size is not None and (
            opened.source.endswith(".gz") or opened.size >= byte_offset
        )
        same = (
            file_id == opened.file_id
            and size_ok
            and _prefix_md5(opened.source, prefix_len) == prefix_md5
        )
        if not same:
            log.info("ingest.source_replaced", source=opened.source)
            return 0, 1
        return byte_offset, next_line

    def _run_stream(
        self,
        opened: _Opened,
        start_byte: int,
        start_line: int,
        opts: dict[str, Any],
        report: IngestReport,
        src_report: SourceReport,
        final: bool,
        progress: ProgressFn | None,
    ) -> tuple[int, int]:
        if opened.is_regular and not opened.source.endswith(".gz"):
            opened.stream.seek(start_byte)
        elif start_byte:
            remaining = start_byte  # gzip: decompress and skip what was stored already
            while remaining:
                got = opened.stream.read(min(remaining, self.chunk_bytes))
                if not got:
                    break
                remaining -= len(got)
        byte, line = start_byte, start_line
        text_format = opts.get("format")
        chunks = iter_chunks(
            opened.stream,
            event_start=text_format.regex if text_format is not None else None,
            first_line=line,
            start_byte=byte,
            chunk_bytes=self.chunk_bytes,
            final=final,
        )
        # Reading, splitting and redacting the next chunk overlaps parsing and storing this one.
        return self._consume(chunks, opened, byte, line, opts, report, src_report, progress)

    def _consume(
        self,
        chunks: Iterator[LineChunk],
        opened: _Opened,
        byte: int,
        line: int,
        opts: dict[str, Any],
        report: IngestReport,
        src_report: SourceReport,
        progress: ProgressFn | None,
    ) -> tuple[int, int]:
        prefix_len = 0
        prefix_md5 = ""
        for chunk, bad, redactions in _prefetch(map(self._prepare, chunks)):
            report.redactions.update(redactions)
            self._parse(chunk, opened.source, opts)
            checkpoint = None
            if opened.is_regular:
                assert opened.file_id is not None
                if prefix_len < 1024:
                    # Identify the file by its first KiB (the compressed bytes of a .gz).
                    is_gz = opened.source.endswith(".gz")
                    prefix_len = min(1024, (opened.size or 0) if is_gz else chunk.end_byte)
                    prefix_md5 = _prefix_md5(opened.source, prefix_len)
                checkpoint = (
                    opened.file_id,
                    prefix_len,
                    prefix_md5,
                    chunk.end_byte,
                    line + len(chunk),
                )
            self._commit(chunk, bad, opened.source, checkpoint, report, src_report)
            byte = chunk.end_byte
            line += len(chunk)
            if progress is not None:
                progress(byte, opened.size)
        return byte, line

    # -- public -----------------------------------------------------------
    def run(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        format: Format = "auto",
        service: str | None = None,
        session_key: str | None = None,
        log_format: str | None = None,
        time_format: str | None = None,
        year: int | None = None,
        from_start: bool = False,
        follow: bool = False,
        poll_interval: float = 0.5,
        stop: threading.Event | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest every path (``"-"`` is stdin) and return the report of this run.

        ``format``: ``"json"`` (JSON lines), ``"text"`` (with ``log_format``) or ``"auto"``
        (text when a log format is given, else JSON).  ``session_key``: for JSON, the field
        that holds it when it is a bare name, else (and always for text) a regular expression
        whose first match in the message is the key.  ``year``: for text time forms without one.
        """
        if format not in ("auto", "json", "text"):
            raise IngestError(
                f"unknown format {format!r}: use 'json', 'text' (with a log format) or 'auto'"
            )
        if format == "auto" and log_format:
            format = "text"
        fmt: LogFormat | None = None
        if format == "text":
            if not log_format:
                raise IngestError(
                    "--format text needs --log-format, e.g. '<Date> <Time> <Level> <Component>: <Content>'"
                )
            try:
                fmt = LogFormat.parse(log_format)
            except ValueError as e:
                raise IngestError(str(e)) from e
            if session_key:
                try:
                    re.compile(session_key)
                except re.error as e:
                    raise IngestError(
                        f"--session-key {session_key!r} is not a regular expression: {e}"
                    ) from e
        names: list[str] = [os.fspath(p) for p in paths]
        if not names:
            raise IngestError("nothing to ingest: give at least one file, or - for stdin")
        for p in names:
            if p != STDIN and not Path(p).expanduser().exists():
                raise IngestError(f"no such file: {p}")
            if p != STDIN and Path(p).expanduser().is_dir():
                raise IngestError(
                    f"{p} is a directory; pass the log files in it (e.g. {p}/*.jsonl)"
                )
            if format == "auto":
                _sniff_json(p)
            if fmt is not None:
                _sniff_text(p, fmt)
        opts: dict[str, Any] = {
            "service": service,
            "session_key": session_key,
            "format": fmt,
            "time_format": time_format,
            "year": year or datetime.now(UTC).year,
        }
        report = IngestReport()
        started = time.monotonic()
        run_id = uuid.uuid4().hex
        try:
            if follow:
                self._follow(names, opts, report, from_start, poll_interval, stop, progress)
            else:
                for p in names:
                    opened = _open(p)
                    src_report = SourceReport(opened.source)
                    report.sources.append(src_report)
                    try:
                        byte, line = self._resume_point(opened, from_start)
                        src_report.resumed_at_line = line
                        self._run_stream(
                            opened, byte, line, opts, report, src_report, True, progress
                        )
                    finally:
                        if opened.is_regular:
                            opened.stream.close()
        finally:
            self._record_run(run_id, report)
            if report.stored or report.quarantined:
                self.store.checkpoint()
            report.seconds = time.monotonic() - started
        log.info("ingest.done", **{k: v for k, v in report.to_dict().items() if k != "sources"})
        return report

    def ingest_lines(
        self,
        lines: Sequence[bytes | None],
        *,
        source: str,
        offsets: Sequence[int],
        service: str | None = None,
        session_key: str | None = None,
        report: IngestReport | None = None,
    ) -> BatchResult:
        """Ingest one batch of raw JSON lines that came from ``source`` (e.g. Kafka messages).

        ``offsets`` gives each line's position in its source (``source_offset``; a Kafka offset),
        so a line without an ``event_id`` gets the hash of (source, offset, line), as a file's
        line does: delivering the same batch again stores nothing twice.  The batch is committed
        in one transaction (quarantine and events together); bad lines are quarantined with
        their reason and returned.  A line break inside a line (pretty-printed JSON) reads as
        a space; ``None`` (a message without a value) is quarantined as an empty line.

        Examples
        --------
        >>> store = Store(":memory:")
        >>> batch = [b'{"ts": "2026-01-01T00:00:00Z", "event": "db down", "level": "error"}',
        ...          b"not json"]
        >>> result = Ingestor(store).ingest_lines(batch, source="kafka:events:0", offsets=[7, 8])
        >>> result.report.stored, result.report.quarantined, result.quarantined[0][0]
        (1, 1, 8)
        >>> Ingestor(store).ingest_lines(batch, source="kafka:events:0", offsets=[7, 8]).report.stored
        0
        """
        if len(lines) != len(offsets):
            raise ValueError(f"{len(lines)} lines but {len(offsets)} offsets")
        own = IngestReport()
        src_report = SourceReport(source)
        own.sources.append(src_report)
        started = time.monotonic()
        if lines:
            cleaned = [
                b""
                if line is None
                else (
                    line.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")
                    if b"\n" in line or b"\r" in line
                    else line
                )
                for line in lines
            ]
            # Every line terminated: line i of the split is message i (an empty one included).
            chunk, _ = split_lines(b"\n".join(cleaned) + b"\n", 0, 0, final=True)
            by_index = np.asarray(offsets, dtype=np.int64)
            chunk.line_numbers = pa.array(
                by_index[chunk.line_numbers.to_numpy(zero_copy_only=False)], pa.int64()
            )
            for b in chunk.bad:
                b.line_no = int(by_index[b.line_no])
            chunk, bad, redactions = self._prepare(chunk)
            own.redactions.update(redactions)
            opts: dict[str, Any] = {"service": service, "session_key": session_key}
            self._parse(chunk, source, opts)
            self._commit(chunk, bad, source, None, own, src_report)
            quarantined = [
                (int(r[0]), str(r[1]))
                for r in self.store.scratch.execute(
                    "SELECT line_no, reason FROM qrows ORDER BY line_no"
                ).fetchall()
            ]
        else:
            quarantined = []
        own.seconds = time.monotonic() - started
        if report is not None:
            report.read += own.read
            report.stored += own.stored
            report.duplicates += own.duplicates
            report.quarantined += own.quarantined
            report.reasons.update(own.reasons)
            report.redactions.update(own.redactions)
            report.seconds += own.seconds
        return BatchResult(own, quarantined)

    def _record_run(self, run_id: str, report: IngestReport) -> None:
        if not report.sources or report.read == 0:
            return
        rows = pa.table(
            {
                "source": [s.source for s in report.sources],
                "read": [s.read for s in report.sources],
                "stored": [s.stored for s in report.sources],
                "duplicates": [s.duplicates for s in report.sources],
                "quarantined": [s.quarantined for s in report.sources],
            }
        )
        con = self.store.scratch
        con.register("run_rows", rows)
        try:
            with self.store.writing() as w:
                w.execute(
                    "INSERT INTO store.ingest_runs SELECT ?, source, now() - to_microseconds(?::BIGINT), "
                    "now(), read, stored, duplicates, quarantined, ?::JSON FROM run_rows",
                    [run_id, int(report.seconds * 1e6), json.dumps(dict(report.redactions))],
                )
        finally:
            con.unregister("run_rows")

    # -- follow -----------------------------------------------------------
    def _follow(
        self,
        paths: list[str],
        opts: dict[str, Any],
        report: IngestReport,
        from_start: bool,
        poll_interval: float,
        stop: threading.Event | None,
        progress: ProgressFn | None,
    ) -> None:
        if STDIN in paths or any(p.endswith(".gz") for p in paths):
            raise IngestError(
                "--follow tails plain files that grow; stdin and .gz files are read to their end "
                "without it"
            )
        follower = FileFollower(self, paths, opts, report, from_start, progress)
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                follower.poll()
                stop.wait(poll_interval)
        except KeyboardInterrupt:
            log.info("ingest.follow_stopped")
        finally:
            follower.close()

    def follower(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        service: str | None = None,
        session_key: str | None = None,
        from_start: bool = False,
    ) -> FileFollower:
        """A :class:`FileFollower` over JSON-lines ``paths``: each ``poll()`` stores what was
        appended since (complete lines only), resuming at each file's checkpoint."""
        names = [os.fspath(p) for p in paths]
        if STDIN in names or any(p.endswith(".gz") for p in names):
            raise IngestError(
                "--follow tails plain files that grow; stdin and .gz files are read to their end "
                "without it"
            )
        opts: dict[str, Any] = {"service": service, "session_key": session_key, "format": None}
        return FileFollower(self, names, opts, IngestReport(), from_start, None)


class FileFollower:
    """Tails growing files into an :class:`Ingestor`, one :meth:`poll` at a time.

    Handles rotation (the path names a new file: the old one is finished first) and
    truncation (read again from the start).  Made by :meth:`Ingestor.follower`.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        paths: list[str],
        opts: dict[str, Any],
        report: IngestReport,
        from_start: bool,
        progress: ProgressFn | None,
    ) -> None:
        self.ingestor = ingestor
        self.opts = opts
        #: Everything stored by this follower so far.
        self.report = report
        self.progress = progress
        self._states: dict[str, dict[str, Any]] = {}
        for p in paths:
            first = _open(p)
            byte, line = ingestor._resume_point(first, from_start)
            src_report = SourceReport(first.source, resumed_at_line=line)
            report.sources.append(src_report)
            self._states[p] = {"opened": first, "byte": byte, "line": line, "report": src_report}

    def poll(self) -> IngestReport:
        """Store what was appended to each file since the last poll; the report of this poll."""
        ing, opts, progress = self.ingestor, self.opts, self.progress
        before = dataclasses.replace(self.report, reasons=Counter(self.report.reasons))
        for p, st in self._states.items():
            opened: _Opened = st["opened"]
            # Read what has been appended (complete lines only).
            st["byte"], st["line"] = ing._run_stream(
                opened, st["byte"], st["line"], opts, self.report, st["report"], False, progress
            )
            # Rotation: the path now names another file, or the file was truncated.
            try:
                now = os.stat(opened.source)
            except FileNotFoundError:
                continue  # rotated away, the new file not created yet
            ident = f"{now.st_dev}:{now.st_ino}"
            if ident != opened.file_id or now.st_size < st["byte"]:
                if ident != opened.file_id:
                    # Finish the old file, its last line included.
                    ing._run_stream(
                        opened,
                        st["byte"],
                        st["line"],
                        opts,
                        self.report,
                        st["report"],
                        True,
                        progress,
                    )
                opened.stream.close()
                st["opened"] = _open(p)
                st["byte"], st["line"] = 0, 1
                log.info("ingest.rotated", source=opened.source)
        delta = IngestReport(
            read=self.report.read - before.read,
            stored=self.report.stored - before.stored,
            duplicates=self.report.duplicates - before.duplicates,
            quarantined=self.report.quarantined - before.quarantined,
            reasons=self.report.reasons - before.reasons,
        )
        return delta

    def close(self) -> None:
        for st in self._states.values():
            st["opened"].stream.close()


def ingest(
    store: Store,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    **kwargs: Any,
) -> IngestReport:
    """Ingest one path or several into ``store``; see :meth:`Ingestor.run` for the options."""
    redactor = kwargs.pop("redactor", None)
    limits = kwargs.pop("limits", DEFAULT_LIMITS)
    chunk_bytes = kwargs.pop("chunk_bytes", None)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return Ingestor(store, redactor=redactor, limits=limits, chunk_bytes=chunk_bytes).run(
        paths, **kwargs
    )
