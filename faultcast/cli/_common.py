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
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

__all__ = [
    "CategoryOption",
    "DbOption",
    "HelpGroup",
    "HorizonOption",
    "JsonOption",
    "LevelOption",
    "LimitOption",
    "Metavar",
    "OldestFirstOption",
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
    "duration_option",
    "help_text",
    "emit",
    "emit_frame",
    "err",
    "fail",
    "fmt_pct",
    "nothing_found",
    "out",
    "printable",
    "parse_duration_option",
    "parse_time_option",
    "progress_bar",
    "report_table",
    "safe",
    "time_option",
]

DEFAULT_DB = Path("faultcast.duckdb")


class Metavar:
    """The placeholders ``--help`` shows for option values: what a person types, in words
    (never Typer's ``<str>``, ``<int>`` or ``<list[str]>``).  Give every option that takes a
    value one of these (or a word of its own in capitals) as ``metavar=``; a flag takes ``""``."""

    FILE = "FILE"
    PATH = "PATH"
    DURATION = "DURATION"
    #: A time bound: a duration before the latest event or an ISO 8601 time.
    WHEN = "DURATION|TIME"
    TIME = "TIME"
    LEVEL = "LEVEL"
    SERVICE = "SERVICE"
    CATEGORY = "CATEGORY"
    UNIT = "UNIT"
    COLUMN = "COLUMN"
    N = "N"
    NUMBER = "NUMBER"
    SECONDS = "SECONDS"
    BYTES = "BYTES"
    NAME = "NAME"
    ID = "ID"
    REGEX = "REGEX"
    URL = "URL"
    HOST = "HOST"
    PORT = "PORT"
    FLAG = ""


# ---------------------------------------------------------------------------- durations
# The one parser of time and duration options: every command's --since/--until/--window/...
# goes through ingest/durations.py here, as the command line is parsed, so a mistake is
# reported in one line naming the option ("error: --since ...", exit 1) before any store is
# opened, whichever command it is.


def parse_time_option(value: Any, option: str = "--since") -> Any:
    """Check a time bound as given on the command line: a duration before the latest event
    (``1h``, ``30m``, ``2d``) or an ISO 8601 time; the text is returned as given (stripped)
    for the facade to resolve against the store.

    >>> parse_time_option(" 1h "), parse_time_option("2026-01-01T12:00Z")
    ('1h', '2026-01-01T12:00Z')
    >>> parse_time_option("yesterday")
    Traceback (most recent call last):
    ...
    ValueError: --since 'yesterday' is neither a duration before the latest event (30s, 15m, 1h, 2d) nor an ISO 8601 time (2026-01-01T12:00:00Z)
    """
    if value is None or not isinstance(value, str):
        return value
    from datetime import UTC, datetime

    from faultcast.ingest.durations import is_duration, resolve_time

    text = value.strip()
    try:
        resolve_time(text, datetime.now(UTC), option)
    except ValueError:
        if is_duration(text):  # 0s, 0.0h: a duration that is not positive
            raise ValueError(
                f"{option} {printable(repr(value))} is not a positive duration (30s, 15m, 1h, 2d)"
            ) from None
        raise ValueError(
            f"{option} {printable(repr(value))} is neither a duration before the latest event "
            "(30s, 15m, 1h, 2d) nor an ISO 8601 time (2026-01-01T12:00:00Z)"
        ) from None
    return text


def parse_duration_option(value: Any, option: str = "--window") -> Any:
    """Check a duration as given on the command line (``30s``, ``15m``, ``1h``, ``2d``,
    ``1w``; positive); the text is returned as given (stripped).

    >>> parse_duration_option("15m")
    '15m'
    >>> parse_duration_option("soon")
    Traceback (most recent call last):
    ...
    ValueError: --window 'soon' is not a duration: use e.g. 30s, 15m, 1h, 2d
    """
    if value is None or not isinstance(value, str):
        return value
    from faultcast.ingest.durations import DURATION_RE, parse_duration

    text = value.strip()
    if not DURATION_RE.match(text):
        raise ValueError(
            f"{option} {printable(repr(value))} is not a duration: use e.g. 30s, 15m, 1h, 2d"
        )
    try:
        parse_duration(text, option)
    except ValueError:
        raise ValueError(
            f"{option} {printable(repr(value))} is not a positive duration: use e.g. 30s, 15m, 1h"
        ) from None
    return text


def time_option(*names: str, help: str | None = None, **kwargs: Any) -> Any:
    """A ``typer.Option`` for a time bound (``--since 1h``, ``--until 2026-01-01T12:00Z``),
    parsed by :func:`parse_time_option`: use it as ``Annotated[str | None,
    time_option("--since", help=...)] = None``."""
    option = names[0] if names else "--since"
    return typer.Option(
        *names,
        parser=_named(parse_time_option, option),
        metavar=Metavar.WHEN,
        help=help,
        **kwargs,
    )


def duration_option(*names: str, help: str | None = None, **kwargs: Any) -> Any:
    """A ``typer.Option`` for a duration (``--window 1h``), parsed by
    :func:`parse_duration_option`: ``Annotated[str, duration_option("--window", help=...)]
    = "1h"``."""
    option = names[0] if names else "--window"
    return typer.Option(
        *names,
        parser=_named(parse_duration_option, option),
        metavar=Metavar.DURATION,
        help=help,
        **kwargs,
    )


def _named(check: Callable[[Any, str], Any], option: str) -> Callable[[Any], Any]:
    """``check`` for one named option, reporting its error as :func:`fail` does."""

    def parse(value: Any) -> Any:
        try:
            return check(value, option)
        except ValueError as e:
            fail(e)

    parse.__name__ = f"{check.__name__}({option})"
    return parse


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
    typer.Option(
        help="Only these levels (repeatable): debug, info, warning, error, critical.",
        metavar="LEVEL",
    ),
]
CategoryOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these categories (repeatable).", metavar="CATEGORY"),
]
SinceOption = Annotated[
    str | None,
    time_option(
        "--since",
        help="From this long before the latest event (1h, 30m, 2d) or from this time "
        "(ISO 8601, e.g. 2026-01-01T12:00Z).",
    ),
]
UntilOption = Annotated[
    str | None,
    time_option(
        "--until",
        help="Before this long before the latest event (30m) or before this time (ISO 8601).",
    ),
]
HorizonOption = Annotated[
    str,
    duration_option("--horizon", help="How far ahead a failure counts (e.g. 15m, 1h)."),
]
LimitOption = Annotated[int, typer.Option("--limit", help="At most this many.", metavar="N")]
OldestFirstOption = Annotated[
    bool,
    typer.Option(
        "--oldest-first", help="List the oldest first (default: newest first).", metavar=""
    ),
]


def _no_type(ctx: Any) -> None:
    return None


def _quiet_help(command: Any, ctx: Any) -> None:
    """Help for ``command`` and everything under it in words: ``--help`` shown as a flag (not
    ``--help <bool>``), and an argument with a metavar (``FILE``) without Typer's type beside
    it (``<list[str]>``)."""
    option = command.get_help_option(ctx)
    if option is not None:
        option.metavar = ""
    for param in getattr(command, "params", ()):
        if param.param_type_name == "argument" and param.metavar:
            param.display_type_rich = _no_type
    for sub in getattr(command, "commands", {}).values():
        _quiet_help(sub, ctx)


class HelpGroup(TyperGroup):
    """The root command group (``typer.Typer(cls=HelpGroup)``): ``--help`` of every command
    and group under it, whoever registered it, is shown as a flag, not as ``--help <bool>``."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _quiet_help(command, ctx)
        return command


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


def nothing_found(what: str, where: Any, **looked_for: Any) -> str:
    """Say on stderr that nothing was found, and what was looked for: ``no events with
    --service api, --level error, --since 1h in faultcast.duckdb``.  ``looked_for`` maps
    option names (``since``, ``oldest_first``: underscores become dashes) to the values given;
    None, False and empty lists were not given and are left out.  Returns the message.

    >>> import io, contextlib
    >>> with contextlib.redirect_stderr(io.StringIO()) as shown:
    ...     _ = nothing_found("events", "s.duckdb", service=["api"], level=None, since="1h")
    >>> shown.getvalue()
    'no events with --service api, --since 1h in s.duckdb\\n'
    """
    given: list[str] = []
    for name, value in looked_for.items():
        if value is None or value is False or value == [] or value == ():
            continue
        option = "--" + name.replace("_", "-")
        if value is True:
            given.append(option)
        elif isinstance(value, list | tuple):
            given.append(f"{option} {' or '.join(printable(str(v)) for v in value)}")
        else:
            given.append(f"{option} {printable(str(value))}")
    message = f"no {what}" + (f" with {', '.join(given)}" if given else "")
    message += f" in {printable(str(where))}"
    sys.stderr.write(message + "\n")
    return message


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
    """``value`` is ISO 8601 time or a duration (``--since 1h``): :func:`parse_time_option`
    for a value that did not come through :func:`time_option`."""
    parse_time_option(value, option)


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


def check_time_format(value: str | list[str] | None, option: str = "--time-format") -> None:
    """``value`` is a strptime format DuckDB understands (or a list of them)."""
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
    time_format: str | list[str] | None,
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
