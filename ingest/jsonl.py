"""JSON lines (structlog's JSONRenderer and generic JSON objects) onto the event schema, in SQL.

One DuckDB statement turns a batch of raw lines into typed event columns plus a ``reason``
column that is NULL for a good line and says what is wrong with a bad one.  Nothing here loops
over events in Python.

Which keys feed which column (the first present, non-null key wins; the others stay in
``attrs``):

==================  =================================================================
column              keys
==================  =================================================================
message             event, message, msg
level               level, levelname, severity, log_level (text or Python's 10..50)
ts                  timestamp, ts, time, @timestamp, datetime (ISO 8601, common text
                    forms, or epoch seconds/ms/us/ns)
service             service, service_name, app
host                host, hostname
component           component, logger, logger_name
error_type          error_type, exc_type, exception_type; else the exception class
                    named by ``exception``/``exc_info`` (a traceback text or structlog's
                    dict_tracebacks list), which stays in attrs
category            category (one of the taxonomy; otherwise derived from error_type)
session_key         the ``session_key=`` field if given, else session_key, session_id,
                    request_id, trace_id, correlation_id
failure             failure (true/false); default: level is critical
recovery_action     recovery_action
recovery_outcome    recovery_outcome (succeeded/failed and synonyms)
retry_count         retry_count, retries (whole number >= 0)
recovery_ms         recovery_ms (number >= 0)
event_id            event_id (else a hash of source, line number and line)
==================  =================================================================
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal

from faultcast.ingest.fingerprint import template_id_sql, template_sql
from faultcast.ingest.schema import CATEGORIES, PROMOTED_ATTRS, category_sql, level_sql

Kind = Literal["text", "level", "time", "bool", "int", "number", "outcome", "category", "exception"]


@dataclass(frozen=True)
class Field:
    column: str
    keys: tuple[str, ...]
    kind: Kind
    consumed: bool = True


FIELDS: Final[tuple[Field, ...]] = (
    Field("message", ("event", "message", "msg"), "text"),
    Field("level", ("level", "levelname", "severity", "log_level"), "level"),
    Field("ts", ("timestamp", "ts", "time", "@timestamp", "datetime"), "time"),
    Field("service", ("service", "service_name", "app"), "text"),
    Field("host", ("host", "hostname"), "text"),
    Field("component", ("component", "logger", "logger_name"), "text"),
    Field("error_type", ("error_type", "exc_type", "exception_type"), "text"),
    Field("exception", ("exception", "exc_info"), "exception", consumed=False),
    Field("category", ("category",), "category"),
    Field(
        "session_key",
        ("session_key", "session_id", "request_id", "trace_id", "correlation_id"),
        "text",
    ),
    Field("failure", ("failure",), "bool"),
    Field("recovery_action", ("recovery_action",), "text"),
    Field("recovery_outcome", ("recovery_outcome",), "outcome"),
    Field("retry_count", ("retry_count", "retries"), "int"),
    Field("recovery_ms", ("recovery_ms",), "number"),
    Field("event_id", ("event_id",), "text"),
)

OUTCOMES: Final[dict[str, str]] = {
    "succeeded": "succeeded",
    "success": "succeeded",
    "successful": "succeeded",
    "ok": "succeeded",
    "recovered": "succeeded",
    "passed": "succeeded",
    "true": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "fail": "failed",
    "error": "failed",
    "false": "failed",
    "unrecovered": "failed",
}

#: Text timestamp forms tried after DuckDB's own ISO 8601 cast.
TIME_FORMATS: Final[tuple[str, ...]] = (
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y-%m-%dT%H:%M:%S,%f",
    "%d/%b/%Y:%H:%M:%S %z",
    "%d/%b/%Y:%H:%M:%S",
    "%a %b %d %H:%M:%S %Y",
    "%b %d %H:%M:%S %Y",
    "%y%m%d %H%M%S",
    "%Y%m%dT%H%M%S",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
)


@dataclass(frozen=True)
class Limits:
    """Size limits beyond which a line is quarantined rather than stored."""

    max_line_bytes: int = 1024 * 1024
    max_message_chars: int = 64 * 1024
    max_field_chars: int = 1024
    #: The user's extra masks: RE2 expressions whose matches become ``<*>`` in templates.
    extra_masks: tuple[str, ...] = ()


DEFAULT_LIMITS: Final[Limits] = Limits()


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _path(key: str) -> str:
    return "$." + key if key.replace("_", "").isalnum() else '$."' + key + '"'


def _describe(frag: str, typ: str) -> str:
    """SQL text like ``an object`` / ``text 'abc'`` / ``the number 3.5`` for a reason."""
    return (
        f"CASE {typ} WHEN 'OBJECT' THEN 'an object' WHEN 'ARRAY' THEN 'an array' "
        f"WHEN 'VARCHAR' THEN 'text ' || {_q(chr(39))} || left({frag} ->> '$', 40) || {_q(chr(39))} "
        f"WHEN 'BOOLEAN' THEN {frag}::VARCHAR ELSE 'the number ' || left({frag}::VARCHAR, 40) END"
    )


def _fields(session_key_field: str | None) -> list[Field]:
    if not session_key_field:
        return list(FIELDS)
    return [
        Field(f.column, (session_key_field, *[k for k in f.keys if k != session_key_field]), f.kind)
        if f.column == "session_key"
        else f
        for f in FIELDS
    ]


#: The distinct top-level keys of the JSON-object lines of ``batch`` (for ``present_keys``).
#: ``TRY`` instead of a ``json_valid`` pass: a line that is not JSON has no keys (one parse
#: of each line, not two).
PRESENT_KEYS_SQL: Final[str] = (
    "SELECT DISTINCT unnest(TRY(json_keys(line))) FROM batch WHERE starts_with(line, '{')"
)

#: The key pass in one row: the present keys (as :data:`PRESENT_KEYS_SQL`) and whether any line
#: repeats a top-level key.  Over the distinct key lists (few: lines share their shape), so
#: finding repeats costs next to nothing.
KEY_PASS_SQL: Final[str] = (
    "SELECT coalesce(list_distinct(flatten(list(keys))), []), "
    "coalesce(bool_or(len(keys) > list_unique(keys)), false) "
    "FROM (SELECT DISTINCT TRY(json_keys(line)) AS keys FROM {batch} WHERE starts_with(line, '{{'))"
)

#: The lines of ``batch`` that repeat a top-level key.
REPEATED_KEYS_SQL: Final[str] = (
    "SELECT line_no, line FROM (SELECT line_no, line, TRY(json_keys(line)) AS keys FROM {batch} "
    "WHERE starts_with(line, '{{')) WHERE len(keys) > list_unique(keys)"
)

#: How a repeated key's later values are named in ``attrs``: ``event#2``, ``event#3``, ...
REPEATED_KEY_NAME: Final[str] = "{key}#{n}"


def keep_repeated_keys(line: str) -> str | None:
    """``line`` (a JSON object) with each repeated key's later values renamed, so none is lost:
    the first value keeps the key, the second becomes ``key#2``, the third ``key#3``, and so
    on (in nested objects too).  None when the line is not JSON (the parse explains it).

    >>> keep_repeated_keys('{"event": "a", "n": 1, "event": "b"}')
    '{"event": "a", "n": 1, "event#2": "b"}'
    """

    def pairs_to_dict(pairs: list[tuple[str, object]]) -> dict[str, object]:
        taken = {k for k, _ in pairs}
        out: dict[str, object] = {}
        for k, v in pairs:
            if k not in out:
                out[k] = v
                continue
            n = 2
            while REPEATED_KEY_NAME.format(key=k, n=n) in out or (
                REPEATED_KEY_NAME.format(key=k, n=n) in taken
            ):
                n += 1
            out[REPEATED_KEY_NAME.format(key=k, n=n)] = v
        return out

    try:
        return json.dumps(json.loads(line, object_pairs_hook=pairs_to_dict), ensure_ascii=False)
    except (ValueError, RecursionError):
        return None


def epoch_sql(num: str) -> str:
    """SQL: the epoch number ``num`` in seconds, by its size, or NULL when it is in no unit's
    range.  Seconds up to 10 digits (1970-2286); milliseconds, microseconds and nanoseconds
    from 2001-09-09 (13, 16 and 19 digits).  Between them a number is ambiguous (year 10000 in
    seconds is 1978 in milliseconds) and read as none."""
    return (
        f"CASE WHEN ({num}) < 1e10 THEN ({num}) WHEN ({num}) >= 1e12 AND ({num}) < 1e13 THEN ({num}) / 1e3 "
        f"WHEN ({num}) >= 1e15 AND ({num}) < 1e16 THEN ({num}) / 1e6 "
        f"WHEN ({num}) >= 1e18 AND ({num}) < 1e19 THEN ({num}) / 1e9 END"
    )


#: What the quarantine says of an epoch in no unit's range.
EPOCH_RANGE_TEXT: Final[str] = (
    "is not an epoch between 1970 and 2200 in seconds (up to 10 digits), nor one since 2001 in "
    "milliseconds, microseconds or nanoseconds (13, 16 or 19 digits)"
)


def build_fast_sql(
    *,
    batch: str = "batch",
    target: str = "parsed",
    session_key_field: str | None = None,
    default_service: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    present_keys: Collection[str] | None = None,
) -> str:
    """The fast path: parses the lines that are plainly good events into temp table ``target``.

    A line takes the fast path when it is a JSON object with at most one key per field and
    values of the right kinds; one path lookup per key and no per-field checks.  Every other
    line is left out of ``target`` for :func:`build_parse_sql`, which explains what is wrong
    with it or maps its keys.  Both give the same columns for the same good line.

    ``present_keys``: the top-level keys that occur in the batch (see :data:`PRESENT_KEYS_SQL`);
    path lookups dominate the cost, so only those are looked up.
    """
    fields = _fields(session_key_field)
    if present_keys is not None:
        fields = [
            Field(f.column, tuple(k for k in f.keys if k in present_keys), f.kind, f.consumed)
            for f in fields
        ]
    keys = [k for f in fields for k in f.keys] or ["event"]
    # The promoted attributes (they stay in attrs too), in the same lookup.
    promoted = [a for a in PROMOTED_ATTRS if present_keys is None or a in present_keys]
    keys += [a for a in promoted if a not in keys]
    index = {k: i for i, k in enumerate(keys, start=1)}
    promoted_values = ", ".join(
        f"{f'j[{index[a]}]' if a in promoted else 'NULL::VARCHAR'} AS v_{a}" for a in PROMOTED_ATTRS
    )
    paths = ", ".join(_q(_path(k)) for k in keys)
    # Each field's value: its one present key.  Lines with two keys of one field (say both
    # "event" and "message") take the full path, which keeps the loser in attrs.
    value = {
        f.column: f"coalesce({', '.join(f'j[{index[k]}]' for k in f.keys)})"
        if f.keys
        else "NULL::VARCHAR"
        for f in fields
    }
    ambiguous = (
        " OR ".join(
            f"(({' + '.join(f'(j[{index[k]}] IS NOT NULL)::INTEGER' for k in f.keys)}) > 1)"
            for f in fields
            if len(f.keys) > 1
        )
        or "FALSE"
    )

    def v(column: str) -> str:
        return f"v_{column}_raw"

    texts = [
        f.column
        for f in fields
        if f.kind in ("text", "level", "time", "outcome", "category", "bool")
    ]
    no_objects = " AND ".join(
        f"({v(c)} IS NULL OR NOT (starts_with({v(c)}, '{{') OR starts_with({v(c)}, '[')))"
        for c in texts
    )
    lengths = " AND ".join(
        f"coalesce(length({v(f.column)}), 0) <= "
        f"{limits.max_message_chars if f.column == 'message' else limits.max_field_chars}"
        for f in fields
        if f.kind == "text"
    )
    outcome_cases = " ".join(f"WHEN {_q(k)} THEN {_q(val)}" for k, val in OUTCOMES.items())
    allowed = "[" + ", ".join(_q(x) for x in CATEGORIES) + "]"
    exc = v("exception")
    patch = "{" + ",".join(f'"{k}":null' for f in fields if f.consumed for k in f.keys) + "}"
    error_type = (
        f"coalesce(nullif(trim({v('error_type')}), ''), CASE WHEN {exc} IS NOT NULL THEN "
        f"nullif(list_last(regexp_extract_all({exc}, '(?m)^([A-Za-z_][A-Za-z0-9_.]*)(?::|$)', 1)), '') END)"
    )
    service = (
        f"coalesce({v('service')}, {_q(default_service)})" if default_service else v("service")
    )
    return f"""
CREATE OR REPLACE TEMP TABLE {target} AS
WITH extracted AS MATERIALIZED (
    -- Everything that needs the whole line, once; later stages never copy the line again.
    SELECT line_no, json_extract_string(line, [{paths}]) AS j, strlen(line) AS line_bytes,
        md5($source || chr(31) || line_no::VARCHAR || chr(31) || line) AS id_hash,
        json_merge_patch(line, {_q(patch)}) AS attrs
    FROM {batch}
    WHERE strlen(line) <= {limits.max_line_bytes} AND starts_with(line, '{{') AND json_valid(line)
), unique_keys AS (
    SELECT line_no, line_bytes, id_hash, attrs, {promoted_values},
        {", ".join(f"{expr} AS v_{c}_raw" for c, expr in value.items())}
    FROM extracted
    WHERE NOT ({ambiguous})
), converted AS MATERIALIZED (
    SELECT *,
        {v("message")} AS message,
        {level_sql(v("level"))} AS v_level,
        TRY_CAST({v("ts")} AS TIMESTAMPTZ) AS v_ts,
        {error_type} AS error_type,
        CASE WHEN TRY_CAST({v("retry_count")} AS INTEGER)::VARCHAR = {v("retry_count")}
            THEN {v("retry_count")}::INTEGER END AS v_retry_count,
        TRY_CAST({v("recovery_ms")} AS DOUBLE) AS v_recovery_ms,
        CASE lower({v("failure")}) WHEN 'true' THEN true WHEN 'false' THEN false END AS v_failure,
        (CASE lower(trim({v("recovery_outcome")})) {outcome_cases} END) AS v_recovery_outcome,
        lower(trim({v("category")})) AS v_category,
        {template_sql(v("message"), limits.extra_masks)} AS template
    FROM unique_keys
), classified AS (
    SELECT line_no, NULL::VARCHAR AS raw, NULL::VARCHAR AS reason, id_hash,
        CASE WHEN trim({v("event_id")}, ' \t\r\n') <> '' THEN {v("event_id")} END AS v_event_id, v_ts, {service} AS v_service2, {v("host")} AS v_host,
        {v("component")} AS v_component,
        coalesce(v_level, CASE WHEN error_type IS NOT NULL THEN 'error' ELSE 'info' END) AS level,
        error_type, message, v_category, {v("session_key")} AS v_session_key, v_failure,
        {v("recovery_action")} AS v_recovery_action, v_recovery_outcome, v_retry_count, v_recovery_ms,
        attrs, template, {", ".join(f"v_{a}" for a in PROMOTED_ATTRS)}
    FROM converted
    WHERE message IS NOT NULL
        AND v_ts BETWEEN TIMESTAMPTZ '1970-01-01' AND TIMESTAMPTZ '2200-01-01'
        AND ({v("level")} IS NULL OR v_level IS NOT NULL)
        AND ({v("retry_count")} IS NULL OR v_retry_count >= 0)
        AND ({v("recovery_ms")} IS NULL OR (isfinite(v_recovery_ms) AND v_recovery_ms >= 0))
        AND ({v("failure")} IS NULL OR v_failure IS NOT NULL)
        AND ({v("recovery_outcome")} IS NULL OR v_recovery_outcome IS NOT NULL)
        AND ({v("category")} IS NULL OR list_contains({allowed}, v_category))
        AND ({v("exception")} IS NULL OR starts_with({v("exception")}, 'Traceback') OR {v("error_type")} IS NOT NULL)
        AND (line_bytes <= 1024 OR ({lengths}))
        AND {no_objects}
{_finish_sql(has_template=True)}
"""


def build_parse_sql(
    *,
    batch: str = "batch",
    target: str = "parsed",
    session_key_field: str | None = None,
    default_service: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> str:
    """The statement that parses ``batch(line_no, line)`` into temp table ``target``.

    ``target`` gets ``line_no``, ``raw`` (the line without its line ending; NULL from the fast
    path), ``reason`` (NULL when the line is a good event), ``given_id`` (the producer gave the
    event id) and the event columns that come from the line (``event_id`` and ``ts`` ..
    ``attrs``; the caller adds source and ingested_at).
    """
    fields = _fields(session_key_field)
    # One lookup per field for its main key on every line; a field's other keys are looked up
    # only on the lines that lack the main one (path lookups dominate the cost of parsing).
    primary = ", ".join(_q(_path(f.keys[0])) for f in fields)
    alias_cols: list[str] = []
    frag_cols: list[str] = []
    win_cols: list[str] = []
    for i, f in enumerate(fields, start=1):
        main = f"nullif(j[{i}], 'null')"
        present = [main]
        if len(f.keys) > 1:
            alias_paths = ", ".join(_q(_path(k)) for k in f.keys[1:])
            alias_cols.append(
                f"CASE WHEN r0 IS NULL AND {main} IS NULL THEN json_extract(line, [{alias_paths}]) END "
                f"AS a_{f.column}"
            )
            present += [f"nullif(a_{f.column}[{n}], 'null')" for n in range(1, len(f.keys))]
        frag_cols.append(f"coalesce({', '.join(present)}) AS f_{f.column}")
        whens = " ".join(
            f"WHEN {p} IS NOT NULL THEN {_q(k)}" for p, k in zip(present, f.keys, strict=True)
        )
        win_cols.append(f"CASE {whens} END AS k_{f.column}")

    typ_cols = [f"json_type(f_{f.column}) AS t_{f.column}" for f in fields]

    # Per-field value expressions and checks, over f_<col> (fragment), t_<col> (type), k_<col> (key).
    reasons: list[str] = []
    values: dict[str, str] = {}
    for f in fields:
        c = f.column
        frag, typ, key = f"f_{c}", f"t_{c}", f"k_{c}"
        text = f"({frag} ->> '$')"
        got = _describe(frag, typ)
        if f.kind == "text":
            limit = limits.max_message_chars if c == "message" else limits.max_field_chars
            reasons.append(
                f"WHEN {typ} IN ('OBJECT', 'ARRAY') THEN 'field \"' || {key} || '\" must be text, got ' || {got}"
            )
            reasons.append(
                f"WHEN length({text}) > {limit} THEN 'field \"' || {key} || '\" too long: ' || length({text}) "
                f"|| ' characters; the limit is {limit}'"
            )
            values[c] = f"CASE WHEN {typ} IN ('OBJECT', 'ARRAY') THEN NULL ELSE {text} END"
        elif f.kind == "level":
            norm = f"CASE WHEN {typ} IN ('VARCHAR', 'BIGINT', 'UBIGINT') THEN {level_sql(text)} END"
            values[c] = norm
            reasons.append(
                f"WHEN {frag} IS NOT NULL AND v_{c} IS NULL THEN 'field \"' || {key} || '\" is not a "
                f"level (debug, info, warning, error, critical or a synonym), got ' || {got}"
            )
        elif f.kind == "time":
            num = (
                f"CASE WHEN {typ} IN ('DOUBLE', 'BIGINT', 'UBIGINT') THEN TRY_CAST({text} AS DOUBLE) "
                f"WHEN {typ} = 'VARCHAR' AND regexp_full_match(trim({text}), '[0-9]+(\\.[0-9]+)?') "
                f"THEN TRY_CAST(trim({text}) AS DOUBLE) END"
            )
            epoch = epoch_sql(num)
            formats = "[" + ", ".join(_q(x) for x in TIME_FORMATS) + "]"
            parsed = (
                f"CASE WHEN ({num}) IS NOT NULL THEN TRY(to_timestamp({epoch})) "
                f"WHEN {typ} = 'VARCHAR' THEN coalesce(TRY_CAST({text} AS TIMESTAMPTZ), "
                f"TRY_CAST(try_strptime({text}, {formats}) AS TIMESTAMPTZ)) END"
            )
            values[c] = parsed
            keys = ", ".join(f.keys)
            reasons.append(f"WHEN {frag} IS NULL THEN 'no timestamp (looked for the keys {keys})'")
            reasons.append(
                f"WHEN ({num}) IS NOT NULL AND ({epoch}) IS NULL THEN 'field \"' || {key} || '\" out of "
                f"range: ' || {got} || ' {EPOCH_RANGE_TEXT}'"
            )
            reasons.append(
                f"WHEN v_{c} IS NULL THEN 'field \"' || {key} || '\" is not a timestamp I can read "
                f"(ISO 8601, epoch seconds or a common log format), got ' || {got}"
            )
            reasons.append(
                f"WHEN NOT (v_{c} BETWEEN TIMESTAMPTZ '1970-01-01' AND TIMESTAMPTZ '2200-01-01') "
                f"THEN 'field \"' || {key} || '\" out of range: ' || {got} || ' is not between 1970 and 2200'"
            )
        elif f.kind == "bool":
            val = (
                f"CASE WHEN {typ} = 'BOOLEAN' THEN {frag} = 'true' "
                f"WHEN {typ} IN ('BIGINT', 'UBIGINT') AND {frag} IN ('0', '1') THEN {frag} = '1' "
                f"WHEN {typ} = 'VARCHAR' AND lower({text}) IN ('true', 'yes', '1') THEN true "
                f"WHEN {typ} = 'VARCHAR' AND lower({text}) IN ('false', 'no', '0') THEN false END"
            )
            values[c] = val
            reasons.append(
                f"WHEN {frag} IS NOT NULL AND v_{c} IS NULL THEN 'field \"' || {key} || '\" must be "
                f"true or false, got ' || {got}"
            )
        elif f.kind == "int":
            # A whole number that fits (3.0 is 3); a fraction or an overflow is quarantined.
            num = f"(CASE WHEN {typ} IN ('DOUBLE', 'BIGINT', 'UBIGINT') THEN TRY_CAST({frag} AS DOUBLE) END)"
            val = (
                f"CASE WHEN {typ} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({frag} AS INTEGER) "
                f"WHEN {typ} = 'DOUBLE' AND isfinite({num}) AND {num} = floor({num}) "
                f"THEN TRY_CAST({num} AS INTEGER) END"
            )
            values[c] = val
            reasons.append(
                f"WHEN {typ} = 'DOUBLE' AND isfinite({num}) AND {num} <> floor({num}) THEN 'field \"' "
                f"|| {key} || '\" must be a whole number, got a fraction: ' || {got}"
            )
            reasons.append(
                f"WHEN {num} >= 0 AND isfinite({num}) AND v_{c} IS NULL THEN 'field \"' || {key} "
                f"|| '\" out of range: ' || {got} || ' is over 2147483647'"
            )
            reasons.append(
                f"WHEN {frag} IS NOT NULL AND (v_{c} IS NULL OR v_{c} < 0) THEN 'field \"' || {key} "
                f"|| '\" must be a whole number >= 0, got ' || {got}"
            )
        elif f.kind == "number":
            val = f"CASE WHEN {typ} IN ('DOUBLE', 'BIGINT', 'UBIGINT') THEN TRY_CAST({frag} AS DOUBLE) END"
            values[c] = val
            reasons.append(
                f"WHEN {frag} IS NOT NULL AND (v_{c} IS NULL OR NOT isfinite(v_{c}) OR v_{c} < 0) "
                f"THEN 'field \"' || {key} || '\" must be a number >= 0, got ' || {got}"
            )
        elif f.kind == "outcome":
            cases = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in OUTCOMES.items())
            val = (
                f"CASE WHEN {typ} = 'BOOLEAN' THEN (CASE WHEN {frag} = 'true' THEN 'succeeded' ELSE 'failed' END) "
                f"WHEN {typ} = 'VARCHAR' THEN (CASE lower(trim({text})) {cases} END) END"
            )
            values[c] = val
            reasons.append(
                f"WHEN {frag} IS NOT NULL AND v_{c} IS NULL THEN 'field \"' || {key} || '\" must be "
                f"succeeded or failed, got ' || {got}"
            )
        elif f.kind == "category":
            allowed = "[" + ", ".join(_q(x) for x in CATEGORIES) + "]"
            values[c] = (
                f"CASE WHEN {typ} = 'VARCHAR' AND list_contains({allowed}, lower(trim({text}))) "
                f"THEN lower(trim({text})) END"
            )
        elif f.kind == "exception":
            values[c] = (
                f"CASE WHEN {typ} = 'VARCHAR' THEN list_last(regexp_extract_all({text}, "
                f"'(?m)^([A-Za-z_][A-Za-z0-9_.]*)(?::|$)', 1)) "
                f"WHEN {typ} = 'ARRAY' THEN {frag} ->> '$[0].exc_type' END"
            )

    # Keys that were used for a column leave attrs (category only when it was valid).
    consumed = []
    for f in fields:
        if not f.consumed:
            continue
        key = (
            "CASE WHEN v_category IS NOT NULL THEN k_category END"
            if f.kind == "category"
            else f"k_{f.column}"
        )
        consumed.append(f"'\"' || {key} || '\":null'")
    patch = "'{' || concat_ws(',', " + ", ".join(consumed) + ") || '}'"

    # An empty or blank event id is no id: the line's hash stands in, as when it is missing.
    values["event_id"] = (
        f"CASE WHEN trim({values['event_id']}, ' \t\r\n') <> '' THEN {values['event_id']} END"
    )
    value_cols = ",\n        ".join(f"{values[f.column]} AS v_{f.column}" for f in fields)
    promoted = ", ".join(
        f"CASE WHEN r0 IS NULL THEN json_extract_string(line, {_q(_path(a))}) END AS v_{a}"
        for a in PROMOTED_ATTRS
    )
    reason_case = "CASE " + " ".join(reasons) + " END"

    error_type = "coalesce(nullif(trim(v_error_type), ''), nullif(v_exception, ''))"
    level = f"coalesce(v_level, CASE WHEN {error_type} IS NOT NULL THEN 'error' ELSE 'info' END)"
    message = "coalesce(v_message, '')"
    service = f"coalesce(v_service, {_q(default_service)})" if default_service else "v_service"
    return f"""
CREATE OR REPLACE TEMP TABLE {target} AS
WITH checked AS (
    SELECT line_no, line,
        CASE WHEN strlen(line) > {limits.max_line_bytes}
                 THEN 'line too long: ' || strlen(line) || ' bytes; the limit is {limits.max_line_bytes}'
             WHEN strlen(line) < 256 AND trim(line) = '' THEN 'empty line'
             WHEN NOT json_valid(line) THEN 'invalid JSON'
             WHEN NOT starts_with(line, '{{') AND json_type(line) <> 'OBJECT'
                 THEN 'a JSON ' || (CASE json_type(line) WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' THEN 'string'
                     WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' ELSE 'number' END)
                     || ', not an object: each line must be one JSON object'
        END AS r0
    FROM {batch}
), extracted AS MATERIALIZED (
    SELECT line_no, line, r0, CASE WHEN r0 IS NULL THEN json_extract(line, [{primary}]) END AS j
    FROM checked
), aliased AS MATERIALIZED (
    SELECT *, {", ".join(alias_cols)} FROM extracted
), fragments AS MATERIALIZED (
    SELECT line_no, line, r0,
        {", ".join(frag_cols)},
        {", ".join(win_cols)}
    FROM aliased
), typed AS (
    SELECT *, {", ".join(typ_cols)} FROM fragments
), valued AS MATERIALIZED (
    SELECT *,
        {value_cols}
    FROM typed
), classified AS MATERIALIZED (
    SELECT line_no, line AS raw, coalesce(r0, CASE WHEN r0 IS NULL THEN ({reason_case}) END) AS reason,
        md5($source || chr(31) || line_no::VARCHAR || chr(31) || line) AS id_hash, v_event_id, v_ts, {service} AS v_service2, v_host, v_component,
        {level} AS level, {error_type} AS error_type, {message} AS message, v_category,
        v_session_key, v_failure, v_recovery_action, v_recovery_outcome, v_retry_count,
        v_recovery_ms,
        CASE WHEN r0 IS NULL THEN json_merge_patch(line, {patch}) END AS attrs,
        {promoted}
    FROM valued
{_finish_sql(extra_masks=limits.extra_masks)}
"""


def _finish_sql(has_template: bool = False, extra_masks: tuple[str, ...] = ()) -> str:
    """The CTEs and final SELECT shared by both parse paths, over a CTE ``classified`` with
    line_no, raw, reason, id_hash, v_event_id, v_ts, v_service2, v_host, v_component, level,
    error_type, message, v_category, v_session_key, v_failure, v_recovery_action,
    v_recovery_outcome, v_retry_count, v_recovery_ms, attrs, v_source_ip, v_user (the
    promoted attributes, as text) (and template, when
    ``has_template``: computed in an earlier materialised stage, it saves a copy of every row)."""
    category = category_sql("c.error_type", "c.template", "c.level")
    templated = (
        "templated AS (\n    SELECT * FROM classified"
        if has_template
        else f"templated AS MATERIALIZED (\n    SELECT *, {template_sql('message', extra_masks)} AS template FROM classified"
    )
    return f"""), {templated}
), categories AS (
    -- The taxonomy's regular expressions run once per distinct (type, template, level), not per event.
    SELECT error_type, template, level, {category} AS category
    FROM (SELECT DISTINCT error_type, template, level FROM templated WHERE reason IS NULL) c
)
SELECT
    t.line_no,
    t.raw,
    t.reason,
    t.v_event_id IS NOT NULL AS given_id,
    coalesce(t.v_event_id, t.id_hash) AS event_id,
    t.v_ts AS ts,
    t.v_service2 AS service,
    t.v_host AS host,
    t.v_component AS component,
    t.level,
    coalesce(t.v_category, k.category) AS category,
    t.error_type,
    t.message,
    {template_id_sql("t.template")} AS template_id,
    t.template,
    t.v_session_key AS session_key,
    coalesce(t.v_failure, t.level = 'critical') AS failure,
    t.v_recovery_action AS recovery_action,
    t.v_recovery_outcome AS recovery_outcome,
    t.v_retry_count AS retry_count,
    t.v_recovery_ms AS recovery_ms,
    CASE WHEN t.attrs IS NULL OR t.attrs = '{{}}' THEN NULL ELSE t.attrs END::JSON AS attrs,
    {", ".join(f"t.v_{a} AS {a}" for a in PROMOTED_ATTRS)}
FROM templated t
LEFT JOIN categories k
    ON t.error_type IS NOT DISTINCT FROM k.error_type
    AND t.template IS NOT DISTINCT FROM k.template
    AND t.level IS NOT DISTINCT FROM k.level
"""
