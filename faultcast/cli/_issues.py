"""The ``issues`` group: errors grouped by fingerprint, and their lifecycle.

``faultcast issues`` lists them (newest last seen first); ``issues show ID`` shows one with
its sample events and history; ``issues resolve|ignore|reopen ID`` change its status (who: the
OS user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faultcast.cli._common import (
    DbOption,
    JsonOption,
    cell,
    check_choice,
    check_duration,
    check_limit,
    check_time,
    command,
    emit,
    fail,
    out,
)

_STATUSES = ("open", "resolved", "ignored", "regressed")
_SORTS = ("last_seen", "count", "trend")
_SPARK = " ▁▂▃▄▅▆▇█"

IdArgument = Annotated[
    str, typer.Argument(help="The issue's id, as faultcast issues lists it (FC-...).", metavar="ID")
]


def _spark(trend: list[int]) -> str:
    """A one-line chart of counts (a blank for none)."""
    top = max(trend or [0])
    if top <= 0:
        return ""
    return "".join(_SPARK[0 if n <= 0 else max(1, round(n / top * 8))] for n in trend)


def _looked_for(
    status: list[str] | None, service: list[str] | None, since: str | None, until: str | None
) -> str:
    parts = []
    if status:
        parts.append("status " + " or ".join(status))
    if service:
        parts.append("service " + " or ".join(service))
    if since:
        parts.append(f"seen since {since}")
    if until:
        parts.append(f"first seen before {until}")
    return ", ".join(parts)


def issues_list(
    ctx: typer.Context,
    db: DbOption = Path("faultcast.duckdb"),
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Only issues with this status (repeatable): open, resolved, ignored, regressed.",
            metavar="STATUS",
        ),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(help="Only issues seen in this service (repeatable).", metavar="SERVICE"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only issues seen since then: a duration before the latest event (1h, 2d) "
            "or an ISO 8601 time.",
            metavar="DURATION",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Only issues first seen before then: a duration before the latest event "
            "(30m) or an ISO 8601 time.",
            metavar="DURATION",
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="last_seen (newest first), count (most events first) or trend (rising fastest).",
            metavar="ORDER",
        ),
    ] = "last_seen",
    limit: Annotated[int, typer.Option(help="At most this many.", metavar="N")] = 50,
    json_out: JsonOption = False,
) -> None:
    """List issues: errors (warning and above, and failures) grouped by fingerprint, with their
    status, count, services, first and last seen and trend over their last 24 hours.

    faultcast issues show ID shows one; resolve, ignore and reopen change its status.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    for s in status or ():
        check_choice(s, "--status", _STATUSES)
    check_choice(sort, "--sort", _SORTS)
    check_time(since, "--since")
    check_time(until, "--until")
    check_limit(limit)
    try:
        with connect(db) as fc:
            fc.store.counts()  # a clear error when there is no store at --db
            _migrated(fc.store)
            df = fc.issues(
                status=status, service=service, since=since, until=until, sort=sort, limit=limit
            )
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        _emit_issues(df)
        return
    if df.empty:
        looked = _looked_for(status, service, since, until)
        typer.echo(
            f"no issues match {looked}"
            if looked
            else "no issues yet: no warnings or errors stored",
            err=True,
        )
        return
    table = Table()
    for column in ("id", "status", "level", "count", "sessions", "service", "last seen", "24h"):
        table.add_column(
            column, no_wrap=True, justify="right" if column in ("count", "sessions") else "left"
        )
    table.add_column("title", overflow="fold", ratio=1)
    for row in df.itertuples():
        table.add_row(
            cell(row.id),
            cell(row.status),
            cell(row.level),
            f"{row.count:,}",
            f"{row.sessions:,}",
            cell(row.service),
            cell(row.last_seen, "%Y-%m-%d %H:%M"),
            _spark(list(row.trend)),
            cell(row.title),
        )
    out().print(table)


def _migrated(store: Any) -> None:
    """A store written by an older faultcast gets its issues now (migration 9 builds them from
    its events), not at its next ingest."""
    from faultcast.ingest.migrations import LATEST_VERSION
    from faultcast.ingest.store import Store

    if isinstance(store, Store) and 0 < store.schema_version() < LATEST_VERSION:
        with store.writing():
            pass


def _emit_issues(df: Any) -> None:
    import json

    rows = json.loads(df.to_json(orient="records", date_format="iso"))
    emit({"issues": rows, "count": len(rows)})


def issues_show(
    issue_id: IdArgument, db: DbOption = Path("faultcast.duckdb"), json_out: JsonOption = False
) -> None:
    """Show one issue: what it is, where and how often it happens, the recommended recovery,
    its latest events with their traceback, and every status change."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    try:
        with connect(db) as fc:
            fc.store.counts()
            _migrated(fc.store)
            found = fc.issue(issue_id)
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        emit({"issue": _iso(found)})
        return
    console = out()
    console.print(f"[bold]{cell(found['id'])}[/bold]  {cell(found['title'])}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    when = "%Y-%m-%d %H:%M:%S"
    status = found["status"]
    if status == "ignored" and found["ignore_until"] is not None:
        status += f" until {found['ignore_until']:%Y-%m-%d %H:%M}"
    if found["status"] == "ignored" and found["ignore_until_count"] is not None:
        status += " or" if found["ignore_until"] is not None else ""
        status += f" until it reaches {found['ignore_until_count']:,} events"
    if status == "resolved" and found["resolved_in_release"] is not None:
        status += f" (regresses on a release after {found['resolved_in_release']})"
    for label, value in (
        ("status", status),
        ("level", found["level"]),
        ("error type", found["error_type"]),
        ("services", found["service"]),
        ("events", f"{found['count']:,}"),
        ("sessions", f"{found['sessions']:,}"),
        ("users", f"{found['users']:,}"),
        ("first seen", cell(found["first_seen"], when)),
        ("last seen", cell(found["last_seen"], when)),
        (
            "releases",
            " → ".join(
                dict.fromkeys(r for r in (found["first_release"], found["last_release"]) if r)
            ),
        ),  # fmt: skip
        ("last 24 h", _spark(found["trend"])),
        (
            "recovery",
            f"{found['recovery']} ({found['recovery_success']:.0%} of recorded attempts succeeded)"
            if found["recovery"]
            else "",
        ),
    ):
        if value:
            facts.add_row(label, cell(value))
    console.print(facts)
    if found["events"]:
        console.print("\n[bold]latest events[/bold]")
        for e in found["events"]:
            console.print(
                f"{cell(e['ts'], when)}  {cell(e['service'])}  {cell(e['level'])}  "
                f"{cell(e['message'])}"
            )
        tb = next((e["traceback"] for e in found["events"] if e["traceback"]), None)
        if tb:
            console.print("\n[bold]traceback[/bold] (latest)")
            for line in str(tb).splitlines():
                console.print(cell(line))
    if found["changes"]:
        console.print("\n[bold]history[/bold]")
        for c in found["changes"]:
            reason = f" ({c['reason']})" if c["reason"] else ""
            console.print(
                f"{cell(c['at'], when)}  {cell(c['from_status'])} → {cell(c['to_status'])}  "
                f"by {cell(c['actor'])}{cell(reason)}"
            )


def _iso(value: Any) -> Any:
    """``value`` with its datetimes as ISO 8601 text (for ``--json``)."""
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def _changed(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit({"issue": _iso(result)})
        return
    text = f"{result['id']} {result['status']}"
    if result.get("ignore_until") is not None:
        text += f" until {result['ignore_until']:%Y-%m-%d %H:%M} UTC"
    if result.get("ignore_until_count") is not None:
        text += " or" if result.get("ignore_until") is not None else ""
        text += f" until it reaches {result['ignore_until_count']:,} events"
    if result.get("resolved_in_release") is not None:
        text += f" (regresses on a release after {result['resolved_in_release']})"
    typer.echo(text)


def _change(db: Path, call: Any) -> dict[str, Any]:
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    try:
        with connect(db) as fc:
            fc.store.counts()
            result: dict[str, Any] = call(fc)
    except (FaultcastError, ValueError) as e:
        fail(e)
    return result


def issues_resolve(
    issue_id: IdArgument,
    next_release: Annotated[
        bool,
        typer.Option(
            "--next-release",
            help="Resolved in the next release: only an event of a newer release than the "
            "latest seen regresses it.",
            metavar="",
        ),
    ] = False,
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Resolve an issue; it becomes regressed if it happens again."""
    result = _change(db, lambda fc: fc.resolve_issue(issue_id, in_next_release=next_release))
    _changed(result, json_out)


def issues_ignore(
    issue_id: IdArgument,
    for_: Annotated[
        str | None,
        typer.Option(
            "--for", help="Ignore for this long (2h, 1d); then it reopens.", metavar="DURATION"
        ),
    ] = None,
    until_count: Annotated[
        int | None,
        typer.Option(
            help="Ignore until this many more events arrive; then it reopens.", metavar="N"
        ),
    ] = None,
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Ignore an issue: for good, for a while (--for), or until N more events (--until-count)."""
    check_duration(for_, "--for")
    if until_count is not None and until_count < 1:
        fail(ValueError(f"--until-count must be 1 or more, not {until_count}"))
    result = _change(db, lambda fc: fc.ignore_issue(issue_id, for_=for_, until_count=until_count))
    _changed(result, json_out)


def issues_reopen(
    issue_id: IdArgument, db: DbOption = Path("faultcast.duckdb"), json_out: JsonOption = False
) -> None:
    """Set an issue (resolved, ignored or regressed) back to open."""
    result = _change(db, lambda fc: fc.reopen_issue(issue_id))
    _changed(result, json_out)


def register(app: typer.Typer) -> None:
    """Add the ``issues`` group to ``app``."""
    from faultcast.cli._common import help_text

    issues_app = typer.Typer(
        help=help_text(issues_list.__doc__),
        invoke_without_command=True,
        no_args_is_help=False,
    )
    issues_app.callback()(_guarded(issues_list))
    command(issues_app, "show")(issues_show)
    command(issues_app, "resolve")(issues_resolve)
    command(issues_app, "ignore")(issues_ignore)
    command(issues_app, "reopen")(issues_reopen)
    app.add_typer(issues_app, name="issues")


def _guarded(function: Any) -> Any:
    """``function`` reporting a bad-input error in one line, like every command."""
    import functools

    from faultcast.cli._common import _expected

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as e:
            if not _expected(e):
                raise
            fail(e)

    return guarded
