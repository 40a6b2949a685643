"""A text log's time, inferred from a sample of its lines: which fields, and which form.

Nothing here is a list of known forms.  Each candidate value (a field, or several fields joined
by one space: date + time, month + day + time, ...) is cut into tokens (digit runs, month and
weekday names, AM/PM, zones, separators such as ``- . : / , T`` and brackets) and every
consistent reading of the tokens as strptime directives is built (``2015`` → ``%Y``, ``07`` →
``%m`` or ``%d`` or ``%H`` ..., digits after the seconds and ``.``/``,``/``:`` → a fraction);
a run of 9 to 19 digits may also be seconds, ms, µs or ns since the epoch.  DuckDB then tries
every reading on the sample at once, and the one that

1. parses nearly all sampled lines (:data:`MIN_PARSED`),
2. spans at most a year in the sample (a pid read as the year spans centuries),
3. is the most precise (ns > µs > ms > s > minutes), then has a year, then spans the least
   time (``17/06/09`` is 2017-06-09 rather than 2009-06-17: the sample spans days, not years),
   then reads month before day (day first in a dotted date with the year last), then uses
   the fewest fields

is chosen.  The whole file is then read in SQL (:meth:`TimeReading.sql`) with the chosen
format(s); inference itself only ever sees the sample.

A form without a year takes ``--year`` or, without it, the year of the file's modification
time; a time that would then lie more than a day after that modification is read in the year
before (a log that runs over New Year).

Examples
--------
>>> import duckdb
>>> con = duckdb.connect()
>>> r = infer_time(con, ["Date", "Time"], [{"Date": "081109", "Time": "203615"}] * 3)
>>> r.formats, r.fields
(('%y%m%d %H%M%S',), ('Date', 'Time'))
>>> infer_time(con, ["Time"], [{"Time": "[10.30 16:49:06]"}]).formats
('[%m.%d %H:%M:%S]',)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

import duckdb

__all__ = [
    "MIN_PARSED",
    "TimeReading",
    "candidate_formats",
    "infer_time",
    "parse_time_options",
]

#: A reading must parse at least this share of the sampled lines.
MIN_PARSED: Final[float] = 0.9
#: Fields joined into one value at most.
MAX_FIELDS: Final[int] = 3
#: A value longer than this is not a time.
MAX_TIME_CHARS: Final[int] = 64
#: Readings per value at most (the token search stops there).
MAX_READINGS: Final[int] = 48

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UTC_WORDS = ("z", "utc", "gmt")
_TOKEN = re.compile(
    r"(?P<zone>(?<=[\d ])[+-]\d{2}:?\d{2}(?=\s|$))|(?P<digits>\d+)|(?P<word>[A-Za-z]+)|(?P<sep>.)"
)
#: Field names that say they hold time: a reading of such fields beats one that also takes an
#: address or a counter that happens to parse (``10.0.0.3`` as ``%H.%M.%S.%f``).
_TIME_NAME = re.compile(r"(?i)time|date|day|month|year|hour|clock|epoch|^ts$|stamp|when")
_EPOCH = re.compile(r"\d{9,19}(\.\d{1,9})?")
#: Directive → the slot it fills (each slot once per reading).
_SLOT: Final[dict[str, str]] = {
    "%Y": "year",
    "%y": "year",
    "%m": "month",
    "%b": "month",
    "%B": "month",
    "%d": "day",
    "%H": "hour",
    "%I": "hour",
    "%M": "minute",
    "%S": "second",
    "%f": "fraction",
    "%n": "fraction",
    "%a": "weekday",
    "%A": "weekday",
    "%p": "ampm",
    "%z": "zone",
    "%Z": "zone",
    "%m%d": "month day",
    "%y%m%d": "year month day",
    "%Y%m%d": "year month day",
    "%H%M%S": "hour minute second",
    "%Y%m%d%H%M%S": "year month day hour minute second",
}


@dataclass(frozen=True)
class TimeReading:
    """How a log's time is read: ``fields`` joined by one space, parsed by ``formats``
    (strptime, DuckDB's directives) or as a count since the epoch (``epoch_digits`` digits
    below the second: 0 s, 3 ms, 6 µs, 9 ns)."""

    fields: tuple[str, ...]
    formats: tuple[str, ...] = ()
    epoch_digits: int | None = None
    #: Decimal digits of the second it resolves (-2: minutes).
    precision: int = 0
    has_year: bool = True
    #: Share of the sampled lines it parsed.
    parsed: float = 1.0
    example: str = ""
    #: Spread of the sample's times, seconds.
    span: float = 0.0
    notes: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> str:
        """Human form, e.g. ``Date+Time as '%y%m%d %H%M%S'``."""
        how = (
            f"epoch {['s', 'ms', 'µs', 'ns'][(self.epoch_digits or 0) // 3]}"
            if self.epoch_digits is not None
            else " or ".join(repr(f) for f in self.formats)
        )
        return f"{'+'.join(self.fields)} as {how}"

    def to_dict(self) -> dict[str, object]:
        return {
            "fields": list(self.fields),
            "formats": list(self.formats),
            "epoch": ["s", "ms", "us", "ns"][self.epoch_digits // 3]
            if self.epoch_digits is not None
            else None,
            "has_year": self.has_year,
            "example": self.example,
        }

    def sql(self, field_sql: Callable[[str], str], year: int | None, mtime: datetime | None) -> str:
        """A DuckDB expression: the TIMESTAMPTZ of the fields (``field_sql(name)`` → their
        text), NULL where they do not parse.  ``year``: for forms without one; None → the year
        of ``mtime`` (the file's modification time), rolled back over New Year."""
        text = (
            "regexp_replace(trim(concat_ws(' ', "
            + ", ".join(field_sql(f) for f in self.fields)
            + ")), '\\s+', ' ', 'g')"
        )
        if self.epoch_digits is not None:
            if self.epoch_digits == 0:
                micros = f"TRY_CAST(TRY_CAST({text} AS DECIMAL(38, 6)) * 1000000 AS BIGINT)"
            else:
                scale = 10 ** abs(self.epoch_digits - 6)
                n = f"TRY_CAST({text} AS HUGEINT)"
                # ns to µs rounds, as strptime's %n does.
                micros = (
                    f"{n} * {scale}"
                    if self.epoch_digits < 6
                    else f"({n} + {scale // 2}) // {scale}"
                )
                micros = f"TRY_CAST({micros} AS BIGINT)"
            return f"TRY(make_timestamp({micros}))::TIMESTAMPTZ"
        if self.has_year:
            return f"try_strptime({text}, {_sql_list(self.formats)})::TIMESTAMPTZ"
        prefixed = _sql_list(tuple("%Y " + f for f in self.formats))

        def at(y: int) -> str:
            return f"try_strptime('{y} ' || {text}, {prefixed})::TIMESTAMPTZ"

        if year is not None or mtime is None:
            return at(year if year is not None else datetime.now().year)
        limit = f"TIMESTAMPTZ '{mtime.isoformat()}' + INTERVAL 1 DAY"
        y = mtime.year
        return f"(CASE WHEN {at(y)} > {limit} THEN {at(y - 1)} ELSE {at(y)} END)"


def _sql_list(items: Sequence[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def _month_or_day(word: str) -> list[str]:
    w = word.lower()
    if w in _MONTHS:
        return ["%b"]
    if w in _MONTH_NAMES:
        return ["%B"]
    if w in _DAYS:
        return ["%a"]
    if w in _DAY_NAMES:
        return ["%A"]
    if w in ("am", "pm"):
        return ["%p"]
    if w in _UTC_WORDS:
        return [word]  # literal: a naive time is UTC already
    if word.isupper() and 3 <= len(word) <= 5:
        return ["%Z", word]
    return [word]


def _digit_options(n: int) -> list[str]:
    if n <= 2:
        return ["%d", "%m", "%H", "%M", "%S", "%y", "%I"]
    return {
        4: ["%Y", "%m%d"],
        6: ["%y%m%d", "%H%M%S"],
        8: ["%Y%m%d"],
        14: ["%Y%m%d%H%M%S"],
    }.get(n, [])


def candidate_formats(value: str) -> list[str]:
    """Every consistent strptime reading of ``value``'s tokens (each slot once, hours,
    minutes and seconds adjacent with one separator, a fraction right after the seconds).

    >>> candidate_formats("2015-07-29 17:41:44,747")
    ['%Y-%d-%m %H:%M:%S,%f', '%Y-%m-%d %H:%M:%S,%f']
    >>> candidate_formats("20171223-22:15:29:606")
    ['%Y%m%d-%H:%M:%S:%f']
    """
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(value):
        kind = m.lastgroup or "sep"
        tokens.append((kind, m.group()))
    out: list[str] = []

    def walk(i: int, parts: list[str], used: frozenset[str], last: str, seps: str) -> None:
        # last: the directive of the previous digit token; seps: separators since it.
        if len(out) >= MAX_READINGS:
            return
        if i == len(tokens):
            if _complete(used):
                out.append("".join(parts))
            return
        kind, text = tokens[i]
        if kind == "sep":
            walk(i + 1, [*parts, "%%" if text == "%" else text], used, last, seps + text)
            return
        if kind == "zone":
            options = ["%z"]
        elif kind == "word":
            options = _month_or_day(text)
        else:
            options = _digit_options(len(text))
            if last == "%S" and seps in (".", ",", ":") and len(text) <= 9:
                options = ["%f" if len(text) <= 6 else "%n", *options]
        for d in options:
            slot = _SLOT.get(d)
            if slot is None:  # a literal word
                walk(i + 1, [*parts, d], used, last, seps + text)
                continue
            slots = frozenset(slot.split())
            if slots & used:
                continue
            if d == "%M" and not (last in ("%H", "%I") and seps in (":", ".")):
                continue
            if d == "%S" and not (last == "%M" and seps in (":", ".")):
                continue
            if d in ("%H", "%I") and i + 2 < len(tokens) and tokens[i + 1][1] not in (":", "."):
                continue  # an hour is followed by its minutes
            walk(i + 1, [*parts, d], used | slots, d if kind == "digits" else last, "")

    walk(0, [], frozenset(), "", "")
    return [f for f in dict.fromkeys(out) if ("%I" in f) == ("%p" in f)]


def _complete(used: frozenset[str]) -> bool:
    return {"month", "day", "hour", "minute"} <= used


def _precision(fmt: str, values: Sequence[str]) -> int:
    if "%n" in fmt:
        return 9
    if "%f" in fmt:
        # The longest fraction seen: %f reads 1 to 6 digits.
        longest = max(
            (len(m) for v in values for m in re.findall(r"\d{2}[.,:](\d{1,6})(?!\d)", v)),
            default=3,
        )
        return min(max(longest, 1), 6)
    return 0 if "%S" in fmt else -2


def _values(samples: Sequence[Mapping[str, str]], fields: Sequence[str]) -> list[str]:
    out = []
    for s in samples:
        out.append(" ".join(" ".join((s.get(f) or "").split()) for f in fields).strip())
    return out


def _timeish(values: Sequence[str]) -> bool:
    good = 0
    for v in values:
        if (
            v
            and len(v) <= MAX_TIME_CHARS
            and (
                any(c.isdigit() for c in v)
                or any(w.lower()[:3] in _MONTHS for w in re.findall(r"[A-Za-z]+", v))
            )
        ):
            good += 1
    return bool(values) and good >= MIN_PARSED * len(values)


def _try(
    con: duckdb.DuckDBPyConnection, values: Sequence[str], formats: Sequence[str]
) -> list[tuple[int, float | None]]:
    """For each format: how many values it parses, and the spread of their times (seconds)."""
    if not formats:
        return []
    cols = []
    for f in formats:
        has_year = any(y in f for y in ("%Y", "%y"))
        v = "v" if has_year else "'2000 ' || v"
        fmt = f if has_year else "%Y " + f
        t = f"try_strptime({v}, '{fmt.replace(chr(39), chr(39) * 2)}')::TIMESTAMPTZ"
        cols.append(f"count({t}), epoch(max({t})) - epoch(min({t}))")
    rows = con.execute(
        f"SELECT {', '.join(cols)} FROM (SELECT unnest($v) AS v)", {"v": list(values)}
    ).fetchall()[0]
    return [(int(rows[2 * i]), rows[2 * i + 1]) for i in range(len(formats))]


def _try_epoch(values: Sequence[str]) -> TimeReading | None:
    if not values or not all(_EPOCH.fullmatch(v) for v in values):
        return None
    whole = {len(v.split(".")[0]) for v in values}
    if len(whole) != 1:
        return None
    n = whole.pop()
    digits = {9: 0, 10: 0, 12: 3, 13: 3, 15: 6, 16: 6, 18: 9, 19: 9}.get(n)
    if digits is None or (digits and any("." in v for v in values)):
        return None
    seconds = [float(v) / 10**digits for v in values]
    # 1990 .. 2100: a 10-digit id is not a time.
    if min(seconds) < 631152000 or max(seconds) > 4102444800:
        return None
    frac = max((len(v.split(".")[1]) for v in values if "." in v), default=0)
    return TimeReading(
        (),
        epoch_digits=digits,
        precision=max(digits, frac),
        has_year=True,
        example=values[0],
        span=max(seconds) - min(seconds),
    )


def _conventional(fmt: str) -> bool:
    """Month before day, except in a dotted date with the year last (``03.06.2005``)."""
    m, d = fmt.find("%m"), fmt.find("%d")
    if m < 0 or d < 0:
        return True
    year_last = max(fmt.find("%Y"), fmt.find("%y")) > max(m, d)
    return (d < m) if (year_last and fmt[min(m, d) + 2 : min(m, d) + 3] == ".") else (m < d)


def _score(r: TimeReading) -> tuple[bool, float, int, bool, float, bool, int]:
    return (
        r.span <= 366 * 86400,
        sum(1 for f in r.fields if _TIME_NAME.search(f)) / max(len(r.fields), 1),
        r.precision,
        r.has_year,
        -r.span,
        all(_conventional(f) for f in r.formats),
        -len(r.fields),
    )


def infer_time(
    con: duckdb.DuckDBPyConnection,
    fields: Sequence[str],
    samples: Sequence[Mapping[str, str]],
    *,
    formats: Mapping[str, str] | str | None = None,
) -> TimeReading | None:
    """The best reading of the time in ``samples`` (the header fields of sampled lines, in
    the layout's order ``fields``), or None when nothing parses nearly all of them.

    ``formats``: the user's ``--time-format``: one strptime format for whichever fields it
    parses, or a format per field (``{"Time": "%H:%M:%S"}``; ``epoch``, ``epoch_ms``,
    ``epoch_us``, ``epoch_ns`` for counts since the epoch).
    """
    if not samples:
        return None
    if isinstance(formats, Mapping) and formats:
        return _given(con, fields, samples, formats)
    candidates = [f for f in fields if _timeish(_values(samples, [f]))]
    best: list[TimeReading] = []
    for size in range(1, MAX_FIELDS + 1):
        for combo in itertools.combinations(candidates, size):
            values = _values(samples, combo)
            if sum(1 for v in values if v) < MIN_PARSED * len(values):
                continue
            best.extend(
                _readings(con, combo, values, formats if isinstance(formats, str) else None)
            )
    eligible = [r for r in best if r.parsed >= MIN_PARSED]
    if not eligible and formats is not None:
        # The user's format: the fields it reads best, so the refusal can say how well.
        eligible = [max(best, key=lambda r: r.parsed)]
    if not eligible or not eligible[0].parsed:
        return None
    chosen = max(eligible, key=_score)
    if chosen.parsed < 1 and chosen.epoch_digits is None:
        # Other forms of the same fields may read the rest (a fraction on some lines only).
        others = tuple(
            f
            for r in sorted(best, key=_score, reverse=True)
            if r.fields == chosen.fields and r.has_year == chosen.has_year
            for f in r.formats
            if f not in chosen.formats
        )[:3]
        if others:
            values = _values(samples, chosen.fields)
            both = chosen.formats + others
            count = _try_list(con, values, both, chosen.has_year)
            if count > chosen.parsed * len(values):
                chosen = replace(chosen, formats=both, parsed=count / len(values))
    return chosen


def _try_list(
    con: duckdb.DuckDBPyConnection, values: Sequence[str], formats: Sequence[str], has_year: bool
) -> int:
    v = "v" if has_year else "'2000 ' || v"
    fmts = _sql_list(formats if has_year else tuple("%Y " + f for f in formats))
    rows = con.execute(
        f"SELECT count(try_strptime({v}, {fmts})) FROM (SELECT unnest($v) AS v)",
        {"v": list(values)},
    ).fetchall()
    return int(rows[0][0])


def _readings(
    con: duckdb.DuckDBPyConnection,
    combo: Sequence[str],
    values: Sequence[str],
    given: str | None,
) -> list[TimeReading]:
    n = len(values)
    found: list[TimeReading] = []
    if given is None and len(combo) == 1:
        epoch = _try_epoch(values)
        if epoch is not None:
            found.append(
                TimeReading(
                    tuple(combo),
                    epoch_digits=epoch.epoch_digits,
                    precision=epoch.precision,
                    example=epoch.example,
                    span=epoch.span,
                )
            )
    if given is not None:
        forms = [given]
    else:
        # One value of each shape (digits as 0): a fraction on some lines only, a
        # one-digit day ... each get their readings.
        shapes: dict[str, str] = {}
        for v in values:
            if v:
                shapes.setdefault(re.sub(r"\d", "0", v), v)
        distinct = list(shapes.values())[:4]
        forms = list(dict.fromkeys(f for v in distinct for f in candidate_formats(v)))
    tried = _try(con, values, forms)
    ok = [
        (f, count, spread)
        for f, (count, spread) in zip(forms, tried, strict=True)
        if count and spread is not None
    ]
    for f, count, spread in ok:
        has_year = any(y in f for y in ("%Y", "%y"))
        parsed = count / n
        found.append(
            TimeReading(
                tuple(combo),
                (f,),
                precision=_precision(f, values),
                has_year=has_year,
                parsed=parsed,
                example=values[0],
                span=float(spread),
            )
        )
    return found


def _given(
    con: duckdb.DuckDBPyConnection,
    fields: Sequence[str],
    samples: Sequence[Mapping[str, str]],
    formats: Mapping[str, str],
) -> TimeReading | None:
    unknown = [f for f in formats if f not in fields]
    if unknown:
        raise ValueError(
            f"--time-format names the field {unknown[0]!r}, which the log format does not have "
            f"(its fields: {', '.join(fields)})"
        )
    combo = tuple(f for f in fields if f in formats)
    values = _values(samples, combo)
    epochs = {"epoch": 0, "epoch_s": 0, "epoch_ms": 3, "epoch_us": 6, "epoch_ns": 9}
    if len(combo) == 1 and formats[combo[0]] in epochs:
        digits = epochs[formats[combo[0]]]
        return TimeReading(combo, epoch_digits=digits, precision=digits, example=values[0])
    fmt = " ".join(formats[f] for f in combo)
    count, spread = _try(con, values, [fmt])[0]
    return TimeReading(
        combo,
        (fmt,),
        precision=_precision(fmt, values),
        has_year=any(y in fmt for y in ("%Y", "%y")),
        parsed=count / max(len(values), 1),
        example=values[0] if values else "",
        span=float(spread or 0.0),
    )


def parse_time_options(items: str | Sequence[str] | None) -> dict[str, str] | str | None:
    """``--time-format`` values → one format for the time fields (``'%d.%m.%Y %H:%M'``), or
    a format per field (``Date=%Y.%m.%d``, repeatable)."""
    if items is None:
        return None
    if isinstance(items, str):
        items = [items]
    per_field: dict[str, str] = {}
    whole: list[str] = []
    for item in items:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.+)", item, re.DOTALL)
        if m:
            per_field[m.group(1)] = m.group(2)
        else:
            whole.append(item)
    if per_field and whole:
        raise ValueError(
            "--time-format: give either one format for the time fields or FIELD=FORMAT per "
            f"field, not both ({whole[0]!r})"
        )
    if len(whole) > 1:
        raise ValueError("--time-format: one format for the time fields, or FIELD=FORMAT each")
    return per_field or (whole[0] if whole else None)
