"""What the commands share: options, output (one JSON object, tables), errors, progress, logging.

Nothing heavy is imported here: rich and structlog are imported by the functions that use
them, when a command runs, so ``faultcast --help`` stays quick.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

__all__ = [
    "CategoryOption",
    "DbOption",
    "HorizonOption",
    "JsonOption",
    "LevelOption",
    "ServiceOption",
    "SinceOption",
    "UntilOption",
    "VerboseOption",
    "cell",
    "check_choice",
    "check_duration",
    "check_file",
    "check_ingest_options",
    "check_levels",
    "check_limit",
    "check_number",
    "check_regex",
    "check_time",
    "check_time_format",
    "command",
    "error_text",
    "configure_logging",
    "help_text",
    "emit",
    "emit_frame",
    "err",
    "fail",
    "fmt_pct",
    "out",
    "printable",
    "progress_bar",
    "report_table",
    "safe",
]

DEFAULT_DB = Path("faultcast.duckdb")

DbOption = Annotated[
    Path,
    typer.Option(
        "--db", help="The faultcast store (a DuckDB file).", envvar="FAULTCAST_DB", metavar="PATH"
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout.", metavar="")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log progress to stderr.", metavar="")
]
ServiceOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these services (repeatable).", metavar="SERVICE"),
]
LevelOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these levels (repeatable): debug ... critical.", metavar="LEVEL"),
]
CategoryOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these categories (repeatable).", metavar="CATEGORY"),
]
SinceOption = Annotated[str | None, typer.Option(help="From this time (ISO 8601).", metavar="TIME")]
UntilOption = Annotated[
    str | None, typer.Option(help="Before this time (ISO 8601).", metavar="TIME")
]
HorizonOption = Annotated[
    str,
    typer.Option(
        "--horizon", help="How far ahead a failure counts (e.g. 15m, 1h).", metavar="DURATION"
    ),
]


# Text rich would read as a markup tag ("connect([shards])"): what rich.markup.escape escapes.
_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")

F = Callable[..., Any]


def help_text(doc: str | None) -> str | None:
    """A command's docstring as help: each paragraph on one line (the terminal wraps it, not
    the source), and brackets that rich would take for markup escaped.

    >>> help_text("Do a thing.\\n\\nIt reads [shards] and\\n    wraps here.")
    'Do a thing.\\n\\nIt reads \\\\[shards] and wraps here.'
    """
    if doc is None:
        return None
    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n")]
    return _MARKUP_TAG.sub(r"\1\1\\\2", "\n\n".join(paragraphs))


def command(app: typer.Typer, name: str | None = None) -> Callable[[F], F]:
    """``app.command(name)`` with the function's docstring as :func:`help_text`; an error
    the command did not report itself (bad input, a store or DuckDB error) is reported by
    :func:`fail` in one line, never as a traceback or a DuckDB message quoting SQL."""

    def register(function: F) -> F:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as e:
                if not _expected(e):  # typer.Exit, usage errors and bugs go on as they are
                    raise
                fail(e)

        app.command(name, help=help_text(function.__doc__))(guarded)
        return function

    return register


@functools.cache
def err() -> Console:
    """The console for logs, progress and messages (stderr)."""
    from rich.console import Console

    return Console(stderr=True)


@functools.cache
def out() -> Console:
    """The console for tables (stdout); piped output is not cut to 80 columns."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (a test runner may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(verbose: bool) -> None:
    """Log to stderr: INFO and up with ``--verbose``, else warnings and errors only."""
    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=err().is_terminal),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if verbose else logging.WARNING
        ),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def emit(payload: dict[str, Any]) -> None:
    """Print ``payload`` as one JSON object on one line of stdout."""
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def emit_frame(name: str, df: Any) -> None:
    """A DataFrame as ``{name: [rows...], "count": n}`` (times in ISO 8601)."""
    emit({name: json.loads(df.to_json(orient="records", date_format="iso")), "count": len(df)})


# Where DuckDB's message starts quoting the query ("LINE 1: SELECT ...", with a caret line).
_SQL_CONTEXT = re.compile(r"\n\s*LINE \d+:.*", re.DOTALL)


def error_text(error: BaseException) -> str:
    """What to tell the user about ``error``: its message without the SQL DuckDB quotes, with
    control characters escaped (messages can hold stored or given text)."""
    from faultcast.analytics._display import printable

    text = _SQL_CONTEXT.sub("", str(error)).strip() or type(error).__name__
    shown: str = "\n".join(printable(line) for line in text.split("\n"))  # lines kept
    return shown


def fail(error: Exception) -> NoReturn:
    """Say what went wrong on stderr and exit 1."""
    # Plain text, unwrapped: messages hold paths and bracketed text that must stay intact.
    sys.stderr.write(f"error: {error_text(error)}\n")
    raise typer.Exit(1)


def _expected(error: BaseException) -> bool:
    """An error a command reports in one line (bad input, a store problem), not a bug."""
    names = {c.__name__ for c in type(error).__mro__}
    module = type(error).__module__
    return (
        "FaultcastError" in names
        or module.split(".")[0] in ("duckdb", "_duckdb")
        or isinstance(error, (ValueError, OSError))
    )


def progress_bar(enabled: bool) -> Progress:
    """A transient progress bar on stderr (a no-op when not ``enabled``)."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err(),
        disable=not enabled,
        transient=True,
    )


def report_table(report: dict[str, Any]) -> Table:
    """An ingest report as a table."""
    from rich.table import Table

    table = Table(title="ingest", show_header=False, title_justify="left")
    for key in ("read", "stored", "duplicates", "quarantined"):
        table.add_row(key, f"{report[key]:,}")
    if report.get("continuations"):
        table.add_row("continuations", f"{report['continuations']:,}")
    table.add_row("seconds", f"{report['seconds']:.2f}")
    table.add_row("events/s", f"{report['events_per_second']:,.0f}")
    for reason, count in report["quarantine_reasons"].items():
        table.add_row(f"  quarantined: {reason}", f"{count:,}")
    for rule, count in report["redactions"].items():
        table.add_row(f"  redacted: {rule}", f"{count:,}")
    return table


def fmt_pct(value: Any) -> str:
    """A metric to 3 decimals, ``-`` when missing."""
    return "-" if value is None else f"{value:.3f}"


def printable(value: Any) -> str:
    """Stored text for plain output: control and bidi characters escaped
    (:func:`faultcast.analytics.printable`)."""
    from faultcast.analytics._display import printable as escape

    shown: str = escape(value)
    return shown


def safe(value: Any) -> str:
    """Stored text inside rich markup (``out().print(f"... {safe(x)}")``, table cells):
    :func:`printable`, and brackets that rich would read as markup escaped."""
    from rich.markup import escape

    return escape(printable(value))


def cell(value: Any, time_format: str | None = None, max_chars: int | None = None) -> str:
    """A table cell for a stored value: missing values (None, NaN, NaT, pd.NA) are blank;
    text is cut to ``max_chars``, then shown with control characters and markup escaped."""
    import pandas as pd

    if value is None or (not isinstance(value, list | dict) and bool(pd.isna(value))):
        return ""
    if time_format is not None:
        return str(value.strftime(time_format))
    text = str(value)
    return safe(text if max_chars is None else text[:max_chars])


# ---------------------------------------------------------------------------- validation
# Each check runs before a command opens the store, and its error names the option.


def check_time(value: str | None, option: str) -> None:
    """``value`` is ISO 8601 time or a duration (``--since 1h``)."""
    if value is None:
        return
    from datetime import UTC, datetime

    from faultcast.ingest.durations import resolve_time

    resolve_time(value, datetime.now(UTC), option)


def check_duration(value: str | None, option: str) -> float | None:
    """Seconds in ``value`` (``15m``, ``1h``); a clear error naming ``option`` otherwise."""
    if value is None:
        return None
    from faultcast.ingest.durations import parse_duration

    seconds: float = parse_duration(value, option)
    return seconds


def check_number(
    value: float | None,
    option: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    """``value`` is finite and within ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    import math

    if value is None:
        return
    if not math.isfinite(value):
        raise ValueError(f"{option} must be a finite number, not {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(
            f"{option} must be {'above' if low_open else 'at least'} {low:g}, not {value:g}"
        )
    if high is not None and value > high:
        raise ValueError(f"{option} must be at most {high:g}, not {value:g}")


def check_limit(value: int | None, option: str = "--limit") -> None:
    """A row limit: 0 or more."""
    if value is not None and value < 0:
        raise ValueError(f"{option} must be 0 or more, not {value}")


def check_choice(value: str | None, option: str, choices: tuple[str, ...]) -> None:
    """``value`` is one of ``choices``."""
    if value is not None and value not in choices:
        raise ValueError(f"{option} {printable(repr(value))} is not one of: {', '.join(choices)}")


def check_levels(values: list[str] | None, option: str = "--level") -> None:
    """Each value is a level (any case): debug, info, warning, error, critical."""
    from faultcast.ingest.schema import LEVELS

    for value in values or ():
        if value.lower() not in LEVELS:
            raise ValueError(
                f"{option} {printable(repr(value))} is not a level: use {', '.join(LEVELS)}"
            )


def check_regex(value: str | None, option: str, *, duckdb: bool = False) -> None:
    """``value`` is a regular expression for Python's ``re`` and, with ``duckdb``, for the
    RE2 engine DuckDB runs it with (no lookaround, no backreferences)."""
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(
            f"{option} {printable(repr(value))} is not a regular expression: {e}"
        ) from None
    if duckdb:
        import duckdb as db

        with db.connect(":memory:") as con:
            try:
                con.execute("SELECT regexp_matches('', ?)", [value]).fetchall()
            except db.Error as e:
                raise ValueError(
                    f"{option} {printable(repr(value))} is not a regular expression DuckDB (RE2) "
                    f"runs: {error_text(e).removeprefix('Invalid Input Error: ')} (lookarounds "
                    "and backreferences are not supported)"
                ) from None


def check_time_format(value: str | None, option: str = "--time-format") -> None:
    """``value`` is a strptime format DuckDB understands."""
    if value is None:
        return
    import duckdb as db

    with db.connect(":memory:") as con:
        try:
            con.execute("SELECT try_strptime('', ?)", [value]).fetchall()
        except db.Error as e:
            raise ValueError(
                f"{option} {printable(repr(value))} is not a strptime format: "
                f"{error_text(e).removeprefix('Invalid Input Error: ')}"
            ) from None


def check_ingest_options(
    format: str,
    log_format: str | None,
    time_format: str | None,
    year: int | None,
    session_key: str | None,
    redact: list[str] | None,
    mask: list[str] | None,
    poll: float | None,
) -> None:
    """The options of ``ingest``, checked before the store is opened."""
    check_choice(format, "--format", ("auto", "json", "text"))
    if log_format is not None and not log_format.strip():
        raise ValueError("--log-format is empty: give the header, e.g. '<Date> <Time> <Content>'")
    check_time_format(time_format)
    check_number(year, "--year", low=1, high=9999)
    if log_format is not None:  # a text log's session key is a regex DuckDB runs
        check_regex(session_key, "--session-key", duckdb=True)
    for pattern in redact or ():
        check_regex(pattern, "--redact")
    for pattern in mask or ():
        check_regex(pattern, "--mask", duckdb=True)  # template masks run in DuckDB
    check_number(poll, "--poll", low=0, low_open=True)


def check_file(value: Path | None, option: str) -> None:
    """``value`` names an existing regular file that can be read."""
    if value is None:
        return
    try:
        if not value.is_file():
            what = "a directory" if value.is_dir() else "not found"
            raise ValueError(f"{option} {printable(str(value))}: {what}; give a file")
        with open(value, "rb"):
            pass
    except OSError as e:
        raise ValueError(f"{option} {printable(str(value))}: {e.strerror or e}") from None
