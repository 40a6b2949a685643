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
    "command",
    "configure_logging",
    "help_text",
    "emit",
    "emit_frame",
    "err",
    "fail",
    "fmt_pct",
    "out",
    "progress_bar",
    "report_table",
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
    """``app.command(name)`` with the function's docstring as :func:`help_text`."""

    def register(function: F) -> F:
        app.command(name, help=help_text(function.__doc__))(function)
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


def fail(error: Exception) -> NoReturn:
    """Say what went wrong on stderr and exit 1."""
    # Plain text, unwrapped: messages hold paths and bracketed text that must stay intact.
    sys.stderr.write(f"error: {error}\n")
    raise typer.Exit(1)


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


def cell(value: Any, time_format: str | None = None) -> str:
    """A table cell for a stored value: missing values (None, NaN, NaT, pd.NA) are blank."""
    import pandas as pd

    if value is None or bool(pd.isna(value)):
        return ""
    if time_format is not None:
        return str(value.strftime(time_format))
    return str(value)
