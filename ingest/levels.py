"""Levels and categories for text logs that carry no level (syslog, sshd, kernels ...),
inferred from the message by keyword and pattern rules, in SQL.

The first rule that matches (case-insensitive, on word starts) sets the level; an event whose
level was inferred says so in ``attrs`` (``"level_inferred": true``).  Authentication and
authorisation failures (``authentication failure``, ``Failed password``, ``Invalid user``,
``permission denied`` ...) are category ``security``; the other categories follow the
message rules of :mod:`faultcast.ingest.schema`.

Examples
--------
>>> import duckdb
>>> con = duckdb.connect()
>>> msgs = ["ALERT exited abnormally with [1]", "Kerberos authentication failed",
...         "session opened for user root", "Out of memory: Killed process 42"]
>>> [con.execute(f"SELECT {inferred_level_sql('$m')}, {inferred_security_sql('$m')}",
...              {"m": m}).fetchall()[0] for m in msgs]
[('error', False), ('error', True), ('info', False), ('critical', False)]
"""

from __future__ import annotations

from typing import Final

__all__ = ["LEVEL_RULES", "SECURITY_RULE", "inferred_level_sql", "inferred_security_sql"]

#: Ordered (level, pattern) rules on the message; the first match wins, else ``info``.
LEVEL_RULES: Final[tuple[tuple[str, str], ...]] = (
    (
        "critical",
        r"\b(fatal|panic|emerg\w*|out of memory|oom[- ]?kill\w*|segfault|segmentation fault|"
        r"kernel bug|core dumped|unrecoverable)",
    ),
    (
        "error",
        r"\b(error\w*|err\b|fail\w*|exception|abnormal\w*|abort\w*|crash\w*|killed|"
        r"refused|unreachable|timed? ?out|timeout|cannot|can't|unable to|not found|"
        r"corrupt\w*|broken pipe|no such|invalid|illegal|denied)",
    ),
    (
        "warning",
        r"\b(warn\w*|deprecat\w*|retry\w*|retrying|slow|unexpected|"
        r"possible break-in|not allowed|reject\w*|degraded)",
    ),
)

#: Authentication and authorisation failures: category ``security``.
SECURITY_RULE: Final[str] = (
    r"\b(authenticat\w* (fail\w*|error)|auth\w* failure|failed (password|publickey|login)|"
    r"invalid user|illegal user|user unknown|unknown user|login (fail\w*|incorrect)|"
    r"permission denied|access denied|not authori[sz]ed|unauthori[sz]ed|forbidden|"
    r"authori[sz]ation (fail\w*|denied|error)|break-in attempt|bad password|"
    r"too many authentication failures|pam_\w+\(\w+:auth\))"
)

# Security failures are errors unless a stronger word says more.
_SECURITY_LEVEL: Final[str] = "error"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def inferred_level_sql(message: str) -> str:
    """A DuckDB expression: the level the rules give ``message`` (never NULL)."""
    cases = " ".join(
        f"WHEN regexp_matches({message}, {_q('(?i)' + rx)}) THEN '{level}'"
        for level, rx in LEVEL_RULES[:1]
    )
    security = f"WHEN {inferred_security_sql(message)} THEN '{_SECURITY_LEVEL}'"
    rest = " ".join(
        f"WHEN regexp_matches({message}, {_q('(?i)' + rx)}) THEN '{level}'"
        for level, rx in LEVEL_RULES[1:]
    )
    return f"(CASE {cases} {security} {rest} ELSE 'info' END)"


def inferred_security_sql(message: str) -> str:
    """A DuckDB expression: whether ``message`` is an authentication/authorisation failure."""
    return f"regexp_matches({message}, {_q('(?i)' + SECURITY_RULE)})"
