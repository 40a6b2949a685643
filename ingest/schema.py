"""The event schema of DESIGN.md: columns, levels and the error taxonomy.

The taxonomy is written once, as ordered (category, regular expression) rules, and used
both by Python (:func:`category_of`) and by the vectorised ingest SQL (:func:`category_sql`),
so the two can never disagree.  The expressions are valid in Python's ``re`` and in RE2.
"""

from __future__ import annotations

import re
from typing import Final

#: The columns of table ``events``, in order, with their DuckDB types.
EVENT_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("event_id", "VARCHAR"),
    ("ts", "TIMESTAMPTZ"),
    ("service", "VARCHAR"),
    ("host", "VARCHAR"),
    ("component", "VARCHAR"),
    ("level", "VARCHAR"),
    ("category", "VARCHAR"),
    ("error_type", "VARCHAR"),
    ("message", "VARCHAR"),
    ("template_id", "VARCHAR"),
    ("template", "VARCHAR"),
    ("session_key", "VARCHAR"),
    ("failure", "BOOLEAN"),
    ("recovery_action", "VARCHAR"),
    ("recovery_outcome", "VARCHAR"),
    ("retry_count", "INTEGER"),
    ("recovery_ms", "DOUBLE"),
    ("attrs", "JSON"),
    ("source", "VARCHAR"),
    ("source_offset", "BIGINT"),
    ("ingested_at", "TIMESTAMPTZ"),
    # Promoted from attrs (migration 6), where they stay too: who acted, for security metrics.
    ("source_ip", "VARCHAR"),
    ("user", "VARCHAR"),
    # The issue the event belongs to (migration 9; NULL below warning unless a failure).
    ("issue_id", "VARCHAR"),
)

#: The attributes copied into columns of their own (the column has the attribute's name).
PROMOTED_ATTRS: Final[tuple[str, ...]] = ("source_ip", "user")

LEVELS: Final[tuple[str, ...]] = ("debug", "info", "warning", "error", "critical")

#: Every spelling of a level seen in the wild, lower-cased, to its normal form.
LEVEL_SYNONYMS: Final[dict[str, str]] = {
    "trace": "debug",
    "debug": "debug",
    "dbg": "debug",
    "fine": "debug",
    "finer": "debug",
    "finest": "debug",
    "verbose": "debug",
    "v": "debug",
    "d": "debug",
    "info": "info",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "config": "info",
    "i": "info",
    "warn": "warning",
    "warning": "warning",
    "w": "warning",
    "err": "error",
    "error": "error",
    "e": "error",
    "exception": "error",
    "crit": "critical",
    "critical": "critical",
    "fatal": "critical",
    "f": "critical",
    "severe": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
    "panic": "critical",
}

#: Python logging's numeric levels (and syslog's are not numeric here on purpose).
NUMERIC_LEVELS: Final[dict[int, str]] = {
    10: "debug",
    20: "info",
    30: "warning",
    40: "error",
    50: "critical",
}

CATEGORIES: Final[tuple[str, ...]] = (
    "streaming",
    "budget",
    "security",
    "memory",
    "communication",
    "data",
    "unknown",
)

#: Ordered rules: the first whose expression matches the error type wins.  Case-insensitive.
ERROR_TYPE_RULES: Final[tuple[tuple[str, str], ...]] = (
    (
        "security",
        r"security|permission|unauthori[sz]|forbidden|auth(entication|orization|orisation)?(error|failure|failed|exception)|accessdenied|access_denied|credential|csrf|tokenexpired|invalidtoken|lockout",
    ),
    (
        "budget",
        r"budget|quota|ratelimit|rate_limit|throttl|toomanyrequests|too_many_requests|limitexceeded|costexceeded|billing",
    ),
    (
        "streaming",
        r"stream|kafka|consumer|producer|backpressure|offset(out|error)|partition|brokenbuffer|bufferoverflow",
    ),
    ("memory", r"memory|outofmem|oom|heap|allocation|recursionerror|buffererror"),
    (
        "communication",
        r"timeout|timedout|connection|communication|brokenpipe|network|socket|http|dns|gaierror|herror|unreachable|refused|reset|sslerror|grpc|rpc|unavailable|eoferror|interruptederror|childprocesserror",
    ),
    (
        "data",
        r"value|typeerror|keyerror|indexerror|lookuperror|attributeerror|data|decode|encode|unicode|json|parse|schema|validation|integrity|serializ|format|overflow|zerodivision|arithmetic|assertion|notfound|filenotfound|isadirectory|notadirectory|fileexists",
    ),
)

#: When an event has no error type, these phrases in its message classify it.
MESSAGE_RULES: Final[tuple[tuple[str, str], ...]] = (
    (
        "security",
        r"authenticat\w* fail|login fail|invalid (password|credentials|token)|unauthori[sz]ed|forbidden|permission denied|access denied|authori[sz]ation (violation|denied|failed)|brute.?force",
    ),
    ("budget", r"budget|quota|rate.?limit|throttl|too many requests"),
    ("streaming", r"stream|consumer lag|backpressure|partition|offset commit|rebalanc"),
    ("memory", r"out of memory|oom|memory (pressure|usage|exhausted)|heap|gc overhead|swap"),
    (
        "communication",
        r"time[sd]? ?out|connection (refused|reset|closed|lost)|unreachable|broken pipe|dns|network|socket|bad gateway|service unavailable",
    ),
    ("data", r"invalid|malformed|corrupt|parse error|decode|schema|validation|checksum"),
)

_ERROR_TYPE_RES = tuple((cat, re.compile(rx, re.IGNORECASE)) for cat, rx in ERROR_TYPE_RULES)
_MESSAGE_RES = tuple((cat, re.compile(rx, re.IGNORECASE)) for cat, rx in MESSAGE_RULES)


def normalise_level(level: str | int | None) -> str | None:
    """The normal form of a level, or None when it is not a level.

    Examples
    --------
    >>> normalise_level("WARN"), normalise_level("Fatal"), normalise_level(40)
    ('warning', 'critical', 'error')
    >>> normalise_level("chatty") is None
    True
    """
    if level is None:
        return None
    if isinstance(level, int):
        return NUMERIC_LEVELS.get(level)
    return LEVEL_SYNONYMS.get(level.strip().lower())


def category_of(
    error_type: str | None, message: str | None = None, level: str | None = None
) -> str | None:
    """The category of an error: from its type, else (for warnings and worse) from its message.

    Events below ``warning`` without an error type have no category (they are not errors);
    warnings and worse that match nothing are ``unknown``.

    Examples
    --------
    >>> category_of("TimeoutError"), category_of("BudgetError"), category_of("PermissionError")
    ('communication', 'budget', 'security')
    >>> category_of(None, "consumer lag rising on partition 3", "warning")
    'streaming'
    >>> category_of(None, "user logged in", "info") is None
    True
    """
    if error_type:
        bare = error_type.rsplit(".", 1)[-1]
        for cat, rx in _ERROR_TYPE_RES:
            if rx.search(bare):
                return cat
        return "unknown"
    if level not in ("warning", "error", "critical"):
        return None
    if message:
        for cat, rx in _MESSAGE_RES:
            if rx.search(message):
                return cat
    return "unknown"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def category_sql(error_type: str, message: str, level: str) -> str:
    """A DuckDB expression computing :func:`category_of` over three column expressions."""
    et = f"regexp_extract({error_type}, '([^.]*)$', 1)"
    type_cases = " ".join(
        f"WHEN regexp_matches({et}, {_sql_string('(?i)' + rx)}) THEN '{cat}'"
        for cat, rx in ERROR_TYPE_RULES
    )
    msg_cases = " ".join(
        f"WHEN regexp_matches({message}, {_sql_string('(?i)' + rx)}) THEN '{cat}'"
        for cat, rx in MESSAGE_RULES
    )
    return (
        f"CASE WHEN coalesce({error_type}, '') <> '' THEN (CASE {type_cases} ELSE 'unknown' END) "
        f"WHEN {level} IN ('warning', 'error', 'critical') THEN (CASE {msg_cases} ELSE 'unknown' END) "
        "ELSE NULL END"
    )


def level_sql(raw_level: str) -> str:
    """A DuckDB expression normalising a raw level (text or number) to :data:`LEVELS`, or NULL."""
    names = " ".join(
        f"WHEN {_sql_string(k)} THEN {_sql_string(v)}" for k, v in LEVEL_SYNONYMS.items()
    )
    nums = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in NUMERIC_LEVELS.items())
    return f"(CASE lower(trim({raw_level})) {names} {nums} END)"
