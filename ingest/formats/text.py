"""Plain-text logs; an event starts at a line that matches the log format, and the lines after
it that do not continue it.

Without ``--log-format`` the layout is detected per file from its first lines
(:mod:`faultcast.ingest.layouts`); either way the time is inferred from those lines
(:mod:`faultcast.ingest.timeinfer`) before anything is stored, and a file whose time cannot be
read is refused at once with a sample value and the option to give.

The SQL lives in :mod:`faultcast.ingest.text`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from faultcast.ingest.errors import IngestError
from faultcast.ingest.formats import FormatOptions
from faultcast.ingest.jsonl import Limits
from faultcast.ingest.layouts import Detected, _split_all, detect, sample_lines
from faultcast.ingest.text import LogFormat, build_text_sql
from faultcast.ingest.timeinfer import TimeReading, infer_time, parse_time_options

#: How many lines of a file's head the sniff reads at most.
SNIFF_LINES = 2000


def _shown(text: str, limit: int = 80) -> str:
    """A sample value fit to quote in a message: secrets redacted, escaped, cut short."""
    from faultcast.ingest.redact import Redactor

    redacted, _ = Redactor().redact(text)
    return repr(redacted[:limit] + ("…" if len(redacted) > limit else ""))


@dataclass(frozen=True)
class TextLog:
    """Text logs onto the event schema.

    ``session_key``: a regular expression whose first match in the message is the key.
    ``log_format`` None: detected per file by :meth:`sniff`.

    Examples
    --------
    >>> fmt = TextLog.from_options(FormatOptions(log_format="<Level> <Content>"))
    >>> fmt.sniff("app.log", b"INFO started\\n") is not None  # no time in it
    True
    """

    log_format: LogFormat | None
    time_format: dict[str, str] | str | None = None
    year: int | None = None
    service: str | None = None
    session_key: str | None = None
    limits: Limits = Limits()
    name: str = "text"
    sniff_when_named: bool = True
    time_reading: TimeReading | None = None
    mtime: datetime | None = None
    layout_name: str | None = None
    #: What :meth:`sniff` found per file (resolved path → the format for it).
    chosen: dict[str, TextLog] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_options(cls, options: FormatOptions) -> TextLog:
        fmt = None
        if options.log_format:
            try:
                fmt = LogFormat.parse(options.log_format)
            except ValueError as e:
                raise IngestError(str(e)) from e
        if options.session_key:
            try:
                re.compile(options.session_key)
            except re.error as e:
                raise IngestError(
                    f"--session-key {options.session_key!r} is not a regular expression: {e}"
                ) from e
        try:
            time_format = parse_time_options(options.time_format)
        except ValueError as e:
            raise IngestError(str(e)) from e
        if isinstance(time_format, dict) and fmt is not None:
            unknown = [f for f in time_format if f not in fmt.fields]
            if unknown:
                raise IngestError(
                    f"--time-format names the field {unknown[0]!r}, which the log format does "
                    f"not have (its fields: {', '.join(fmt.fields)})"
                )
        return cls(
            fmt,
            time_format,
            options.year,
            options.service,
            options.session_key,
            options.limits,
        )

    @property
    def event_start(self) -> str | None:
        return self.log_format.regex if self.log_format is not None else None

    # -- per file ---------------------------------------------------------
    def sniff(self, path: str, head: bytes) -> str | None:
        """Find the file's layout (when not given) and how its time reads; None when both
        are found, else what is wrong and which option to give."""
        lines = sample_lines(head, SNIFF_LINES)
        if not lines:
            return None  # an empty file is simply nothing to ingest
        sample = lines[:200]
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            if self.log_format is None:
                found = detect(con, sample, time_formats=self.time_format)
                if found is None:
                    return (
                        f"I cannot tell the layout of {path} from its first {len(sample)} lines "
                        f"(the first: {_shown(sample[0])}): none of the known layouts, nor one "
                        "learned from the lines, gives them a time I can read; give --log-format "
                        "(logparser syntax, e.g. '<Date> <Time> <Level> <Component>: <Content>') "
                        "and, for an unusual time, --time-format FIELD=STRPTIME"
                    )
            else:
                rows = _split_all(con, self.log_format, lines)
                if not rows:
                    return (
                        f"none of the first {len(lines)} lines of {path} match the log format "
                        f"{self.log_format.text!r} (as a pattern: {self.log_format.regex}); "
                        "check the format against a line of the file"
                    )
                rows = rows[:200]
                candidates = [
                    f for f in self.log_format.fields if f != self.log_format.message_field
                ]
                try:
                    reading = infer_time(con, candidates, rows, formats=self.time_format)
                except ValueError as e:
                    return str(e)
                if reading is None or reading.parsed < 0.5:
                    return self._no_time(path, rows, candidates, reading)
                found = Detected("given", self.log_format, reading, len(rows) / len(sample))
        finally:
            con.close()
        if found.time.parsed < 0.5:
            return self._no_time(path, [], list(found.log_format.fields), found.time)
        self.chosen[_key(path)] = dataclasses.replace(
            self,
            log_format=found.log_format,
            time_reading=found.time,
            mtime=_mtime(path),
            layout_name=found.name,
            chosen={},
        )
        return None

    def _no_time(
        self,
        path: str,
        rows: list[dict[str, str]],
        fields: list[str],
        reading: TimeReading | None,
    ) -> str:
        if reading is not None:
            value = reading.example
            where = f"{'+'.join(reading.fields)} as {reading.describe()} reads {reading.parsed:.0%}"
        else:
            first = rows[0] if rows else {}
            value = " ".join(first.get(f) or "" for f in fields[:3])
            where = f"the fields {', '.join(fields) or '(none)'}"
        return (
            f"no time I can read in the first lines of {path}: {where} "
            f"(e.g. {_shown(value)}); give --time-format FIELD=STRPTIME per time field (e.g. "
            "--time-format 'Time=%Y-%m-%d %H:%M:%S,%f'; epoch, epoch_ms, epoch_us, epoch_ns for "
            "counts since 1970) and --year for forms without a year"
        )

    def for_source(self, source: str) -> TextLog:
        """The format resolved for ``source`` (a file's resolved path)."""
        if self.time_reading is not None:
            return self
        resolved = self.chosen.get(_key(source))
        if resolved is None and os.path.isfile(source):
            from faultcast.ingest._sources import read_head

            head = read_head(source)
            if self.log_format is None and not sample_lines(head):
                return self  # nothing to detect from yet (a followed file still empty)
            problem = self.sniff(source, head)
            if problem is not None:
                raise IngestError(problem)
            resolved = self.chosen.get(_key(source))
        if resolved is not None:
            return resolved
        if self.log_format is None:
            raise IngestError(
                f"{source}: reading text without --log-format needs a file to detect the "
                "layout from; give --log-format (logparser syntax)"
            )
        return self

    def layouts(self) -> dict[str, dict[str, object]]:
        """What was chosen per file, for the report."""
        out: dict[str, dict[str, object]] = {}
        for path, chosen in self.chosen.items():
            assert chosen.log_format is not None and chosen.time_reading is not None
            out[path] = {
                "layout": chosen.layout_name,
                "log_format": chosen.log_format.text,
                "time": chosen.time_reading.to_dict(),
            }
        return out

    def parse(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        fmt = self.for_source(source)
        assert fmt.log_format is not None
        con.execute(
            build_text_sql(
                fmt.log_format,
                time_format=fmt.time_format if isinstance(fmt.time_format, str) else None,
                default_year=fmt.year or datetime.now(UTC).year,
                default_service=fmt.service,
                session_key_regex=fmt.session_key,
                max_message_chars=fmt.limits.max_message_chars,
                extra_masks=fmt.limits.extra_masks,
                time_reading=fmt.time_reading,
                year=fmt.year,
                mtime=fmt.mtime,
            ),
            {"source": source},
        )


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def _mtime(path: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return None
