"""Differential test: every log format of logparser's benchmark settings splits generated lines
exactly as logparser's own regex splits them (logparser3, a development dependency)."""

from __future__ import annotations

import ast
import random
import re
import warnings
from pathlib import Path

import duckdb
import pytest
from faultcast.ingest.layouts import LOGPARSER_FORMATS
from faultcast.ingest.text import LogFormat

logparser = pytest.importorskip("logparser.Drain", reason="logparser3 (dev extra) not installed")

LINES_PER_FORMAT = 300
_ALPHABET = "abcXYZ019 _-.:,;/[]()@|=$#*'\"\t"


def _benchmark_formats() -> dict[str, str]:
    """The format strings of logparser3's benchmark settings (read, not run: the script runs
    a benchmark when imported)."""
    path = Path(logparser.__file__).parent / "benchmark.py"
    with warnings.catch_warnings():  # its regexes are written in plain strings ('\\[')
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "benchmark_settings" for t in node.targets
        ):
            settings = ast.literal_eval(node.value)
            return {k: v["log_format"] for k, v in settings.items()}
    raise AssertionError("no benchmark_settings in logparser's Drain benchmark")


def test_our_catalogue_holds_logparsers_formats() -> None:
    assert _benchmark_formats() == LOGPARSER_FORMATS
    assert len(LOGPARSER_FORMATS) == 16


def _render(fmt: str, rng: random.Random) -> str:
    """A line in ``fmt``: fields random text, spaces 1-3 blanks or a tab, optional parts
    present or not."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "<":
            j = fmt.index(">", i)
            n = rng.choice([0, 1, 1, 2, 3, 5, 8])
            out.append("".join(rng.choice(_ALPHABET) for _ in range(n)))
            i = j + 1
        elif c == "\\":
            out.append(fmt[i + 1])
            i += 2
        elif c == "(":
            depth, j = 1, i + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(fmt[j], 0) if fmt[j - 1] != "\\" else 0
                j += 1
            inner = fmt[i + 1 : j - 1]
            if rng.random() < 0.6:
                out.append(_render(inner, rng))
            i = j + 1  # skip the "?"
        elif c == " ":
            while i < len(fmt) and fmt[i] == " ":
                i += 1
            out.append(rng.choice([" ", " ", "  ", "\t", "   "]))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _mutate(line: str, rng: random.Random) -> str:
    if not line or rng.random() < 0.7:
        return line
    k = rng.randrange(len(line))
    if rng.random() < 0.5:
        return line[:k] + line[k + 1 :]
    return line[:k] + rng.choice(_ALPHABET) + line[k:]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.parametrize("system", sorted(LOGPARSER_FORMATS))
def test_lines_split_exactly_as_logparser_splits_them(
    con: duckdb.DuckDBPyConnection, system: str
) -> None:
    text = LOGPARSER_FORMATS[system]
    parser = logparser.LogParser(log_format=text, indir=".", outdir=".")
    headers, theirs = parser.generate_logformat_regex(text)
    ours = LogFormat.parse(text)
    assert ours.regex == theirs.pattern and list(ours.fields) == headers
    rng = random.Random(f"faultcast-{system}")
    lines = [_mutate(_render(text, rng), rng) for _ in range(LINES_PER_FORMAT)]
    lines += ["", "   ", "x", " " + lines[0] + " \t"]
    expected = []
    for line in lines:
        m = theirs.search(line.strip())
        expected.append(None if m is None else tuple(m.group(h) for h in headers))
    # Our split: the SQL of the ingest (DuckDB's RE2 on the stripped line).
    names = "[" + ", ".join(f"'{g}'" for g in ours.groups) + "]"
    rx = ours.regex.replace("'", "''")
    stripped = "trim(v, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))"
    rows = con.execute(
        f"SELECT CASE WHEN regexp_matches({stripped}, '{rx}') "
        f"THEN regexp_extract({stripped}, '{rx}', {names}) END "
        "FROM (SELECT unnest($v) AS v, generate_subscripts($v, 1) AS i) ORDER BY i",
        {"v": lines},
    ).fetchall()
    got = [None if r[0] is None else tuple(r[0][f] or "" for f in ours.fields) for r in rows]
    # logparser gives None for a field of an optional part that is absent; DuckDB ''.
    expected = [None if e is None else tuple(x or "" for x in e) for e in expected]
    assert sum(e is not None for e in expected) > LINES_PER_FORMAT // 2
    mismatches = [(ln, e, g) for ln, e, g in zip(lines, expected, got, strict=True) if e != g]
    assert not mismatches, mismatches[:3]
    # And the Python split used in detection agrees.
    assert [
        ours.split(ln) and tuple(v or "" for v in ours.split(ln).values()) for ln in lines[:50]
    ] == [e for e in expected[:50]]
    assert re.compile(ours.regex)
