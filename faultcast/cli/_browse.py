"""The commands that show what is stored: ``events``, ``patterns`` and ``quarantine``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faultcast.cli._common import (
    CategoryOption,
    DbOption,
    JsonOption,
    LevelOption,
    ServiceOption,
    SinceOption,
    UntilOption,
    cell,
    check_duration,
    check_levels,
    check_limit,
    check_time,
    command,
    emit_frame,
    fail,
    out,
)


def _check_filters(
    level: list[str] | None, since: str | None, until: str | None, limit: int | None
) -> None:
    """The filters every listing takes, checked before the store is read."""
    check_levels(level)
    check_time(since, "--since")
    check_time(until, "--until")
    check_limit(limit)


def events(
    db: DbOption = Path("faultcast.duckdb"),
    service: ServiceOption = None,
    level: LevelOption = None,
    category: CategoryOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help="At most this many (the oldest first).")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show stored events."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    _check_filters(level, since, until, limit)

    try:
        with connect(db) as fc:
            fc.store.counts()  # a clear error when there is no store at --db
            df = fc.events(
                service=service,
                level=level,
                category=category,
                since=since,
                until=until,
                limit=limit,
            )
    except FaultcastError as e:
        fail(e)
    if json_out:
        emit_frame("events", df)
        return
    table = Table(show_lines=False)
    for column in ("ts", "service", "level", "category", "error_type"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    for row in df.itertuples():
        table.add_row(
            cell(row.ts, "%Y-%m-%d %H:%M:%S"),
            cell(row.service),
            cell(row.level),
            cell(row.category),
            cell(row.error_type),
            cell(row.message),
        )
    out().print(table)


def patterns(
    db: DbOption = Path("faultcast.duckdb"),
    service: ServiceOption = None,
    level: LevelOption = None,
    category: CategoryOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    new: Annotated[
        bool,
        typer.Option("--new", help="Only patterns first seen in the last --window.", metavar=""),
    ] = False,
    surging: Annotated[
        bool,
        typer.Option(
            "--surging",
            help="Only patterns whose rate in the last --window is well above their own baseline.",
            metavar="",
        ),
    ] = False,
    window: Annotated[
        str,
        typer.Option(
            help="The recent window: 30m, 1h, 1d ... (ends at the latest event or --until).",
            metavar="DURATION",
        ),
    ] = "1h",
    limit: Annotated[int, typer.Option(help="At most this many, the most frequent first.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show the message patterns (templates), the most frequent first.

    --new shows what first appeared in the last --window; --surging what jumped well above its
    own baseline there.
    """
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    _check_filters(level, since, until, limit)
    check_duration(window, "--window")

    try:
        with connect(db) as fc:
            fc.store.counts()  # a clear error when there is no store at --db
            df = fc.patterns(
                service=service,
                level=level,
                category=category,
                since=since,
                until=until,
                new=new,
                surging=surging,
                window=window,
                limit=limit,
            )
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        emit_frame("patterns", df)
        return
    table = Table()
    for column in ("count", "errors", "services", f"last {cell(window)}", "last seen", "flag"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("template", overflow="fold", ratio=1)
    for row in df.itertuples():
        flag = ""
        if row.is_new:
            flag = "new"
        elif row.is_surging:
            flag = (
                f"surging x{row.surge_ratio:.0f}"
                if row.surge_ratio == row.surge_ratio
                else "surging"
            )
        table.add_row(
            f"{row.count:,}",
            f"{row.error_count:,}",
            str(row.services),
            f"{row.recent_count:,}",
            cell(row.last_seen, "%Y-%m-%d %H:%M"),
            flag,
            cell(row.template),
        )
    out().print(table)


def quarantine(
    db: DbOption = Path("faultcast.duckdb"),
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show quarantined input: where it came from, the (redacted) raw line and why."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_limit(limit)

    try:
        with connect(db) as fc:
            df = fc.quarantine(limit=limit)
    except FaultcastError as e:
        fail(e)
    if json_out:
        emit_frame("quarantine", df)
        return
    table = Table()
    for column in ("source", "line", "reason", "raw"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(
            cell(row.source),
            cell(row.source_offset),
            cell(row.reason),
            cell(row.raw, max_chars=120),
        )
    out().print(table)


def register(app: typer.Typer) -> None:
    """Add ``events``, ``patterns`` and ``quarantine`` to ``app``."""
    command(app)(events)
    command(app)(patterns)
    command(app)(quarantine)
