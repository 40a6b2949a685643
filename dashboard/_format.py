"""How the dashboard shows numbers, names and colours: one place, the same on every page.

- **Colours**: one colour per category, level, outcome or issue status, fixed here (not per
  time range: a category keeps its colour whichever others are on the chart); any other value
  (a service, an action) gets a colour from its name's checksum, so it too is the same on every
  page and every range.
- **Columns**: tables show readable names (:data:`LABELS`, else the snake_case name in words),
  shares as percentages, durations with their unit, missing values as a dash, and no JSON.
- **Values**: :func:`pct`, :func:`duration_ms`, :func:`criterion_value` for tiles and text.

Examples
--------
>>> pct(0.3517), pct(None), duration_ms(4765.2087), duration_ms(12.5)
('35.2%', '–', '4.8 s', '12.5 ms')
>>> label("p95_ms"), label("error_type"), label("surge_ratio")
('p95 (ms)', 'Error type', 'Surge ratio')
>>> colour("category", "security") == colour("category", "security")
True
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd

DASH: Final[str] = "–"

#: Fixed colours of the values of a kind (the store's taxonomy and the states it shows).
COLOURS: Final[dict[str, dict[str, str]]] = {
    "category": {
        "communication": "#4C78A8",
        "data": "#F58518",
        "budget": "#B279A2",
        "streaming": "#72B7B2",
        "memory": "#9D755D",
        "security": "#E45756",
        "unknown": "#BAB0AC",
    },
    "level": {
        "debug": "#BAB0AC",
        "info": "#4C78A8",
        "warning": "#ECA82C",
        "error": "#E45756",
        "critical": "#8B0000",
    },
    "recovery_outcome": {"succeeded": "#54A24B", "failed": "#E45756"},
    "status": {
        "open": "#E45756",
        "regressed": "#8B0000",
        "resolved": "#54A24B",
        "ignored": "#BAB0AC",
    },
    "metric": {
        "Precision": "#4C78A8",
        "Recall": "#F58518",
        "F1": "#54A24B",
        "PR-AUC": "#B279A2",
    },
    "alert": {"over the threshold": "#E45756", "below the threshold": "#9ecae9"},
}
#: Colours for values with no fixed colour (services, actions, ...), picked by checksum.
PALETTE: Final[tuple[str, ...]] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)  # fmt: skip
#: The colour of failures marked on charts.
FAILURE_COLOUR: Final[str] = "#8B0000"


def colour(kind: str, value: Any) -> str:
    """The colour of ``value`` of ``kind`` (a column name): fixed, the same on every chart."""
    text = "" if value is None else str(value)
    fixed = COLOURS.get(kind, {}).get(text)
    if fixed is not None:
        return fixed
    return PALETTE[zlib.crc32(f"{kind}:{text}".encode()) % len(PALETTE)]


def colour_map(kind: str, values: Iterable[Any]) -> dict[str, str]:
    """``{value: colour}`` for plotly's ``color_discrete_map``."""
    return {str(v): colour(kind, v) for v in values if v is not None and v == v}


def order(kind: str, values: Iterable[Any]) -> list[str]:
    """The values in a fixed order: a kind's fixed order first, then by name (legends keep
    their order whatever the range)."""
    known = list(COLOURS.get(kind, {}))
    seen = sorted({str(v) for v in values if v is not None and v == v})
    return [v for v in known if v in seen] + [v for v in seen if v not in known]


# ---------------------------------------------------------------------------------- values
def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (``0.3517`` -> ``35.2%``); a dash for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return DASH
    return f"{float(value):.{digits}%}"


def duration_ms(value: float | None) -> str:
    """Milliseconds, readable: ``12.5 ms``, ``4.8 s``, ``3.2 min``; a dash for None."""
    if value is None or pd.isna(value):
        return DASH
    ms = float(value)
    if abs(ms) < 1000:
        return f"{ms:,.1f} ms" if abs(ms) < 100 else f"{ms:,.0f} ms"
    if abs(ms) < 60_000:
        return f"{ms / 1000:,.1f} s"
    if abs(ms) < 3_600_000:
        return f"{ms / 60_000:,.1f} min"
    return f"{ms / 3_600_000:,.1f} h"


def bucket_words(bucket: str) -> str:
    """A bucket width in words: ``5m`` -> ``5 min``, ``1h`` -> ``1 hour``.

    >>> bucket_words("5m"), bucket_words("1h"), bucket_words("6h"), bucket_words("1d")
    ('5 min', '1 hour', '6 hours', '1 day')
    """
    number, unit = bucket[:-1], bucket[-1:]
    words = {"s": ("s", "s"), "m": ("min", "min"), "h": ("hour", "hours"), "d": ("day", "days")}
    if unit not in words or not number.replace(".", "", 1).isdigit():
        return bucket
    one, many = words[unit]
    return f"{number} {one if float(number) == 1 else many}"


def decade_ms(ms: float) -> str:
    """A log-axis tick of milliseconds: ``10 ms``, ``1 s``, ``100 s``.

    >>> [decade_ms(v) for v in (1.0, 100.0, 1000.0, 100000.0)]
    ['1 ms', '100 ms', '1 s', '100 s']
    """
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def pct_exact(value: float | None) -> str:
    """A share with up to two decimals, trailing zeros dropped (``0.999`` -> ``99.9%``).

    >>> pct_exact(0.999), pct_exact(1.0), pct_exact(0.26295)
    ('99.9%', '100%', '26.3%')
    """
    if value is None or pd.isna(value):
        return DASH
    return f"{float(value) * 100:.2f}".rstrip("0").rstrip(".") + "%"


def criterion_unit(name: str) -> str:
    """How a criterion's value reads: ``ms`` for a time, ``%`` for a share."""
    return "ms" if name.endswith("_ms") else "%"


def criterion_value(name: str, value: float | None, unit: str | None = None) -> str:
    """A scorecard value in its unit (``4765.2087`` ms -> ``4.8 s``; ``0.557`` -> ``55.7%``)."""
    unit = unit or criterion_unit(name)
    if unit == "ms":
        return duration_ms(value)
    return pct_exact(value)


def scorecard_table(card: pd.DataFrame) -> pd.DataFrame:
    """The scorecard as people read it: the criterion in the seed's words (the scorecard's
    ``seed_criterion``, with what is measured beside it; else its description), the value and
    the target in their units, pass or FAIL, and the evidence.

    >>> card = pd.DataFrame({"criterion": ["mean_error_handling_ms"],
    ...     "description": ["mean time to handle an error"], "value": [4765.2087],
    ...     "target": [100.0], "comparison": ["<"], "passed": [False], "evidence": ["n=3"]})
    >>> scorecard_table(card).iloc[0].tolist()
    ['mean time to handle an error', '4.8 s', '< 100 ms', 'FAIL', 'n=3']
    >>> card["seed_criterion"] = ["< 100 ms mean error-handling time"]
    >>> scorecard_table(card).iloc[0].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['< 100 ms mean error-handling time', '4.8 s', '< 100 ms', 'FAIL', 'n=3',
     'mean time to handle an error']
    """
    symbols = {">=": "≥", "<=": "≤", "<": "<", ">": ">"}
    seed_words = "seed_criterion" in card.columns
    rows = []
    for row in card.itertuples(index=False):
        unit = getattr(row, "unit", None)
        unit = unit if isinstance(unit, str) and unit else criterion_unit(row.criterion)
        passed = row.passed
        words = getattr(row, "seed_criterion", None) if seed_words else None
        rows.append(
            {
                "Criterion": str(words or row.description or row.criterion),
                "Now": criterion_value(row.criterion, row.value, unit),
                "Target": f"{symbols.get(row.comparison, row.comparison)} "
                f"{criterion_value(row.criterion, row.target, unit)}",
                "Status": "n/a"
                if passed is None or pd.isna(passed)
                else "pass"
                if passed
                else "FAIL",
                "Evidence": str(row.evidence),
                "Measured as": str(row.description or ""),
            }
        )
    columns = ["Criterion", "Now", "Target", "Status", "Evidence"]
    # The seed's words name the criterion; what is measured then says how.
    return pd.DataFrame(rows, columns=[*columns, "Measured as"] if seed_words else columns)


_MARKDOWN_SPECIALS: Final[str] = "\\`*_{}[]()<>#+-.!|~:$"


def md(text: Any) -> str:
    r"""Stored text safe inside Streamlit markdown: control characters escaped (as
    :func:`~faultcast.analytics.printable` does) and markdown's special characters
    backslashed, so a template's ``<*>`` or a ``*`` shows as it is.

    >>> md("retry <*> of *db*: [x](y)")
    'retry \\<\\*\\> of \\*db\\*\\: \\[x\\]\\(y\\)'
    """
    from faultcast.analytics import printable

    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in printable(text))


def printable_lines(text: Any) -> str:
    r"""Stored text of several lines (a traceback) with its line breaks kept and every other
    control or bidi character escaped.

    >>> print(printable_lines("Traceback:\n  File \"a.py\"\x1b[2J\r\nValueError"))
    Traceback:
      File "a.py"\x1b[2J
    ValueError
    """
    from faultcast.analytics import printable

    return "\n".join(printable(line) for line in str(text or "").splitlines())


def clock(ts: Any) -> str:
    """A time of day in UTC (``23:05 UTC``); a dash for none."""
    if ts is None or pd.isna(ts):
        return DASH
    return f"{pd.Timestamp(ts):%H:%M} UTC"


def minutes(start: Any, end: Any) -> str:
    """The minutes from ``start`` to ``end`` (``14 min``; ``under 1 min``)."""
    span = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 60
    return "under 1 min" if span < 1 else f"{span:.0f} min"


# ---------------------------------------------------------------------------------- columns
#: Readable names of the columns the pages show (others: the name in words).
LABELS: Final[dict[str, str]] = {
    "template_id": "Pattern",
    "template": "Template",
    "error_type": "Error type",
    "recovery_action": "Action",
    "recovery_outcome": "Outcome",
    "retry_count": "Retries",
    "success_rate": "Success",
    "expected_success": "Expected success",
    "error_rate": "Error rate",
    "errors_per_minute": "Errors / min",
    "per_minute": "Per min",
    "share": "Share",
    "mean_ms": "Mean (ms)",
    "p50_ms": "Median (ms)",
    "p95_ms": "p95 (ms)",
    "max_ms": "Max (ms)",
    "mean_s": "Mean (s)",
    "p50_s": "Median (s)",
    "p95_s": "p95 (s)",
    "max_s": "Max (s)",
    "time_to_respond_s": "Time to respond (s)",
    "mean_lead_s": "Mean lead (s)",
    "mean_lead_min": "Mean lead (min)",
    "baseline_per_window": "Baseline per window",
    "surge_ratio": "Surge ratio",
    "recent_count": "Recent",
    "source_ips": "Source IPs",
    "auth_failures": "Authentication failures",
    "response_rate": "Response rate",
    "response_action": "Response",
    "responded_at": "Responded at",
    "first_seen": "First seen",
    "last_seen": "Last seen",
    "made_at": "Made at",
    "model_version": "Model version",
    "model_name": "Model",
    "pr_auc": "PR-AUC",
    "f1": "F1",
    "probability": "Risk",
    "threshold": "Alert threshold",
    "anomaly_score": "Anomaly score",
    "detected_at": "Detected at",
    "started_at": "Started",
    "finished_at": "Finished",
    "promoted_version": "Promoted version",
    "production_version": "Production version",
    "run_id": "Run",
    "bytes": "Size (bytes)",
    "created_at": "Created",
    "coverage": "Coverage",
    "in_window": "Before failures",
    "failures_preceded": "Failures preceded",
    "unit": "Service",
}
#: Columns holding a share (0..1): shown as percentages.
PERCENT: Final[frozenset[str]] = frozenset(
    {
        "success_rate", "expected_success", "error_rate", "share", "response_rate", "precision",
        "recall", "f1", "coverage", "confidence", "probability", "threshold",
        "recovery_success", "observed_rate", "mean_probability", "pr_auc",
    }
)  # fmt: skip
#: Text columns that may be long: wide, wrapped over several lines.
LONG_TEXT: Final[frozenset[str]] = frozenset(
    {"template", "example", "reason", "alternatives", "evidence", "title", "message", "text",
     "criterion", "candidates", "detail", "metrics", "why", "recovery"}
)  # fmt: skip


def label(name: str) -> str:
    """The readable name of a column."""
    if name in LABELS:
        return LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def json_text(value: Any) -> str:
    """A JSON object as readable ``key value`` text (nested keys joined), not raw JSON.

    >>> json_text('{"mean_error": 0.0655, "n": 3}')
    'mean error 0.0655 · n 3'
    >>> json_text('{"holdout": {"precision": 0.33, "recall": 0.25}}')
    'holdout: precision 33.0%, recall 25.0%'
    """
    try:
        found = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return str(value)
    if not isinstance(found, Mapping):
        return DASH if found is None else str(found)

    def one(key: str, item: Any) -> str:
        words = key.replace("_", " ")
        if isinstance(item, Mapping):
            inner = ", ".join(one(str(k), v) for k, v in item.items() if v is not None)
            return f"{words}: {inner}"
        if isinstance(item, float) and key in PERCENT:
            return f"{words} {pct(item)}"
        if isinstance(item, float):
            return f"{words} {item:.4g}"
        return f"{words} {item}"

    return " · ".join(one(str(k), v) for k, v in found.items() if v is not None)


def readable(
    df: pd.DataFrame, *, json_columns: Iterable[str] = ()
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``df`` with readable column names, JSON columns as text, and the Streamlit column
    configuration that shows shares as percentages and long text wide."""
    import streamlit as st

    out = df.copy()
    for column in json_columns:
        if column in out.columns:
            out[column] = [json_text(v) for v in out[column]]
    config: dict[str, Any] = {}
    names: dict[str, str] = {}
    for column in out.columns:
        name = label(column)
        if name in names.values():  # two columns read the same: keep the second's own words
            name = column.replace("_", " ")
        names[column] = name
        dtype = out[column].dtype
        if column in PERCENT and pd.api.types.is_numeric_dtype(dtype):
            config[name] = st.column_config.NumberColumn(name, format="percent")
        elif pd.api.types.is_bool_dtype(dtype):
            config[name] = st.column_config.CheckboxColumn(name)
        elif isinstance(dtype, pd.DatetimeTZDtype):
            config[name] = st.column_config.DatetimeColumn(name, format="YYYY-MM-DD HH:mm:ss z")
        elif column in LONG_TEXT:
            config[name] = st.column_config.TextColumn(name, width="large")
        elif (
            pd.api.types.is_float_dtype(dtype)
            and column.endswith(("_ms", "_s"))
            or pd.api.types.is_integer_dtype(dtype)
            and column not in ("version", "model_version")
        ):
            config[name] = st.column_config.NumberColumn(name, format="localized")
        elif pd.api.types.is_float_dtype(dtype):
            config[name] = st.column_config.NumberColumn(name, format="%.2f")
    return out.rename(columns=names), config


#: Characters of long text that fit one line of a wide table column.
LINE_CHARS: Final[int] = 90


def row_height(df: pd.DataFrame, narrow: Mapping[str, int] | None = None) -> int | None:
    """Rows tall enough for the longest text of ``df``'s long-text columns (wrapped, never
    cut), up to six lines; None (one line) when it has none.  ``narrow``: other columns with
    the characters of a line each (a list of services in a medium-wide column).

    >>> row_height(pd.DataFrame({"template": ["x" * 200]})), row_height(pd.DataFrame({"n": [1]}))
    (98, None)
    """
    lines = 1
    for column, width in (narrow or {}).items():
        if column in df.columns:
            lengths = [len(v) for v in df[column] if isinstance(v, str)]
            lines = max([lines, *(-(-n // width) for n in lengths)])
    longest = 0
    for column in df.columns:
        if str(column).lower() in LONG_TEXT or label(column).lower() in LONG_TEXT:
            lengths = [len(v) for v in df[column] if isinstance(v, str)]
            longest = max([longest, *lengths])
    if longest > 45:
        lines = max(lines, 2, -(-longest // LINE_CHARS) + (1 if longest > LINE_CHARS else 0))
    return None if lines <= 1 else 14 + 21 * min(lines, 6)
