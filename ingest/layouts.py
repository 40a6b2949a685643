"""A text log's header layout, detected from its first lines (``--format text`` without
``--log-format``).

Every layout of :data:`CATALOGUE` (the 16 formats of logparser's benchmark, syslog RFC 3164
and 5424, nginx/Apache access and error, log4j/logback, Python logging, Go, klog, journald,
Kubernetes CRI, ...) and the one :func:`learn` builds from the sample (the time span at the
head of the lines, then a level and a component when the lines have them) are scored on the
sampled lines:

1. the share of lines it matches (in steps of 5 %: a few continuation lines do not count);
2. whether its ``Level`` field holds levels (a layout without one scores in between: Linux's
   benchmark format names the host "Level");
3. whether its header fields hold one word each (a field that swallowed several words is a
   misaligned layout);
4. whether its fields named as time hold time-like text;
5. how much literal text it pins (``sshd[...]:`` beats a run of bare fields);

and the best one whose time fields (named as time: Date, Time, Month, Day, Timestamp ...)
give a time by :func:`~faultcast.ingest.timeinfer.infer_time` on the sample is chosen.  The
chosen layout is printed, so ``--log-format`` can pin it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import duckdb
from faultcast.ingest.schema import normalise_level
from faultcast.ingest.text import LogFormat
from faultcast.ingest.timeinfer import TimeReading, _score, infer_time

__all__ = ["CATALOGUE", "LOGPARSER_FORMATS", "Detected", "Layout", "detect", "learn"]

#: The log formats of logparser's benchmark settings (logparser3, ``*/benchmark.py``).
LOGPARSER_FORMATS: Final[dict[str, str]] = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}


@dataclass(frozen=True)
class Layout:
    name: str
    log_format: str


#: Known layouts: logparser's benchmark formats, then common framework defaults.
CATALOGUE: Final[tuple[Layout, ...]] = (
    *(Layout(f"logparser:{k}", v) for k, v in LOGPARSER_FORMATS.items()),
    Layout("syslog-rfc3164", r"<Month> <Day> <Time> <Host> <Component>(\[<Pid>\])?: <Content>"),
    Layout(
        "syslog-rfc5424",
        "<<Pri:[0-9]{1,3}>>1 <Timestamp> <Host> <App> <Pid> <MsgId> <Content>",
    ),
    Layout("journald-iso", r"<Timestamp> <Host> <Component>(\[<Pid>\])?: <Content>"),
    Layout(
        "access-log",
        r'<Client> <Ident> <User> \[<Timestamp>\] "<Content>" <Status:[0-9]{3}> <Bytes>(?: .*)?',
    ),
    Layout("nginx-error", r"<Date> <Time> \[<Level>\] <Pid>#<Tid>: <Content>"),
    Layout(
        "apache-error",
        r"\[<Time>\] \[<Module>:<Level>\] \[pid <Pid>(?::tid <Tid>)?\] <Content>",
    ),
    Layout("log4j", r"<Date> <Time> <Level> \[<Thread>\] <Component> - <Content>"),
    Layout("log4j-plain", r"<Date> <Time> <Level> <Component> - <Content>"),
    Layout("logback", r"<Time> \[<Thread>\] <Level> <Component> - <Content>"),
    Layout(
        "spring-boot",
        r"<Timestamp> <Level> <Pid> --- \[<Thread>\] <Component>\s*: <Content>",
    ),
    Layout("python-logging", "<Date> <Time> - <Component> - <Level> - <Content>"),
    Layout("go-log", "<Date> <Time> <Content>"),
    Layout("klog", r"<Level:[IWEF]><Date> <Time> <Pid> <Source>\] <Content>"),
    Layout("cri", "<Timestamp> <Stream:stdout|stderr> <Tag:[FP]> <Content>"),
    Layout("logcat-brief", r"<Date> <Time> <Level:[VDIWEF]>/<Component>\(<Pid>\): <Content>"),
    Layout("iso-level", r"<Timestamp> <Level> <Content>"),
    Layout("iso-bracket-level", r"<Timestamp> \[<Level>\] <Content>"),
)

#: Field names a time may be read from (other fields hold pids, ids, hosts ...).
TIME_NAMES: Final[frozenset[str]] = frozenset(
    {"date", "time", "day", "month", "year", "timestamp", "datetime"}
)
_TIMELIKE = re.compile(
    r"(?=.*(\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))"
    r"(?:[\d\s:.,/+\-TZ\[\]]|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed"
    r"|thu|fri|sat|sun)[a-z]*|[ap]m|utc|gmt)+",
    re.IGNORECASE,
)
#: Lines sampled from a file's head.
SAMPLE_LINES: Final[int] = 200


@dataclass(frozen=True)
class Detected:
    """The layout chosen for a file and how its time is read."""

    name: str
    log_format: LogFormat
    time: TimeReading
    matched: float

    def to_dict(self) -> dict[str, object]:
        return {
            "layout": self.name,
            "log_format": self.log_format.text,
            "time": self.time.to_dict(),
            "matched": round(self.matched, 3),
        }

    def describe(self) -> str:
        return (
            f"layout {self.name}: --log-format '{self.log_format.text}' "
            f"(time: {self.time.describe()})"
        )


def sample_lines(head: bytes, n: int = SAMPLE_LINES) -> list[str]:
    """The first ``n`` non-blank lines of ``head`` (an unfinished last line left out)."""
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if not text.endswith("\n") and len(lines) > 1:
        lines = lines[:-1]
    return [line.strip() for line in lines if line.strip()][:n]


def _split_all(
    con: duckdb.DuckDBPyConnection, fmt: LogFormat, lines: Sequence[str]
) -> list[dict[str, str]]:
    """The fields of each line that matches ``fmt``, split by DuckDB's RE2 (linear time:
    Python's backtracking takes minutes on long lines with many lazy fields)."""
    names = "[" + ", ".join("'" + g + "'" for g in fmt.groups) + "]"
    rx = fmt.regex.replace("'", "''")
    rows = con.execute(
        f"SELECT regexp_extract(v, '{rx}', {names}) FROM (SELECT unnest($v) AS v) "
        f"WHERE regexp_matches(v, '{rx}')",
        {"v": list(lines)},
    ).fetchall()
    return [{f: r[0][f] for f in fmt.fields} for r in rows]


def _literal_chars(text: str) -> int:
    """Characters a format pins outside its fields and optional parts."""
    literal = re.sub(r"<[^<>]+>", "", text)
    literal = re.sub(r"\((?:[^()]|\\[()])*\)[?*]", "", literal)  # optional parts
    literal = re.sub(r"(?<!\\)\[[^\]]*\](\{[0-9,]*\})?", "", literal)  # classes
    literal = re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)[()?*+|^$]|\s", "", literal))
    return len(literal)


def _rank(fmt: LogFormat, rows: Sequence[Mapping[str, str]], n: int) -> tuple[float, ...]:
    rate = len(rows) / n if n else 0.0
    level_field = next((f for f in fmt.fields if f.lower() in ("level", "severity")), None)
    if level_field is None:
        level = 0.5
    else:
        level = sum(1 for r in rows if normalise_level(r[level_field])) / max(len(rows), 1)
    message = fmt.message_field
    header = [f for f in fmt.fields if f != message and f.lower() not in TIME_NAMES]
    clean = sum(1 for r in rows if not any(re.search(r"\s", r[f] or "") for f in header)) / max(
        len(rows), 1
    )
    # Fields named as time that hold time-like text (digits, separators, month/day names).
    named = [f for f in fmt.fields if f.lower() in TIME_NAMES]
    timelike = sum(1 for r in rows for f in named if _TIMELIKE.fullmatch(r[f] or "")) / max(
        len(rows) * len(named), 1
    )
    return (
        int(rate * 20) / 20,
        round(level, 1),
        round(clean, 1),
        round(timelike, 1),
        _literal_chars(fmt.text),
    )


def learn(lines: Sequence[str], con: duckdb.DuckDBPyConnection) -> str | None:
    """A log format for ``lines`` built from what they share: the time at their head (in
    brackets or the first one to four words), then a level within the next words (bracketed
    or not), then a ``component:`` word, then the message.

    >>> learn(["2026-11-30 10:00:01 WARN db: slow", "2026-11-30 10:00:02 INFO db: ok"],
    ...       duckdb.connect())
    '<Date> <Time> <Level> <Component>: <Content>'
    """
    if not lines:
        return None
    if all(line.startswith("[") and "]" in line for line in lines):
        heads = [{"Time": line[1 : line.index("]")]} for line in lines]
        prefix, rests = r"\[<Time>\] ", [line[line.index("]") + 1 :].split() for line in lines]
        if infer_time(con, ["Time"], heads) is None:
            return None
    else:
        words = [line.split() for line in lines]
        best: tuple[tuple[object, ...], int] | None = None
        for k in range(1, 5):
            names = _time_names(k)
            heads = [dict(zip(names, w[:k], strict=False)) for w in words]
            reading = infer_time(con, names, heads)
            if reading is not None and len(reading.fields) == k:
                key = (_score(reading), -k)
                if best is None or key > best[0]:
                    best = (key, k)
        if best is None:
            return None
        k = best[1]
        prefix = " ".join(f"<{n}>" for n in _time_names(k)) + " "
        rests = [w[k:] for w in words]
    parts: list[str] = []
    start = 0
    for j in range(3):
        col = [r[j] if len(r) > j else "" for r in rests]
        bare = [c.strip("[]:") for c in col]
        if sum(1 for c in bare if normalise_level(c)) >= 0.8 * len(col) and not all(
            c.isdigit() for c in bare
        ):
            parts = [f"<Field{i + 1}>" for i in range(j)]
            bracketed = all(c.startswith("[") and c.endswith("]") for c in col)
            parts.append(r"\[<Level>\]" if bracketed else "<Level>")
            start = j + 1
            break
    col = [r[start] if len(r) > start else "" for r in rests]
    if sum(1 for c in col if len(c) > 1 and c.endswith(":")) >= 0.9 * len(col):
        parts.append("<Component>:")
    parts.append("<Content>")
    return prefix + " ".join(parts)


def _time_names(k: int) -> list[str]:
    return {1: ["Time"], 2: ["Date", "Time"], 3: ["Month", "Day", "Time"]}.get(
        k, [f"Time{i}" for i in range(1, k + 1)]
    )


def detect(
    con: duckdb.DuckDBPyConnection,
    lines: Sequence[str],
    *,
    time_formats: Mapping[str, str] | str | None = None,
) -> Detected | None:
    """The best layout for the sampled ``lines`` (see the module docstring), None when no
    layout both matches most lines and gives them a time."""
    if not lines:
        return None
    candidates: list[tuple[tuple[float, ...], Layout, LogFormat, list[dict[str, str]]]] = []
    layouts = list(CATALOGUE)
    learned = learn(lines, con)
    if learned is not None:
        layouts.append(Layout("learned", learned))
    for layout in layouts:
        fmt = LogFormat.parse(layout.log_format)
        rows = _split_all(con, fmt, lines)
        if len(rows) < 0.5 * len(lines):
            continue
        candidates.append((_rank(fmt, rows, len(lines)), layout, fmt, rows))
    candidates.sort(key=lambda c: c[0], reverse=True)
    # Rank by rank: among layouts that rank the same, the one whose time uses most of its
    # time fields (HDFS's "<Date> <Time> <Pid>" read as Linux's "<Month> <Date> <Time>"
    # leaves its Time unused), then the better time.
    for _, group in itertools.groupby(candidates, key=lambda c: c[0]):
        found: list[tuple[tuple[object, ...], Detected]] = []
        for _, layout, fmt, rows in group:
            names = [f for f in fmt.fields if f.lower() in TIME_NAMES or f.startswith("Time")]
            if isinstance(time_formats, Mapping) and not set(time_formats) <= set(fmt.fields):
                continue
            reading = infer_time(con, names, rows, formats=time_formats)
            if reading is None or reading.parsed < 0.9:
                continue
            unused = len(set(names) - set(reading.fields))
            filled = sum(1 for f in fmt.fields if sum(1 for r in rows if r[f]) * 2 > len(rows))
            detected = Detected(layout.name, fmt, reading, len(rows) / len(lines))
            found.append(((-unused, _score(reading), filled), detected))
        if found:
            return max(found, key=lambda x: x[0])[1]
    return None
