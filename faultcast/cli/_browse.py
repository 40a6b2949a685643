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
    Metavar,
    OldestFirstOption,
    ServiceOption,
    SinceOption,
    UntilOption,
    cell,
    check_levels,
    check_limit,
    command,
    duration_option,
    emit_frame,
    fail,
    nothing_found,
    out,
    time_option,
)


def _check_filters(level: list[str] | None, limit: int | None) -> None:
    """The filters every listing takes, checked before the store is read (--since and
    --until are checked as they are parsed)."""
    check_levels(level)
    check_limit(limit)


def events(
    db: DbOption = Path("faultcast.duckdb"),
    service: ServiceOption = None,
    level: LevelOption = None,
    category: CategoryOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int,
        typer.Option(
            help="At most this many: the newest (the oldest with --oldest-first).",
            metavar=Metavar.N,
        ),
    ] = 20,
    oldest_first: OldestFirstOption = False,
    json_out: JsonOption = False,
) -> None:
    """Show stored events, the newest first.

    --since and --until take a duration before the latest stored event (--since 1h: its last
    hour) or an ISO 8601 time.
    """
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    _check_filters(level, limit)

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
                newest_first=not oldest_first,
            )
    except FaultcastError as e:
        fail(e)
    if json_out:
        emit_frame("events", df)
        return
    if df.empty:
        nothing_found(
            "events",
            db,
            service=service,
            level=level,
            category=category,
            since=since,
            until=until,
            limit=limit if limit == 0 else None,
        )
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
    all_levels: Annotated[
        bool,
        typer.Option(
            "--all-levels",
            help="Patterns of every level (default: warning and above, and failures).",
            metavar="",
        ),
    ] = False,
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
        duration_option(
            "--window",
            help="The recent window: 30m, 1h, 1d ... (ends at the latest event or --until).",
        ),
    ] = "1h",
    limit: Annotated[
        int, typer.Option(help="At most this many, the most frequent first.", metavar=Metavar.N)
    ] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show the message patterns (templates) of warnings and worse, the most frequent first.

    --all-levels shows the patterns of every level; --level picks levels.  --new shows what
    first appeared in the last --window; --surging what jumped well above its own baseline
    there (a pattern needs some hours of history before it can surge).
    """
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    _check_filters(level, limit)

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
                min_level=None if all_levels or level else "warning",
            )
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        emit_frame("patterns", df)
        return
    if df.empty:
        what = " ".join(["new" if new else "", "surging" if surging else "", "patterns"]).strip()
        if not (all_levels or level):
            what += " of warnings or worse"
        if new or surging:
            what += f" in the last {window}"
        nothing_found(
            what,
            db,
            service=service,
            level=level,
            category=category,
            since=since,
            until=until,
            limit=limit if limit == 0 else None,
        )
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
    since: Annotated[
        str | None,
        time_option(
            "--since",
            help="Quarantined from this long ago (1h, 2d) or from this time (ISO 8601).",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            help="At most this many: the newest (the oldest with --oldest-first).",
            metavar=Metavar.N,
        ),
    ] = 20,
    oldest_first: OldestFirstOption = False,
    json_out: JsonOption = False,
) -> None:
    """Show quarantined input, the newest first: where it came from, the (redacted) raw line
    and why."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.analytics import quarantine as read_quarantine
    from faultcast.ingest.errors import FaultcastError

    check_limit(limit)

    try:
        with connect(db) as fc:
            df = read_quarantine(fc.store, since=since, limit=limit, newest_first=not oldest_first)
    except FaultcastError as e:
        fail(e)
    if json_out:
        emit_frame("quarantine", df)
        return
    if df.empty:
        nothing_found("quarantined input", db, since=since, limit=limit if limit == 0 else None)
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
