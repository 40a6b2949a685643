"""Stored text made safe to show: control characters escaped, for terminals and browsers.

Messages, templates, quarantined lines, unit names and model metrics are whatever producers
sent.  Shown raw, an ESC sequence rewrites the terminal (colours, cursor moves, window titles,
hyperlinks), a carriage return or backspace hides what precedes it, and a bidi override
reverses what follows it on screen.  The CLI and the dashboard show stored text through
:func:`printable`, which writes every such character as a visible Python-style escape; JSON
output (``--json``) stays exact, since JSON escapes control characters itself.

Examples
--------
>>> printable("boom \\x1b[2J\\x1b]0;owned\\x07 done")
'boom \\\\x1b[2J\\\\x1b]0;owned\\\\x07 done'
>>> printable("abc\\u202edcba"), printable("tab\\there\\nline"), printable("naïve 日本")
('abc\\\\u202edcba', 'tab\\\\there\\\\nline', 'naïve 日本')
"""

from __future__ import annotations

import re
from typing import Any, Final

import pandas as pd

#: C0 controls, DEL, C1 controls; the bidi embeddings, overrides and isolates, marks (LRM,
#: RLM, ALM) and the line and paragraph separators, which reorder or break what is shown.
UNPRINTABLE: Final[re.Pattern[str]] = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED: Final[dict[str, str]] = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as text with every control and bidi character escaped (see the module doc);
    ``None`` is the empty string."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return UNPRINTABLE.sub(_escape, text)


def printable_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text columns (and text in object columns) go through
    :func:`printable`; other values are kept as they are.

    >>> printable_frame(pd.DataFrame({"m": ["a\\x1bb", "ok"], "n": [1, 2]}))["m"].tolist()
    ['a\\\\x1bb', 'ok']
    """
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
            out[column] = pd.Series(
                [printable(v) if isinstance(v, str) else v for v in series],
                index=series.index,
                dtype=series.dtype,
            )
    return out


__all__ = ["UNPRINTABLE", "printable", "printable_frame"]
