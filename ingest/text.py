"""Plain-text logs with a log format (logparser's syntax) onto the event schema, in SQL.

``<Field>`` is a field; the text between fields is a regular expression in which each run of
spaces matches any run of whitespace, so ``\\[<Pid>\\]`` takes literal brackets and
``(\\[<PID>\\])?`` an optional part: the formats of logparser's benchmark work unchanged.

A line that does not match the format continues the event before it (a traceback, a wrapped
message): it is appended to that event's message.  Fields map onto columns: Content → message,
Level → level, Component → component, Node/Host → host, Date/Time/Timestamp/Month/Day/Year →
ts (common forms recognised; ``time_format`` for others); every other field goes to attrs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from faultcast.ingest.jsonl import epoch_sql
from faultcast.ingest.schema import PROMOTED_ATTRS, level_sql

if TYPE_CHECKING:
    from faultcast.ingest.timeinfer import TimeReading

#: Field name (lower-cased) → column.
FIELD_COLUMNS: Final[dict[str, str]] = {
    "content": "message",
    "message": "message",
    "level": "level",
    "severity": "level",
    "component": "component",
    "node": "host",
    "host": "host",
    "hostname": "host",
    "service": "service",
}
TIME_FIELDS: Final[tuple[str, ...]] = (
    "month",
    "date",
    "day",
    "time",
    "year",
    "timestamp",
    "datetime",
)

#: Time forms tried in order (on the time fields joined by one space).  Forms without a year
#: read as ``default_year``.
TEXT_TIME_FORMATS: Final[tuple[str, ...]] = (
    "%y%m%d %H%M%S",  # HDFS: 081109 203530
    "%Y-%m-%d %H:%M:%S,%f",  # log4j: 2015-10-18 18:01:47,978
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%y/%m/%d %H:%M:%S",  # Spark: 17/06/09 20:10:40
    "%a %b %d %H:%M:%S %Y",  # Apache: Sun Dec 04 04:47:44 2005
    "%d/%b/%Y:%H:%M:%S %z",  # access logs
    "%b %d %H:%M:%S",  # syslog: Jun 14 15:16:01
    "%m-%d %H:%M:%S.%f",  # Android: 03-17 16:13:38.811
    "%m-%d %H:%M:%S",
)


@functools.lru_cache(maxsize=64)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class LogFormat:
    """A parsed log format.

    Examples
    --------
    >>> f = LogFormat.parse("<Date> <Time> <Pid> <Level> <Component>: <Content>")
    >>> f.fields
    ('Date', 'Time', 'Pid', 'Level', 'Component', 'Content')
    >>> bool(re.match(f.regex, "081109 203615 148 INFO dfs.DataNode: PacketResponder 1 terminating"))
    True
    """

    text: str
    fields: tuple[str, ...]
    regex: str

    #: The name of every capturing group of :attr:`regex`, by group number (the groups a
    #: format's own text opens, such as ``(\\[<PID>\\])?``, get a name starting with ``_``).
    groups: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LogFormat:
        """The format exactly as logparser builds it: each ``<Field>`` a lazy named group
        ``(?P<Field>.*?)``, the text between them a regular expression whose runs of spaces
        match ``\\s+``, anchored with ``^...$`` (and matched against the stripped line)."""
        parts = re.split(r"(<[^<>]+>)", text)
        fields: list[str] = []
        regex = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                regex += re.sub(r" +", r"\\s+", part)
            else:
                # ``<Name:regex>`` (our extension) gives the field its own pattern.
                name, _, pattern = part[1:-1].partition(":")
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ValueError(
                        f"log format field <{name}> must be a name (letters, digits, _)"
                    )
                if name in fields:
                    raise ValueError(f"log format names the field <{name}> twice")
                fields.append(name)
                regex += f"(?P<{name}>{pattern or '.*?'})"
        if not fields:
            raise ValueError(
                f"the log format {text!r} has no <Field>; e.g. '<Date> <Time> <Level> <Content>'"
            )
        regex = "^" + regex + "$"
        try:
            compiled = re.compile(regex)
        except re.error as e:
            raise ValueError(f"the log format {text!r} is not a valid pattern: {e}") from e
        by_number = {n: name for name, n in compiled.groupindex.items()}
        groups = tuple(by_number.get(n, f"_{n}") for n in range(1, compiled.groups + 1))
        return cls(text, tuple(fields), regex, groups)

    def split(self, line: str) -> dict[str, str] | None:
        """The fields of ``line`` as logparser reads them (None when it does not match).

        >>> LogFormat.parse(r"<Time> \\[<Level>\\] <Content>").split("  12:00 [INFO] up ")
        {'Time': '12:00', 'Level': 'INFO', 'Content': 'up'}
        """
        m = _compiled(self.regex).search(line.strip())
        return None if m is None else {f: m.group(f) for f in self.fields}

    def column_of(self, field: str) -> str | None:
        return FIELD_COLUMNS.get(field.lower())

    @property
    def time_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f.lower() in TIME_FIELDS)

    @property
    def message_field(self) -> str | None:
        for f in self.fields:
            if self.column_of(f) == "message":
                return f
        return None


def build_text_sql(
    fmt: LogFormat,
    *,
    batch: str = "batch",
    target: str = "parsed",
    time_format: str | None = None,
    default_year: int = 2026,
    default_service: str | None = None,
    session_key_regex: str | None = None,
    max_message_chars: int = 64 * 1024,
    extra_masks: tuple[str, ...] = (),
    time_reading: TimeReading | None = None,
    year: int | None = None,
    mtime: datetime | None = None,
) -> str:
    """Parse ``batch(line_no, line)`` of a text log into temp table ``target`` (the columns of
    :func:`faultcast.ingest.jsonl.build_parse_sql`).  Lines before the first matching line have
    no event to continue and are quarantined.

    ``time_reading`` (inferred, :mod:`faultcast.ingest.timeinfer`) says how the time is read,
    with ``year`` (else ``mtime``'s year, rolled back over New Year) for forms without one;
    without it the fields named as time are tried in the common forms of
    :data:`TEXT_TIME_FORMATS` (``time_format`` instead when given) in ``default_year``.
    Lines are matched stripped, as logparser matches them.  A level that is missing or not a
    level is inferred from the message (:mod:`faultcast.ingest.levels`)."""
    from faultcast.ingest.fingerprint import template_id_sql, template_sql
    from faultcast.ingest.levels import inferred_level_sql, inferred_security_sql
    from faultcast.ingest.schema import category_sql

    names = "[" + ", ".join(_q(g) for g in (fmt.groups or fmt.fields)) + "]"
    rx = _q(fmt.regex)
    stripped = "trim(line, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))"
    time_fields = time_reading.fields if time_reading is not None else fmt.time_fields

    def field(name: str) -> str:
        return f"nullif(trim(f['{name}']), '')"

    time_text = (
        "concat_ws(' ', " + ", ".join(field(f) for f in time_fields) + ")"
        if time_fields
        else "NULL"
    )
    formats = (time_format,) if time_format else TEXT_TIME_FORMATS
    formats_sql = "[" + ", ".join(_q(x) for x in formats) + "]"
    # The known forms first: DuckDB's own cast reads '17/06/09 20:10:40' as the year 17.
    cast = f"TRY_CAST({time_text} AS TIMESTAMPTZ)"
    num = f"CASE WHEN regexp_full_match({time_text}, '[0-9]{{9,19}}(\\.[0-9]+)?') THEN TRY_CAST({time_text} AS DOUBLE) END"
    # By its size, as in JSON lines: a number in no unit's range is no time (never re-read).
    epoch = f"TRY(to_timestamp({epoch_sql(num)}))"
    parsed_time = (
        f"coalesce(try_strptime({time_text}, {formats_sql})::TIMESTAMPTZ, {epoch}, "
        f"CASE WHEN year({cast}) >= 1970 THEN {cast} END)"
    )
    # A year-less form parses as 1900: move it to the default year.
    ts = (
        f"CASE WHEN year({parsed_time}) = 1900 THEN {parsed_time} + to_years({default_year - 1900}) "
        f"ELSE {parsed_time} END"
    )
    time_where = "the fields " + (", ".join(time_fields) or "(none)")
    if time_reading is not None:
        ts = time_reading.sql(field, year, mtime)
        time_where = time_reading.describe().replace("'", "''")
    elif not fmt.time_fields:
        ts = "NULL::TIMESTAMPTZ"
    columns: dict[str, str] = {}
    extra: list[str] = []
    for f in fmt.fields:
        column = fmt.column_of(f)
        if column and column not in columns:
            columns[column] = f
        elif f not in time_fields:
            extra.append(f)
    message_field = columns.get("message")
    message = f"f['{message_field}']" if message_field else "line"
    level_field = columns.get("level")
    level_raw = field(level_field) if level_field else "NULL"
    level = f"coalesce(level_given, {inferred_level_sql('message')})"
    attrs_pairs = [f"{_q(f)}, {field(f)}" for f in extra]
    attrs_pairs.append("'level_inferred', CASE WHEN level_given IS NULL THEN true END")
    if level_field:
        # A "level" that is not a level (Linux's format puts the host there) is kept in attrs.
        attrs_pairs.append(
            f"{_q(level_field)}, CASE WHEN {level_sql(level_raw)} IS NULL THEN {level_raw} END"
        )
    # Merging into {} drops the fields that are empty (JSON null).
    attrs = (
        f"nullif(json_merge_patch('{{}}', json_object({', '.join(attrs_pairs)})), '{{}}')"
        if attrs_pairs
        else "NULL"
    )
    service = field(columns["service"]) if "service" in columns else "NULL"
    if default_service:
        service = f"coalesce({service}, {_q(default_service)})"
    host = field(columns["host"]) if "host" in columns else "NULL"
    component = field(columns["component"]) if "component" in columns else "NULL"
    session = (
        f"nullif(regexp_extract(message, {_q(session_key_regex)}), '')"
        if session_key_regex
        else "NULL"
    )
    category = (
        f"CASE WHEN level_given IS NULL AND {inferred_security_sql('message')} THEN 'security' "
        f"ELSE {category_sql('NULL', 'template', 'level')} END"
    )
    promoted = ", ".join(
        f"json_extract_string({attrs}, {_q('$.' + a)}) AS {a}" for a in PROMOTED_ATTRS
    )
    return f"""
CREATE OR REPLACE TEMP TABLE {target} AS
WITH marked AS MATERIALIZED (
    SELECT line_no, line, regexp_matches({stripped}, {rx}) AS starts FROM {batch}
), grouped AS MATERIALIZED (
    SELECT line_no, line, starts, sum(starts::INTEGER) OVER (ORDER BY line_no) AS grp FROM marked
), heads AS MATERIALIZED (
    SELECT grp, line_no, line, regexp_extract({stripped}, {rx}, {names}) AS f FROM grouped WHERE starts
), tails AS (
    SELECT grp, string_agg(line, chr(10) ORDER BY line_no) AS more FROM grouped
    WHERE NOT starts AND grp > 0 GROUP BY grp
), events AS MATERIALIZED (
    SELECT h.line_no, h.line || coalesce(chr(10) || t.more, '') AS raw,
        {message} || coalesce(chr(10) || t.more, '') AS message, h.f
    FROM heads h LEFT JOIN tails t USING (grp)
), valued AS MATERIALIZED (
    SELECT line_no, raw, message, f, {ts} AS ts, {level} AS level, level_given
    FROM (SELECT *, {level_sql(level_raw)} AS level_given FROM events)
), finished AS MATERIALIZED (
    SELECT *, {template_sql("message", extra_masks)} AS template FROM valued
)
SELECT
    line_no,
    raw,
    CASE WHEN ts IS NULL THEN 'no timestamp I can read in {time_where}: '
        || coalesce({time_text}, '(empty)') || ' (give --time-format)'
         WHEN length(message) > {max_message_chars}
            THEN 'message too long: ' || length(message) || ' characters; the limit is {max_message_chars}'
    END AS reason,
    false AS given_id,
    md5($source || chr(31) || line_no::VARCHAR || chr(31) || raw) AS event_id,
    ts,
    {service} AS service,
    {host} AS host,
    {component} AS component,
    level,
    {category} AS category,
    NULL::VARCHAR AS error_type,
    message,
    {template_id_sql("template")} AS template_id,
    template,
    {session} AS session_key,
    level = 'critical' AS failure,
    NULL::VARCHAR AS recovery_action,
    NULL::VARCHAR AS recovery_outcome,
    NULL::INTEGER AS retry_count,
    NULL::DOUBLE AS recovery_ms,
    {attrs}::JSON AS attrs,
    {promoted}
FROM finished
UNION ALL
SELECT line_no, line, 'line does not match the log format and no event comes before it to continue',
    false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL{", NULL" * len(PROMOTED_ATTRS)}
FROM grouped WHERE grp = 0
"""
