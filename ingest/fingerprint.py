"""Message fingerprints: variable parts replaced by placeholders, and a stable id.

The variable parts are one alternation written once, for both Python's ``re`` (with
``re.ASCII``) and RE2 (DuckDB), so :func:`fingerprint` in Python and :func:`template_sql` in the
vectorised ingest give the same masked form, in a single pass.  Only values that are variable
in any log are masked (numbers, hex, addresses, ids, paths, URLs, quoted strings, dates);
whether a *word* is variable is left to the miner (:mod:`faultcast.ingest.patterns`), which
decides it from how many distinct words a position takes, so ``expand=false`` and
``expand=true`` can stay two templates while ``user=<name>`` becomes one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Final

#: The variable parts of a message, tried left to right at each position (so a UUID is not
#: read as numbers).  A hex token holds at least one digit and one letter a-f, in either order.
VARIABLE_PARTS: Final[tuple[tuple[str, str], ...]] = (
    (
        "datetime",
        r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +\d{1,2},? \d{1,2}:\d{2}(?::\d{2})?(?: \d{4})?\b",
    ),
    ("uuid", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    ("ip", r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"),
    (
        "hex",
        r"\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]*(?:[0-9][0-9a-fA-F]*[a-fA-F]|[a-fA-F][0-9a-fA-F]*[0-9])[0-9a-fA-F]*\b|\b[0-9a-fA-F]{12,}\b",
    ),
    ("quoted", r"\"[^\"]*\"|'[^']*'"),
    ("url", r"\b[a-zA-Z][\w.+-]*://[^\s,;]+"),
    ("path", r"(?:/[\w.-]+){2,}/?|(?:[A-Za-z]:)?(?:\\[\w.-]+){2,}"),
    ("id", r"\b[A-Za-z]+_-?\d+\b"),
    ("number", r"\b\d+(?:\.\d+)*"),
)
PLACEHOLDER: Final[str] = "<*>"
PATTERN: Final[str] = "|".join(rx for _, rx in VARIABLE_PARTS)

_COMPILED = re.compile(PATTERN, re.ASCII)


def template_of(message: str, extra_masks: Sequence[str] = ()) -> str:
    """The message with its variable parts replaced by ``<*>`` (Drain's placeholder).

    Examples
    --------
    >>> template_of("connection to 10.0.0.7:5432 timed out after 3000 ms")
    'connection to <*> timed out after <*> ms'
    >>> template_of('user=alice opened "/etc/passwd" (request c9f1e2d3b4a5f670, try 2)')
    'user=alice opened <*> (request <*>, try <*>)'
    """
    for mask in extra_masks:
        message = re.sub(mask, PLACEHOLDER, message)
    return _COMPILED.sub(PLACEHOLDER, message)


def template_id_of(template: str) -> str:
    """A stable id for a template: the first 16 hex digits of its MD5.

    >>> template_id_of("connection to <*> timed out after <*> ms")
    'd278b13b77bc9980'
    """
    return hashlib.md5(template.encode("utf-8")).hexdigest()[:16]


def fingerprint(message: str) -> tuple[str, str]:
    """``(template, template_id)`` of a message."""
    template = template_of(message)
    return template, template_id_of(template)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def template_sql(message: str, extra_masks: Sequence[str] = ()) -> str:
    """A DuckDB expression computing :func:`template_of` over a column expression, after the
    user's ``extra_masks`` (RE2 expressions whose matches become ``<*>``)."""
    for mask in extra_masks:
        message = f"regexp_replace({message}, {_sql_string(mask)}, '<*>', 'g')"
    return f"regexp_replace({message}, {_sql_string(PATTERN)}, '<*>', 'g')"


def template_id_sql(template: str) -> str:
    """A DuckDB expression computing :func:`template_id_of` over a column expression."""
    return f"substr(md5({template}), 1, 16)"
