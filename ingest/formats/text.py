"""Plain-text logs with a log format (logparser's syntax); an event starts at a line that
matches the format, and the lines after it that do not continue it.

The SQL lives in :mod:`faultcast.ingest.text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
from faultcast.ingest.errors import IngestError
from faultcast.ingest.formats import FormatOptions
from faultcast.ingest.jsonl import Limits
from faultcast.ingest.text import LogFormat, build_text_sql

#: How many lines of a file's head the sniff reads at most.
SNIFF_LINES = 2000


@dataclass(frozen=True)
class TextLog:
    """Text logs onto the event schema.

    ``session_key``: a regular expression whose first match in the message is the key.

    Examples
    --------
    >>> fmt = TextLog.from_options(FormatOptions(log_format="<Level> <Content>"))
    >>> fmt.sniff("app.log", b"INFO started\\n") is None
    True
    """

    log_format: LogFormat
    time_format: str | None = None
    year: int = 2026
    service: str | None = None
    session_key: str | None = None
    limits: Limits = Limits()
    name: str = "text"
    sniff_when_named: bool = True

    @classmethod
    def from_options(cls, options: FormatOptions) -> TextLog:
        if not options.log_format:
            raise IngestError(
                "--format text needs --log-format, e.g. '<Date> <Time> <Level> <Component>: <Content>'"
            )
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
        return cls(
            fmt,
            options.time_format,
            options.year,
            options.service,
            options.session_key,
            options.limits,
        )

    @property
    def event_start(self) -> str | None:
        regex: str = self.log_format.regex
        return regex

    def sniff(self, path: str, head: bytes) -> str | None:
        rx = re.compile(self.log_format.regex)
        lines = head.splitlines()[:SNIFF_LINES]
        for raw in lines:
            if rx.search(raw.decode("utf-8", errors="replace").rstrip("\r\n")):
                return None
        if not lines:
            return None  # an empty file is simply nothing to ingest
        return (
            f"none of the first {len(lines)} lines of {path} match the log format "
            f"{self.log_format.text!r} (as a pattern: {self.log_format.regex}); check the format "
            "against a line of the file"
        )

    def parse(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        con.execute(
            build_text_sql(
                self.log_format,
                time_format=self.time_format,
                default_year=self.year,
                default_service=self.service,
                session_key_regex=self.session_key,
                max_message_chars=self.limits.max_message_chars,
                extra_masks=self.limits.extra_masks,
            ),
            {"source": source},
        )
