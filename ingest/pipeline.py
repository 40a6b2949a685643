"""Ingest runs: read sources in chunks → redact → parse (SQL) → store, exactly once per line.

Each chunk is committed in one transaction together with its source's checkpoint (path, file
identity, byte offset, line number), so a run killed at any instant and started again resumes
where the last commit ended; event ids (given, or a hash of source, line number and line) make
re-reading a line a no-op.  Every line read ends up counted once as stored, duplicate or
quarantined.

The jobs live apart: :mod:`faultcast.ingest.formats` (what a format's lines mean),
:mod:`faultcast.ingest._sources` (opening, heads, checkpoints, reading ahead),
:mod:`faultcast.ingest._commit` (the transaction per chunk); this module runs the chunks
through them and keeps the reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from faultcast.ingest import formats
from faultcast.ingest._commit import Committer
from faultcast.ingest._lines import (
    DEFAULT_CHUNK_BYTES,
    BadLine,
    LineChunk,
    iter_chunks,
    split_lines,
)
from faultcast.ingest._sources import (
    STDIN,
    Checkpoint,
    Opened,
    check_path,
    is_fifo,
    open_source,
    prefetch,
    prefix_md5,
    read_error,
    read_head,
    resume_point,
    seek,
)
from faultcast.ingest.errors import IngestError
from faultcast.ingest.formats import FormatOptions, InputFormat
from faultcast.ingest.jsonl import DEFAULT_LIMITS, Limits
from faultcast.ingest.redact import Redactor
from faultcast.ingest.store import Store

__all__ = [
    "STDIN",
    "BatchResult",
    "FileFollower",
    "Format",
    "IngestReport",
    "Ingestor",
    "Limits",
    "SourceReport",
    "ingest",
    "reason_kind",
]

log = structlog.get_logger(__name__)

Format = Literal["auto", "json", "text"]
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
    """What one ingest run did.  Always ``read == stored + duplicates + quarantined +
    continuations`` (lines of a text log appended to the event before them)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    sources: list[SourceReport] = field(default_factory=list)
    seconds: float = 0.0
    continuations: int = 0
    #: Per text file: the layout and time reading chosen (detected or given).
    layouts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.read == self.stored + self.duplicates + self.quarantined + self.continuations

    @property
    def events_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "continuations": self.continuations,
            **({"layouts": self.layouts} if self.layouts else {}),
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


# ---------------------------------------------------------------------- engine
@contextlib.contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """While following: Ctrl-C (SIGINT) sets ``stop``, so the poll in hand finishes and commits
    and the follow ends cleanly.  Raising KeyboardInterrupt instead could be lost: a signal that
    arrives while DuckDB runs a statement is taken by DuckDB's own interrupt check, and when the
    statement finishes first nothing is raised at all.  A second Ctrl-C stops at once.  Only
    the main thread can set handlers; elsewhere the caller's ``stop`` is the way to end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_ctrl_c(signum: int, frame: object) -> None:
        if stop.is_set():  # pressed again: stop now, without finishing the poll
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_json_line(head: bytes) -> bool:
    """Whether any line of a file's head starts like a JSON value (an object or an array)."""
    return any(line.lstrip().startswith((b"{", b"[")) for line in head.splitlines())


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
        self.committer = Committer(store)
        # FAULTCAST_CHUNK_BYTES: smaller chunks commit more often (tests use it to crash mid-run).
        self.chunk_bytes = chunk_bytes or int(
            os.environ.get("FAULTCAST_CHUNK_BYTES", DEFAULT_CHUNK_BYTES)
        )
        # A query over 2 s would draw DuckDB's progress bar on stdout (``--json`` prints there).
        with contextlib.suppress(duckdb.Error):
            store.scratch.execute("SET enable_progress_bar = false")

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

    def _parse(self, chunk: LineChunk, source: str, fmt: InputFormat) -> None:
        """The chunk's lines into temp table ``parsed``, by the format."""
        # Several record batches, so DuckDB scans them in parallel.
        table = pa.table({"line_no": chunk.line_numbers, "line": chunk.lines})
        # The schema too: a chunk with no good line (all of it quarantined already) has no batch.
        batch = pa.Table.from_batches(table.to_batches(max_chunksize=16384), schema=table.schema)
        con = self.store.scratch
        con.register("batch", batch)
        try:
            fmt.parse(con, source)
        finally:
            con.unregister("batch")

    def _commit(
        self,
        chunk: LineChunk,
        bad: list[BadLine],
        source: str,
        checkpoint: Checkpoint | None,
        report: IngestReport,
        src_report: SourceReport,
    ) -> None:
        done = self.committer.commit(len(chunk), bad, source, checkpoint)
        for reason in done.reasons:
            report.reasons[reason_kind(reason)] += 1
        for r in (report, src_report):
            r.read += done.read
            r.stored += done.stored
            r.quarantined += done.quarantined
            r.duplicates += done.duplicates
        report.continuations += done.continuations

    # -- one source -------------------------------------------------------
    def _run_stream(
        self,
        opened: Opened,
        start_byte: int,
        start_line: int,
        fmt: InputFormat,
        report: IngestReport,
        src_report: SourceReport,
        final: bool,
        progress: ProgressFn | None,
        hold_unfinished: bool = False,
    ) -> tuple[int, int]:
        """Read ``opened`` from ``start_byte`` on; with ``final``, to its end.  With
        ``hold_unfinished`` too, a last line without its newline is taken only when the format
        says it is complete (a JSON object); else it waits, as when following."""
        chosen = getattr(fmt, "layouts", None)
        fmt = formats.for_source(fmt, opened.source)
        if chosen is not None:
            report.layouts.update(chosen())
        seek(opened, start_byte, self.chunk_bytes)
        keep_tail = getattr(fmt, "tail_complete", None) if hold_unfinished else None
        chunks = iter_chunks(
            opened.stream,
            event_start=fmt.event_start,
            first_line=start_line,
            start_byte=start_byte,
            chunk_bytes=self.chunk_bytes,
            final=final,
            max_line_bytes=self.limits.max_line_bytes,
            keep_tail=keep_tail,
        )
        # Reading, splitting and redacting the next chunk overlaps parsing and storing this one.
        return self._consume(
            chunks, opened, start_byte, start_line, fmt, report, src_report, progress
        )

    def _consume(
        self,
        chunks: Iterator[LineChunk],
        opened: Opened,
        byte: int,
        line: int,
        fmt: InputFormat,
        report: IngestReport,
        src_report: SourceReport,
        progress: ProgressFn | None,
    ) -> tuple[int, int]:
        prefix_len = 0
        prefix_hash = ""
        for chunk, bad, redactions in prefetch(map(self._prepare, chunks)):
            report.redactions.update(redactions)
            self._parse(chunk, opened.source, fmt)
            checkpoint = None
            if opened.is_regular:
                assert opened.file_id is not None
                if prefix_len < 1024:
                    # Identify the file by its first KiB (the compressed bytes of a .gz).
                    prefix_len = min(1024, (opened.size or 0) if opened.is_gzip else chunk.end_byte)
                    prefix_hash = prefix_md5(opened.source, prefix_len)
                checkpoint = (
                    opened.file_id,
                    prefix_len,
                    prefix_hash,
                    chunk.end_byte,
                    line + len(chunk),
                )
            self._commit(chunk, bad, opened.source, checkpoint, report, src_report)
            byte = chunk.end_byte
            line += len(chunk)
            if progress is not None:
                progress(byte, opened.size)
        return byte, line

    @contextlib.contextmanager
    def _appending(self) -> Iterator[None]:
        """For a run: no vacuum at checkpoints.  Each chunk's insert ends in a part-filled row
        group; merging those at a checkpoint rewrote the whole table (as long as the insert);
        appends leave nothing else to vacuum."""
        con = self.store.scratch
        try:
            before = con.execute("SELECT current_setting('max_vacuum_tasks')").fetchall()[0][0]
            con.execute("SET max_vacuum_tasks = 0")
        except duckdb.Error:  # pragma: no cover - a DuckDB without the setting
            yield
            return
        try:
            yield
        finally:
            con.execute(f"SET max_vacuum_tasks = {int(before)}")

    # -- public -----------------------------------------------------------
    def run(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        format: Format | str = "auto",
        service: str | None = None,
        session_key: str | None = None,
        log_format: str | None = None,
        time_format: str | Sequence[str] | None = None,
        year: int | None = None,
        from_start: bool = False,
        follow: bool = False,
        poll_interval: float = 0.5,
        stop: threading.Event | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest every path (``"-"`` is stdin) and return the report of this run.

        ``format``: ``"json"`` (JSON lines), ``"text"`` (``log_format`` gives the layout,
        else it is detected per file), another name of :mod:`faultcast.ingest.formats` or
        ``"auto"`` (text when a log format is given, else JSON).  ``session_key``: for JSON,
        the field that holds it when it is a bare name, else (and always for text) a regular
        expression whose first match in the message is the key.  ``time_format``: a text
        log's time when not inferred (``"FIELD=STRPTIME"`` each, or one format for its time
        fields); ``year``: for text time forms without one (default: the file's modification
        year).
        """
        options = FormatOptions(
            service=service,
            session_key=session_key,
            log_format=log_format,
            time_format=time_format
            if time_format is None or isinstance(time_format, str)
            else tuple(time_format),
            year=year,
            limits=self.limits,
        )
        fmt = formats.choose(format, options)
        names: list[str] = [os.fspath(p) for p in paths]
        if not names:
            raise IngestError("nothing to ingest: give at least one file, or - for stdin")
        problems: dict[str, str] = {}
        heads: dict[str, bytes] = {}
        for p in names:
            check_path(p)
            if follow:
                _check_followable(p)
            if p != STDIN and not is_fifo(p) and (format == "auto" or fmt.sniff_when_named):
                heads[p] = read_head(p)
                problem = fmt.sniff(p, heads[p])
                if problem is not None:
                    problems[p] = problem
        if (
            problems
            and format == "auto"
            and not log_format
            and len(problems) == len(names)
            and not any(_has_json_line(heads[p]) for p in problems)
        ):
            # No file looks like JSON lines (no line of their heads is an object): they are
            # text logs, their layouts detected.
            fmt = formats.choose("text", options)
        elif problems:
            # It may quote the input: with this run's redaction rules too.
            raise IngestError(self.redactor.redact(next(iter(problems.values())))[0])
        report = IngestReport()
        started = time.monotonic()
        run_id = uuid.uuid4().hex
        with self._appending():
            try:
                if follow:
                    self._follow(names, fmt, report, from_start, poll_interval, stop, progress)
                else:
                    damaged: list[str] = []
                    for p in names:
                        opened = open_source(p)
                        src_report = SourceReport(opened.source)
                        report.sources.append(src_report)
                        try:
                            byte, line = resume_point(self.store, opened, from_start)
                            src_report.resumed_at_line = line
                            byte, line = self._run_stream(
                                opened, byte, line, fmt, report, src_report, True, progress,
                                hold_unfinished=opened.is_regular and not opened.is_gzip,
                            )  # fmt: skip
                            problem = read_error(opened)
                            if problem is not None:
                                damaged.append(
                                    f"{problem} (line {line}); the {src_report.read} lines "
                                    "before it are ingested"
                                )
                            _warn_unfinished(opened, byte, line)
                        finally:
                            if opened.source != "<stdin>":
                                opened.stream.close()
                    if damaged:
                        raise IngestError("; ".join(damaged))
            finally:
                self._record_run(run_id, report)
                if report.stored or report.quarantined:
                    self.store.checkpoint()
                report.seconds = time.monotonic() - started
        log.debug("ingest.done", **{k: v for k, v in report.to_dict().items() if k != "sources"})
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
            chunk, _ = split_lines(
                b"\n".join(cleaned) + b"\n", 0, 0, final=True,
                max_line_bytes=self.limits.max_line_bytes,
            )  # fmt: skip
            by_index = np.asarray(offsets, dtype=np.int64)
            chunk.line_numbers = pa.array(
                by_index[chunk.line_numbers.to_numpy(zero_copy_only=False)], pa.int64()
            )
            for b in chunk.bad:
                b.line_no = int(by_index[b.line_no])
            chunk, bad, redactions = self._prepare(chunk)
            own.redactions.update(redactions)
            fmt = formats.get(
                "json", FormatOptions(service=service, session_key=session_key, limits=self.limits)
            )
            self._parse(chunk, source, fmt)
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
        self.committer.record_run(run_id, rows, report.seconds, json.dumps(dict(report.redactions)))

    # -- follow -----------------------------------------------------------
    def _follow(
        self,
        paths: list[str],
        fmt: InputFormat,
        report: IngestReport,
        from_start: bool,
        poll_interval: float,
        stop: threading.Event | None,
        progress: ProgressFn | None,
    ) -> None:
        for p in paths:
            _check_followable(p)
        follower = FileFollower(self, paths, fmt, report, from_start, progress)
        stop = stop or threading.Event()
        try:
            with _ctrl_c_sets(stop):
                while not stop.is_set():
                    follower.poll()
                    stop.wait(poll_interval)
        except KeyboardInterrupt:
            pass
        finally:
            follower.close()
        log.info("ingest.follow_stopped")

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
        for p in names:
            _check_followable(p)
        fmt = formats.get(
            "json", FormatOptions(service=service, session_key=session_key, limits=self.limits)
        )
        return FileFollower(self, names, fmt, IngestReport(), from_start, None)


def _check_followable(path: str) -> None:
    if path == STDIN or path.endswith(".gz") or is_fifo(path):
        raise IngestError(
            f"--follow tails plain files that grow; {'stdin' if path == STDIN else path} is "
            "read to its end without it (stdin, FIFOs and .gz files are)"
        )


def _warn_unfinished(opened: Opened, byte: int, line: int) -> None:
    """Say so when a file's last line was left for the next run (no newline, not complete)."""
    if not opened.is_regular or opened.is_gzip:
        return
    with contextlib.suppress(OSError):
        size = os.stat(opened.source).st_size
        if size > byte:
            log.warning(
                "ingest.unfinished_line",
                source=opened.source,
                line=line,
                bytes=size - byte,
                note="the last line has no newline and is not complete yet; the next run "
                "reads it (its checkpoint stops before it)",
            )


class FileFollower:
    """Tails growing files into an :class:`Ingestor`, one :meth:`poll` at a time.

    Handles rotation (the path names a new file: the old one is finished first) and
    truncation (read again from the start).  Made by :meth:`Ingestor.follower`.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        paths: list[str],
        fmt: InputFormat,
        report: IngestReport,
        from_start: bool,
        progress: ProgressFn | None,
    ) -> None:
        self.ingestor = ingestor
        self.format = fmt
        #: Everything stored by this follower so far.
        self.report = report
        self.progress = progress
        self._states: dict[str, dict[str, Any]] = {}
        for p in paths:
            first = open_source(p)
            byte, line = resume_point(ingestor.store, first, from_start)
            src_report = SourceReport(first.source, resumed_at_line=line)
            report.sources.append(src_report)
            self._states[p] = {"opened": first, "byte": byte, "line": line, "report": src_report}

    def poll(self) -> IngestReport:
        """Store what was appended to each file since the last poll; the report of this poll."""
        ing, fmt, progress = self.ingestor, self.format, self.progress
        before = dataclasses.replace(self.report, reasons=Counter(self.report.reasons))
        for p, st in self._states.items():
            opened: Opened = st["opened"]
            # Read what has been appended (complete lines only).
            st["byte"], st["line"] = ing._run_stream(
                opened, st["byte"], st["line"], fmt, self.report, st["report"], False, progress
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
                        fmt,
                        self.report,
                        st["report"],
                        True,
                        progress,
                    )
                opened.stream.close()
                st["opened"] = open_source(p)
                st["byte"], st["line"] = 0, 1
                log.debug("ingest.rotated", source=opened.source)
        delta = IngestReport(
            read=self.report.read - before.read,
            stored=self.report.stored - before.stored,
            duplicates=self.report.duplicates - before.duplicates,
            quarantined=self.report.quarantined - before.quarantined,
            continuations=self.report.continuations - before.continuations,
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
