"""Issues: errors grouped by a fingerprint, kept up to date at ingest, with a lifecycle.

Which events
    warning and above, and failures (``failure = true``) at any level.

Fingerprint (first that applies)
    1. the producer's own ``fingerprint`` attribute (text, or a list such as Sentry's);
    2. error type + template id + the *in-app* stack frames of a traceback, when there is one:
       structlog's ``exception`` (text or ``dict_tracebacks``), ``exc_info``, an OTLP
       ``exception.stacktrace`` (stored as ``exception``), or a Python traceback a text log
       appended to the message (then the message's first line, masked like a template, stands
       for the template, which the traceback would make differ with every call stack, and the
       exception class on the traceback's last line is the error type when there is none).  A
       frame is its file (last two path parts) and function, never its line, and frames of
       site-packages, dist-packages and the standard library are left out: the same error
       raised from two call sites is two issues, while editing a line above it keeps one.
       Templates already mask numbers, so the same message with other numbers is one issue.

The issue id is ``FC-`` and the first 10 hex digits of the fingerprint's MD5 (``FC-1A2B3C4D5E``):
short, and stable: an issue keeps its id for as long as its fingerprint holds (template ids are
a store's own, so shards of one deployment may give one error two ids, or, rarely, two errors
one: see docs/triage.md).

Upkeep is set-based SQL in the commit's transaction, so issues and events never disagree:
:func:`prepare_issues` computes the issue id of each event about to be stored (the INSERT takes
it from there), :func:`update_issues` folds the events actually stored (not duplicates) into
``issues`` and moves statuses along.  Lifecycle: ``open`` → ``resolved``
(now, or in the next release) / ``ignored`` (for good, for a time, or until N more events) →
``regressed`` when a resolved issue recurs, or back to ``open`` when an ignore expires.  Every
change is a row of ``issue_changes`` with who made it (``faultcast`` for changes made at
ingest).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from faultcast.ingest.durations import is_duration, parse_duration, utc
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.fingerprint import template_sql

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "EVENT_ROW_COLUMNS",
    "ISSUE_STATUSES",
    "SET_STATUSES",
    "UnknownIssueError",
    "default_actor",
    "expire_ignored",
    "fingerprint_sql",
    "index_events",
    "index_sql",
    "issue_id_sql",
    "prepare_issues",
    "qualifies_sql",
    "release_sql",
    "set_issue_status",
    "update_issues",
]

#: Every status an issue can have.
ISSUE_STATUSES: Final[tuple[str, ...]] = ("open", "resolved", "ignored", "regressed")
#: The statuses a person sets (``regressed`` is set by ingest only).
SET_STATUSES: Final[tuple[str, ...]] = ("open", "resolved", "ignored")
#: Who changes an issue at ingest (regressions, expired ignores).
SYSTEM_ACTOR: Final[str] = "faultcast"
#: Hex digits of the fingerprint's MD5 in an issue id.
_ID_DIGITS: Final[int] = 10
#: Longest title kept (the full template is kept beside it).
_TITLE_CHARS: Final[int] = 200

_LEVEL_ORDER: Final[str] = "['debug', 'info', 'warning', 'error', 'critical']"

#: A Python traceback's frame line, and what marks a frame as not the application's own.
_FRAME_RE: Final[str] = r'File "[^"]*", line [0-9]+, in \S+'
_NOT_IN_APP_RE: Final[str] = (
    r"(site|dist)-packages|[/\\]lib[/\\]python[0-9.]*[/\\]|[/\\]lib64[/\\]|^<|frozen "
)
#: The last two parts of a path (``shop/cart.py`` of ``/srv/app/shop/cart.py``).
_PATH_TAIL_RE: Final[str] = r"^.*?([^/\\]+[/\\][^/\\]+|[^/\\]+)$"


def qualifies_sql(level: str = "level", failure: str = "failure") -> str:
    """The condition of an event that belongs to an issue."""
    return f"({level} IN ('warning', 'error', 'critical') OR coalesce({failure}, false))"


#: The attributes read, in one pass over each event's JSON (:func:`_attrs_sql`).
_ATTR_PATHS: Final[tuple[str, ...]] = (
    "$.fingerprint",
    "$.exception",
    "$.exc_info",
    "$.release",
    '$."service.version"',
    "$.service_version",
    "$.version",
    '$.resource."service.version"',
)


def _attrs_sql(attrs: str = "attrs") -> str:
    """Two lists read from ``attrs`` at once: ``jv`` (the text of :data:`_ATTR_PATHS`) and ``jt``
    (the JSON types of the fingerprint, ``exception`` and ``exc_info``)."""
    paths = ", ".join(f"'{p}'" for p in _ATTR_PATHS)
    return (
        f"json_extract_string({attrs}, [{paths}]) AS jv, "
        f"json_type({attrs}, ['$.fingerprint', '$.exception', '$.exc_info']) AS jt"
    )


def _frames_sql(attrs: str, message: str) -> str:
    """A list of ``file:function`` of the in-app frames of the event's traceback (maybe empty),
    over the columns of :func:`_attrs_sql`."""
    text_tb = (
        "CASE WHEN jt[2] = 'VARCHAR' THEN jv[2] WHEN jt[3] = 'VARCHAR' THEN jv[3] "
        f"WHEN contains({message}, 'Traceback (most recent call last)') "
        f"THEN {message} END"
    )
    frame = r'File "([^"]*)", line [0-9]+, in (\S+)'
    from_text = (
        f"[regexp_replace(f.file, '{_PATH_TAIL_RE}', '\\1') || ':' || f.function"
        f" for f in [regexp_extract(x, '{frame}', ['file', 'function'])"
        f" for x in regexp_extract_all({text_tb}, '{_FRAME_RE}')]"
        f" if NOT regexp_matches(f.file, '{_NOT_IN_APP_RE}')]"
    )
    # structlog's dict_tracebacks: [{exc_type, exc_value, frames: [{filename, lineno, name}]}]
    from_dicts = (
        f"[regexp_replace(f ->> 'filename', '{_PATH_TAIL_RE}', '\\1') || ':' || (f ->> 'name')"
        f" for f in json_extract({attrs}, '$.exception[*].frames[*]')"
        f" if NOT regexp_matches(coalesce(f ->> 'filename', ''), '{_NOT_IN_APP_RE}')]"
    )
    return f"CASE WHEN jt[2] = 'ARRAY' THEN {from_dicts} ELSE coalesce({from_text}, []) END"


def fingerprint_sql(
    error_type: str = "error_type", template_id: str = "template_id", frames: str = "frames"
) -> str:
    """A DuckDB expression: the fingerprint text of an event (see the module docstring), over
    the column ``jv`` of :func:`_attrs_sql` and the ``frames`` of :func:`_frames_sql` (kept
    apart: ``nullif`` and ``CASE`` copy their operands, so a big operand is costly to plan)."""
    derived = (
        f"coalesce({error_type}, '') || '|' || coalesce({template_id}, '') "
        f"|| CASE WHEN len({frames}) > 0 THEN '|' || array_to_string({frames}, '>') ELSE '' END"
    )
    return f"coalesce('fingerprint:' || nullif(trim(jv[1]), ''), {derived})"


def issue_id_sql(fingerprint: str) -> str:
    """A DuckDB expression: the issue id of a fingerprint expression."""
    return f"'FC-' || upper(substr(md5({fingerprint}), 1, {_ID_DIGITS}))"


def release_sql() -> str:
    """A DuckDB expression: the release of an event from its attributes (``release``,
    ``service.version``, ``service_version``, ``version``, an OTLP resource's
    ``service.version``), else NULL; over the column ``jv`` of :func:`_attrs_sql`."""
    parts = ", ".join(f"nullif(trim(jv[{i}]), '')" for i in range(4, len(_ATTR_PATHS) + 1))
    return f"coalesce({parts})"


#: The batch's events, one row per issue.
_PER_ISSUE: Final[str] = f"""(
    SELECT issue_id, arg_max(fingerprint, ts) AS fingerprint,
        list_extract({_LEVEL_ORDER}, max(list_position({_LEVEL_ORDER}, level))) AS level,
        arg_max(error_type, ts) AS error_type, arg_max(template_id, ts) AS template_id,
        arg_max(template, ts) AS template, arg_max(head, ts) AS head,
        list_sort(list(DISTINCT service) FILTER (WHERE service IS NOT NULL)) AS services,
        count(*) AS count, min(ts) AS first_seen, max(ts) AS last_seen,
        arg_min(release, ts) FILTER (WHERE release IS NOT NULL) AS first_release,
        arg_max(release, ts) FILTER (WHERE release IS NOT NULL) AS last_release
    FROM issue_batch GROUP BY issue_id
)"""


def _titled_sql(rows: str) -> str:
    """``rows`` (a query with ``head`` and ``error_type``) with a ``title``: the head's (the
    template's) first line, or for a traceback its last line; the error type first when the
    line does not start with it (each step computed once)."""
    return f"""(
SELECT * EXCLUDE (line), left(CASE WHEN coalesce(error_type, '') = '' OR starts_with(line, error_type)
    THEN line ELSE error_type || ': ' || line END, {_TITLE_CHARS}) AS title
FROM (
    SELECT * EXCLUDE (lines), trim(CASE WHEN contains(lines[1], 'Traceback (most recent call last)')
        THEN lines[-1] ELSE lines[1] END) AS line
    FROM (SELECT *, string_split(rtrim(head, chr(10) || ' '), chr(10)) AS lines FROM {rows})
))"""


# ---------------------------------------------------------------------------- upkeep
#: The columns a query feeding :func:`_raw_of_sql` yields (``rid``: a row id to join back on).
EVENT_ROW_COLUMNS: Final[str] = (
    "rid, event_id, source_offset, ts, service, level, failure, error_type, template_id, "
    'template, message, session_key, "user", attrs'
)


def _raw_of_sql(rows: str) -> str:
    """Temp table ``issue_raw``: the rows of query ``rows`` (:data:`EVENT_ROW_COLUMNS`) that
    belong to an issue, with their attributes read once and whether they carry a traceback."""
    return f"""
CREATE OR REPLACE TEMP TABLE issue_raw AS
SELECT * EXCLUDE (in_message), in_message OR jt[2] IN ('VARCHAR', 'ARRAY') OR jt[3] = 'VARCHAR'
    AS has_traceback,
    in_message AND jt[2] IS DISTINCT FROM 'VARCHAR' AND jt[2] IS DISTINCT FROM 'ARRAY'
    AND jt[3] IS DISTINCT FROM 'VARCHAR' AS message_traceback
FROM (
    SELECT *, contains(message, 'Traceback (most recent call last)') AS in_message
    FROM (
        SELECT * EXCLUDE (failure), {_attrs_sql()}
        FROM ({rows}) WHERE {qualifies_sql()}
    )
)
"""


def _raw_sql(prefix: str, where: str) -> str:
    """:func:`_raw_of_sql` over the stored events matching ``where``."""
    return _raw_of_sql(
        f"SELECT rowid AS rid, {EVENT_ROW_COLUMNS.removeprefix('rid, ')} "
        f"FROM {prefix}events WHERE {where}"
    )


def _batch_sql(frames: bool = True) -> str:
    """Temp table ``issue_batch``: the events of ``issue_raw`` with their fingerprint and issue
    id; ``frames=False`` when none carries a traceback (a cheaper statement to plan).

    A traceback a text log appended to the message (``message_traceback``) makes the message's
    template differ with every call stack; such an event is keyed by its first line instead
    (masked like a template: ``head``), and its error type, when it has none, is the exception
    class on the traceback's last line."""
    if frames:
        frames_sql = _frames_sql("attrs", "message")
        last_type = r"'\n\s*([A-Za-z_][A-Za-z0-9_.]*)(:[^\n]*)?\s*$'"
        head_line = (
            "CASE WHEN contains(split_part(message, chr(10), 1), "
            "'Traceback (most recent call last)') "
            r"THEN regexp_extract(message, '([^\n]*?)\s*$', 1) "
            "ELSE split_part(message, chr(10), 1) END"
        )
        keyed = f"""SELECT * REPLACE (
        coalesce(error_type, CASE WHEN message_traceback
            THEN nullif(regexp_extract(message, {last_type}, 1), '') END) AS error_type),
    CASE WHEN message_traceback THEN trim({template_sql("head_line")}) ELSE template END AS head,
    CASE WHEN message_traceback THEN 'head:' || head ELSE template_id END AS key
FROM (SELECT *, {head_line} AS head_line, {frames_sql} AS frames FROM issue_raw)"""
    else:
        keyed = (
            "SELECT *, template AS head, template_id AS key, []::VARCHAR[] AS frames FROM issue_raw"
        )
    return f"""
CREATE OR REPLACE TEMP TABLE issue_batch AS
SELECT rid, event_id, source_offset, {issue_id_sql("fingerprint")} AS issue_id, fingerprint,
       ts, service, level, error_type, template_id, template, head, session_key, "user", release
FROM (
    SELECT rid, event_id, source_offset, {fingerprint_sql(template_id="key")} AS fingerprint,
           ts, service, level, error_type, template_id, template, head, session_key, "user",
           {release_sql()} AS release
    FROM ({keyed})
)
"""


def _label_sql(prefix: str) -> str:
    """Give the events of ``issue_batch`` their issue id."""
    return (
        f"UPDATE {prefix}events SET issue_id = b.issue_id FROM issue_batch b "
        "WHERE events.rowid = b.rid"
    )


def _upkeep_sql(prefix: str, sessions: bool = True, users: bool = True) -> list[tuple[str, str]]:
    """The statements that fold temp table ``issue_batch`` into the issue tables, each with
    what it needs to be worth running: ``sessions`` and ``users`` (the batch has some; when
    ``sessions`` / ``users`` is false the upsert counts none new and reads no side table),
    ``all``, ``lifecycle`` (issues of the batch that are resolved or ignored)."""
    p = prefix
    no_rows = "(SELECT NULL::VARCHAR AS issue_id, 0 AS n WHERE false)"
    new_sessions = (
        "(SELECT issue_id, count(*) AS n FROM issue_new_sessions GROUP BY ALL)"
        if sessions
        else no_rows
    )
    new_users = (
        "(SELECT issue_id, count(*) AS n FROM issue_new_users GROUP BY ALL)" if users else no_rows
    )
    statements = [
        # Sessions and users new to each issue (exact; the side tables hold the pairs).
        f"""CREATE OR REPLACE TEMP TABLE issue_new_sessions AS
SELECT DISTINCT b.issue_id, b.session_key FROM issue_batch b
WHERE b.session_key IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM {p}issue_sessions s
    WHERE s.issue_id = b.issue_id AND s.session_key = b.session_key)""",
        f"INSERT INTO {p}issue_sessions SELECT issue_id, session_key FROM issue_new_sessions",
        f"""CREATE OR REPLACE TEMP TABLE issue_new_users AS
SELECT DISTINCT b.issue_id, b."user" FROM issue_batch b
WHERE b."user" IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM {p}issue_users u WHERE u.issue_id = b.issue_id AND u."user" = b."user")""",
        f'INSERT INTO {p}issue_users SELECT issue_id, "user" FROM issue_new_users',
        f"""INSERT INTO {p}issues (issue_id, fingerprint, title, status, level, error_type,
    template_id, template, services, count, sessions, users, first_seen, last_seen,
    first_release, last_release, status_changed_at)
SELECT g.issue_id, g.fingerprint, g.title, 'open', g.level,
    g.error_type, g.template_id, g.template, g.services, g.count,
    coalesce(s.n, 0), coalesce(u.n, 0), g.first_seen, g.last_seen,
    g.first_release, g.last_release, now()
FROM {_titled_sql(_PER_ISSUE)} g
LEFT JOIN {new_sessions} s USING (issue_id)
LEFT JOIN {new_users} u USING (issue_id)
ON CONFLICT (issue_id) DO UPDATE SET
    title = CASE WHEN excluded.last_seen >= issues.last_seen THEN excluded.title ELSE issues.title END,
    template = CASE WHEN excluded.last_seen >= issues.last_seen
        THEN excluded.template ELSE issues.template END,
    error_type = coalesce(issues.error_type, excluded.error_type),
    template_id = coalesce(issues.template_id, excluded.template_id),
    level = CASE WHEN coalesce(list_position({_LEVEL_ORDER}, excluded.level), 0)
        > coalesce(list_position({_LEVEL_ORDER}, issues.level), 0)
        THEN excluded.level ELSE issues.level END,
    services = list_sort(list_distinct(list_concat(coalesce(issues.services, []),
        coalesce(excluded.services, [])))),
    count = issues.count + excluded.count,
    sessions = issues.sessions + excluded.sessions,
    users = issues.users + excluded.users,
    first_seen = least(issues.first_seen, excluded.first_seen),
    last_seen = greatest(issues.last_seen, excluded.last_seen),
    first_release = CASE WHEN issues.first_release IS NULL
        OR (excluded.first_release IS NOT NULL AND excluded.first_seen < issues.first_seen)
        THEN coalesce(excluded.first_release, issues.first_release) ELSE issues.first_release END,
    last_release = CASE WHEN excluded.last_release IS NOT NULL
        AND (issues.last_release IS NULL OR excluded.last_seen >= issues.last_seen)
        THEN excluded.last_release ELSE issues.last_release END""",
        # Regressions: a resolved issue with an event after its resolution (resolved in the
        # next release: an event of another release than the one it was resolved in).
        f"""CREATE OR REPLACE TEMP TABLE issue_transitions AS
SELECT i.issue_id, i.status AS from_status, 'regressed' AS to_status,
    CASE WHEN i.resolved_next_release
        THEN 'seen in release ' || arg_min(b.release, b.ts)
            || coalesce(' after it was resolved in release ' || i.resolved_in_release,
                        ' after it was resolved in the next release')
        ELSE 'seen again at ' || strftime(min(b.ts) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
            || ' after it was resolved' END AS reason
FROM {p}issues i JOIN issue_batch b ON b.issue_id = i.issue_id
WHERE i.status = 'resolved' AND b.ts > i.resolved_at
    AND (NOT coalesce(i.resolved_next_release, false)
         OR (b.release IS NOT NULL AND b.release IS DISTINCT FROM i.resolved_in_release))
GROUP BY i.issue_id, i.status, i.resolved_next_release, i.resolved_in_release
UNION ALL
SELECT issue_id, status, 'open', 'ignored until ' || ignore_until_count::VARCHAR
    || ' events; it has ' || count::VARCHAR
FROM {p}issues
WHERE status = 'ignored' AND ignore_until_count IS NOT NULL AND count >= ignore_until_count
    AND issue_id IN (SELECT issue_id FROM issue_batch)""",
        *_apply_transitions_sql(p),
    ]
    kinds = ["sessions"] * 2 + ["users"] * 2 + ["all"] + ["lifecycle"] * 3
    return list(zip(kinds, statements, strict=True))


def _apply_transitions_sql(p: str) -> list[str]:
    return [
        f"""UPDATE {p}issues SET status = t.to_status, status_changed_at = now(),
    ignore_until = CASE WHEN t.to_status = 'ignored' THEN issues.ignore_until END,
    ignore_until_count = CASE WHEN t.to_status = 'ignored' THEN issues.ignore_until_count END
FROM issue_transitions t WHERE issues.issue_id = t.issue_id""",
        f"""INSERT INTO {p}issue_changes
SELECT issue_id, now(), from_status, to_status, '{SYSTEM_ACTOR}', reason FROM issue_transitions""",
    ]


def prepare_issues(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Before a commit's INSERT: temp table ``issue_batch`` of the rows of query ``rows``
    (:data:`EVENT_ROW_COLUMNS`, ``rid`` unique) that belong to an issue, with their fingerprint
    and issue id, for the INSERT to take ``issue_id`` from (joined on ``rid``).  Computed from
    the rows about to be stored, so the events never need an UPDATE, which costs more at
    commit than everything else here."""
    con.execute(_raw_of_sql(rows))
    tracebacks = con.execute(
        "SELECT count(*) FILTER (WHERE has_traceback) FROM issue_raw"
    ).fetchall()[0][0]
    con.execute(_batch_sql(frames=bool(tracebacks)))


def update_issues(con: duckdb.DuckDBPyConnection) -> int:
    """After the commit's INSERT (and :func:`prepare_issues` before it): fold the rows of
    ``issue_batch`` that were stored (not duplicates) into the issues, and move issues along
    their lifecycle (regressions, expired ignores); returns the events folded.  ``con`` has the
    store attached as ``store``, inside the commit's transaction.

    Statements that would change nothing are not run (planning them is most of the cost of a
    small commit)."""
    con.execute(
        """DELETE FROM issue_batch WHERE NOT EXISTS (
            SELECT 1 FROM store.events e WHERE e.ingested_at = now()
                AND e.event_id = issue_batch.event_id
                AND e.source_offset = issue_batch.source_offset)"""
    )
    n, sessions, users, expiring = con.execute(
        """SELECT count(*), count(session_key), count("user"),
            (SELECT count(*) FROM store.issues WHERE status = 'ignored' AND ignore_until <= now())
        FROM issue_batch"""
    ).fetchall()[0]
    if n:
        lifecycle = con.execute(
            "SELECT count(*) FROM store.issues WHERE status IN ('resolved', 'ignored') "
            "AND issue_id IN (SELECT issue_id FROM issue_batch)"
        ).fetchall()[0][0]
        needed = {"all": n, "sessions": sessions, "users": users, "lifecycle": lifecycle}
        for kind, statement in _upkeep_sql("store.", bool(sessions), bool(users)):
            if needed[kind]:
                con.execute(statement)
    if expiring:
        expire_ignored(con)
    return int(n)


def index_sql(prefix: str = "store.") -> tuple[str, ...]:
    """Statements that give every stored event without an issue id its id and fold those
    events into the issues (migration 9 over the events stored before it, with ``prefix``
    empty; stores written without the ingest path, such as the analytics example)."""
    return (
        _raw_sql(prefix, "issue_id IS NULL"),
        _batch_sql(),
        _label_sql(prefix),
        *(statement for _, statement in _upkeep_sql(prefix)),
        "DROP TABLE IF EXISTS issue_raw",
        "DROP TABLE IF EXISTS issue_batch",
        "DROP TABLE IF EXISTS issue_new_sessions",
        "DROP TABLE IF EXISTS issue_new_users",
        "DROP TABLE IF EXISTS issue_transitions",
    )


def index_events(con: duckdb.DuckDBPyConnection) -> None:
    """Run :func:`index_sql` on ``con`` (the store attached as ``store``, in a transaction)."""
    for statement in index_sql():
        con.execute(statement)


def expire_ignored(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> int:
    """Reopen the ignored issues whose ``ignore_until`` has passed (at ``now``, default the
    clock); returns how many.  ``con`` has the store attached as ``store`` in a transaction."""
    at = utc(now) if now is not None else datetime.now(UTC)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE issue_transitions AS
SELECT issue_id, status AS from_status, 'open' AS to_status,
    'ignored until ' || strftime(ignore_until AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS reason
FROM store.issues WHERE status = 'ignored' AND ignore_until IS NOT NULL AND ignore_until <= $at""",
        {"at": at},
    )
    n = int(con.execute("SELECT count(*) FROM issue_transitions").fetchall()[0][0])
    if n:
        for statement in _apply_transitions_sql("store."):
            con.execute(statement)
    return n


# ---------------------------------------------------------------------------- lifecycle
class UnknownIssueError(FaultcastError, LookupError):
    """No issue has the id asked for."""


def default_actor() -> str:
    """Who is making a change from this process: the OS user."""
    try:
        return os.getlogin()
    except OSError:
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name at all (some containers)
            return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _until(value: datetime | date | timedelta | str | float | None) -> datetime | None:
    if value is None:
        return None
    now = datetime.now(UTC)
    if isinstance(value, datetime):
        moment = utc(value)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif is_duration(value) or isinstance(value, (int, float)):
        moment = now + timedelta(seconds=parse_duration(value, "until"))  # type: ignore[arg-type]
    else:
        try:
            moment = utc(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(
                f"until={value!r} is neither a duration (such as 2h, 1d) nor a time "
                "(ISO 8601 such as 2026-01-01T12:00:00Z)"
            ) from None
    if moment <= now:
        raise ValueError(f"until={value!r} is in the past ({moment.isoformat()})")
    return moment


def set_issue_status(
    con: Any,
    issue_id: str,
    status: str,
    *,
    actor: str | None = None,
    reason: str | None = None,
    until: datetime | date | timedelta | str | float | None = None,
    until_count: int | None = None,
    in_next_release: bool = False,
) -> dict[str, Any]:
    """Set an issue's status and record the change in ``issue_changes``; returns the issue's
    new state (``id``, ``status``, ``resolved_at``, ``resolved_in_release``, ``ignore_until``,
    ``ignore_until_count``).

    ``con`` is a :class:`~faultcast.ingest.Store` (a short write session is opened, waiting
    out another writer like ingest does) or a connection with the store attached as ``store``
    inside a transaction.  ``status``: ``resolved`` (with ``in_next_release``: it regresses
    only on an event of a release other than the issue's latest), ``ignored`` (for good, until
    ``until`` — a time or a duration from now — or until ``until_count`` more events), or
    ``open`` (reopen).  ``actor`` defaults to the OS user.  An unknown id raises
    :class:`UnknownIssueError`.
    """
    if status not in SET_STATUSES:
        raise ValueError(
            f"status={status!r}: an issue can be set to {', '.join(SET_STATUSES)} "
            "(regressed is set by ingest when a resolved issue recurs)"
        )
    if status != "ignored" and (until is not None or until_count is not None):
        raise ValueError("until and until_count apply to status 'ignored' only")
    if status != "resolved" and in_next_release:
        raise ValueError("in_next_release applies to status 'resolved' only")
    if until_count is not None and (isinstance(until_count, bool) or int(until_count) < 1):
        raise ValueError(f"until_count={until_count!r}: give a number of events, 1 or more")
    ignore_until = _until(until) if status == "ignored" else None
    who = actor or default_actor()
    if hasattr(con, "writing"):
        with con.writing() as w:
            return _set_status(
                w, issue_id, status, who, reason, ignore_until, until_count, in_next_release
            )
    return _set_status(
        con, issue_id, status, who, reason, ignore_until, until_count, in_next_release
    )


def _set_status(
    w: duckdb.DuckDBPyConnection,
    issue_id: str,
    status: str,
    actor: str,
    reason: str | None,
    ignore_until: datetime | None,
    until_count: int | None,
    in_next_release: bool,
) -> dict[str, Any]:
    key = str(issue_id).strip().upper()
    rows = w.execute(
        "SELECT status, count, last_release FROM store.issues WHERE issue_id = ?", [key]
    ).fetchall()
    if not rows:
        raise UnknownIssueError(
            f"no issue {issue_id!r} in this store (faultcast issues lists them)"
        )
    before, count, last_release = rows[0]
    resolved = status == "resolved"
    w.execute(
        """UPDATE store.issues SET status = $status, status_changed_at = now(),
            resolved_at = CASE WHEN $resolved THEN now() END,
            resolved_next_release = CASE WHEN $resolved THEN $next END,
            resolved_in_release = CASE WHEN $resolved AND $next THEN $release END,
            ignore_until = $until,
            ignore_until_count = $until_count
        WHERE issue_id = $id""",
        {
            "status": status,
            "resolved": resolved,
            "next": bool(in_next_release),
            "release": last_release,
            "until": ignore_until,
            "until_count": None if until_count is None else int(count) + int(until_count),
            "id": key,
        },
    )
    if reason is None:
        if status == "ignored" and (ignore_until is not None or until_count is not None):
            parts = []
            if ignore_until is not None:
                parts.append(f"until {ignore_until.strftime('%Y-%m-%dT%H:%M:%SZ')}")
            if until_count is not None:
                parts.append(f"until {until_count} more events")
            reason = " or ".join(parts)
        elif resolved and in_next_release:
            reason = "in the next release" + (
                f" after {last_release}" if last_release is not None else ""
            )
    w.execute(
        "INSERT INTO store.issue_changes VALUES (?, now(), ?, ?, ?, ?)",
        [key, before, status, actor, reason],
    )
    row = w.execute(
        "SELECT issue_id, status, resolved_at, resolved_in_release, ignore_until, "
        "ignore_until_count FROM store.issues WHERE issue_id = ?",
        [key],
    ).fetchall()[0]
    names = ("id", "status", "resolved_at", "resolved_in_release", "ignore_until")
    out = dict(zip(names, row[:5], strict=True))
    out["ignore_until_count"] = row[5]
    return out
