"""JSON lines (structlog's JSONRenderer and any JSON objects), one event per line.

The SQL lives in :mod:`faultcast.ingest.jsonl`: plainly good lines take a fast path; the rest
get the full checks, which say what is wrong with a bad line or map its keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from faultcast.ingest.formats import FormatOptions
from faultcast.ingest.jsonl import (
    KEY_PASS_SQL,
    REPEATED_KEYS_SQL,
    Limits,
    build_fast_sql,
    build_parse_sql,
    keep_repeated_keys,
)
from faultcast.ingest.redact import Redactor

_REDACTOR = Redactor()
_FIELD_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_.@-]*")


@dataclass(frozen=True)
class JsonLines:
    """JSON lines onto the event schema.

    ``session_key``: the field that holds it when it is a bare name, else a regular expression
    whose first match in the message is the key.

    Examples
    --------
    >>> fmt = JsonLines.from_options(FormatOptions())
    >>> fmt.sniff("app.jsonl", b'{"event": "x"}\\n') is None
    True
    >>> print(fmt.sniff("app.log", b"2026-01-01 12:00:00 INFO started\\n"))  # doctest: +ELLIPSIS
    app.log does not look like JSON lines (its first line is '2026-01-01 12:00:00 INFO started'). ...
    """

    service: str | None = None
    session_key: str | None = None
    limits: Limits = Limits()
    name: str = "json"
    event_start: str | None = None
    sniff_when_named: bool = False

    @classmethod
    def from_options(cls, options: FormatOptions) -> JsonLines:
        return cls(options.service, options.session_key, options.limits)

    def sniff(self, path: str, head: bytes) -> str | None:
        for raw in head.splitlines():
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b"{") or line.startswith(b"["):
                return None
            # The line is input like any other: redacted before it is shown (then cut short).
            shown = _REDACTOR.redact(line[:4096].decode("utf-8", errors="replace"))[0][:80]
            return (
                f"{path} does not look like JSON lines (its first line is {shown!r}). "
                "Pass --format json to ingest it anyway (each bad line is quarantined), or "
                "--format text for a plain-text log (its layout is detected)."
            )
        return None

    def tail_complete(self, line: bytes) -> bool:
        """Whether a file's last line, which has no newline, is whole (a JSON value) and can be
        read now; a half-written one waits for the next run."""
        try:
            json.loads(line)
        except (ValueError, RecursionError):
            return False
        return True

    @property
    def _session_field(self) -> str | None:
        """The session key's field, when the option names one (else it is a pattern)."""
        key = self.session_key
        if key is None or _FIELD_NAME.fullmatch(key):
            return key
        return None

    def parse(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        session_field = self._session_field
        kwargs = {
            "session_key_field": session_field,
            "default_service": self.service,
            "limits": self.limits,
        }
        # Plainly good lines take the fast path; the rest get the full checks.
        keys, repeated = con.execute(KEY_PASS_SQL.format(batch="batch")).fetchall()[0]
        batch = _keep_repeated_keys(con) if repeated else "batch"
        con.execute(
            build_fast_sql(batch=batch, present_keys=set(keys), **kwargs), {"source": source}
        )
        fast = con.execute("SELECT count(*) FROM parsed").fetchall()[0][0]
        total = con.execute(f"SELECT count(*) FROM {batch}").fetchall()[0][0]
        if fast < total:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE slow_batch AS "
                f"SELECT b.line_no, b.line FROM {batch} b ANTI JOIN parsed p USING (line_no)"
            )
            con.execute(
                build_parse_sql(batch="slow_batch", target="parsed_slow", **kwargs),
                {"source": source},
            )
            con.execute("INSERT INTO parsed SELECT * FROM parsed_slow")
            _explain_invalid_json(con)
        if self.session_key is not None and session_field is None:
            con.execute(
                "UPDATE parsed SET session_key = nullif(regexp_extract(message, ?), '') "
                "WHERE reason IS NULL",
                [self.session_key],
            )


def _keep_repeated_keys(con: duckdb.DuckDBPyConnection) -> str:
    """The batch with its lines that repeat a key rewritten (few), so that the later values
    reach ``attrs`` as ``key#2``, ... (see :func:`keep_repeated_keys`); its table's name."""
    rows = con.execute(REPEATED_KEYS_SQL.format(batch="batch")).fetchall()
    fixed = [(n, keep_repeated_keys(line)) for n, line in rows]
    table = pa.table(
        {
            "line_no": pa.array([n for n, f in fixed if f is not None], pa.int64()),
            "fixed": pa.array([f for _, f in fixed if f is not None], pa.large_string()),
        }
    )
    con.register("repeated_keys", table)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE batch_keys_kept AS SELECT b.line_no, "
            "coalesce(r.fixed, b.line) AS line FROM batch b LEFT JOIN repeated_keys r USING (line_no)"
        )
    finally:
        con.unregister("repeated_keys")
    return "batch_keys_kept"


def _explain_invalid_json(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the reason ``invalid JSON`` by what Python's parser says is wrong, and where."""
    rows = con.execute("SELECT line_no, raw FROM parsed WHERE reason = 'invalid JSON'").fetchall()
    if not rows:
        return
    details = []
    for _, raw in rows:
        try:
            json.loads(raw)
            detail = "invalid JSON"
        except json.JSONDecodeError as e:
            # Some messages end in "at" already ("Unterminated string starting at").
            where = "column" if e.msg.endswith(" at") else "at column"
            detail = f"invalid JSON: {e.msg} {where} {e.colno}"
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
