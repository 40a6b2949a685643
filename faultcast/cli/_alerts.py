"""The ``alerts`` group: list alerts, evaluate the rules once (``check``), silence, acknowledge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faultcast.cli._common import (
    DbOption,
    JsonOption,
    VerboseOption,
    cell,
    check_choice,
    check_duration,
    check_file,
    check_limit,
    check_time,
    command,
    configure_logging,
    emit,
    emit_frame,
    fail,
    out,
)

NotifyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        help="Send notifications to this Apprise URL (repeatable): json://HOST:PORT/PATH, "
        "slack://TOKEN_A/TOKEN_B/TOKEN_C, mailto://USER:PASSWORD@HOST, ntfy://TOPIC, ... "
        "Secrets in URLs are never printed; keep them out of shell history with "
        "FAULTCAST_NOTIFY (space-separated URLs).",
        metavar="URL",
        envvar="FAULTCAST_NOTIFY",
        show_envvar=False,
    ),
]
AlertmanagerOption = Annotated[
    str | None,
    typer.Option(
        "--alertmanager",
        help="Send alerts to Prometheus Alertmanager's v2 API at this address, "
        "e.g. http://127.0.0.1:9093.",
        metavar="URL",
        envvar="FAULTCAST_ALERTMANAGER",
        show_envvar=False,
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="A TOML file of rule thresholds and timings (see docs/alerts.md); the defaults "
        "otherwise.",
        metavar="FILE",
    ),
]
_STATES = ("pending", "firing", "resolved")


def settings_from(rules: Path | None, renotify: str | None = None) -> Any:
    """The alert settings: the defaults, a --rules file, a --renotify."""
    from faultcast.alerts import AlertSettings

    check_file(rules, "--rules")
    settings = AlertSettings.from_file(rules) if rules is not None else AlertSettings()
    if renotify is not None:
        settings = settings.with_values({"renotify": renotify}, "--renotify")
    return settings


def notifiers_from(notify: list[str] | None, alertmanager: str | None) -> list[Any]:
    """The notifiers of --notify and --alertmanager (a clear error for a URL none knows)."""
    from faultcast.alerts import AlertmanagerNotifier, AppriseNotifier

    found: list[Any] = [AppriseNotifier(url) for url in notify or ()]
    if alertmanager:
        found.append(AlertmanagerNotifier(alertmanager))
    return found


def _store(db: Path) -> Any:
    from faultcast.ingest.store import Store

    if not Path(db).exists():
        raise ValueError(f"no faultcast store at {db}: ingest some events first")
    return Store(db)


def alerts_check(
    db: DbOption = Path("faultcast.duckdb"),
    notify: NotifyOption = None,
    alertmanager: AlertmanagerOption = None,
    rules: RulesOption = None,
    renotify: Annotated[
        str | None,
        typer.Option(
            "--renotify",
            help="Remind of an alert still firing and not acknowledged this often (default 4h).",
            metavar="DURATION",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Evaluate as of this time (ISO 8601; default: the clock), for replays.",
            metavar="TIME",
        ),
    ] = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", help="Exit 3 when an alert is firing after the check.", metavar=""
        ),
    ] = False,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Evaluate the alert rules once and notify: run it from cron, or let serve do it each tick.

    Prints what changed in this run (--json: {"firing": [...], "resolved": [...]}, each alert
    with the targets it reached); a second run with nothing new prints and sends nothing.
    """
    check_time(now, "--now")
    settings = settings_from(rules, renotify)
    notifiers = notifiers_from(notify, alertmanager)
    configure_logging(verbose)
    from faultcast.alerts import evaluate

    store = _store(db)
    try:
        result = evaluate(store, now=now, settings=settings, notifiers=notifiers)
    finally:
        store.close()
    firing_now = int((result.open["state"] == "firing").sum()) if not result.open.empty else 0
    if json_out:
        emit(result.to_dict())
    else:
        for kind, items in (("firing", result.firing), ("resolved", result.resolved)):
            for a in items:
                sent = ", ".join(a["notified"]) or "nobody"
                failed = f"; failed: {', '.join(a['failed'])}" if a["failed"] else ""
                typer.echo(f"{kind:8} {a['id']}  {a['summary']}  (notified: {sent}{failed})")
        if not result.firing and not result.resolved:
            typer.echo(f"nothing new; {firing_now} alert(s) firing")
    if exit_code and firing_now:
        raise typer.Exit(3)


def alerts_silence(
    target: Annotated[
        str,
        typer.Argument(
            help="A unit (e.g. checkout) or a rule (e.g. unit_at_risk).", metavar="UNIT|RULE"
        ),
    ],
    duration: Annotated[
        str, typer.Option("--for", help="How long, e.g. 2h.", metavar="DURATION")
    ] = "2h",
    comment: Annotated[
        str | None, typer.Option("--comment", help="Why (shown in the list).", metavar="WORDS")
    ] = None,
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Silence a unit's or a rule's alerts: they still fire and are listed, but nobody is
    notified until the silence ends; those still firing then are notified."""
    check_duration(duration, "--for")
    from faultcast.alerts import silence

    store = _store(db)
    try:
        made = silence(store, target, duration, comment=comment)
    finally:
        store.close()
    if json_out:
        emit({"silence": made})
    else:
        what = f"rule {made['rule']}" if made["rule"] else f"unit {made['unit']}"
        typer.echo(f"silenced {what} until {made['ends_at']} (id {made['id']})")


def alerts_silences(
    db: DbOption = Path("faultcast.duckdb"),
    all_: Annotated[
        bool, typer.Option("--all", help="Also the silences that ended.", metavar="")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """List the silences in force (--all: every silence)."""
    from faultcast.analytics import alert_silences

    store = _store(db)
    try:
        df = alert_silences(store, active=not all_)
    finally:
        store.close()
    if json_out:
        emit_frame("silences", df)
        return
    _table(df, ["id", "rule", "unit", "starts_at", "ends_at", "comment", "created_by"])


def alerts_expire(
    silence_id: Annotated[
        str, typer.Argument(help="The silence's id (alerts silences).", metavar="ID")
    ],
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """End a silence now."""
    from faultcast.alerts import expire_silence

    store = _store(db)
    try:
        ended = expire_silence(store, silence_id)
    finally:
        store.close()
    if not ended:
        fail(ValueError(f"no silence in force has the id {silence_id!r} (alerts silences)"))
    if json_out:
        emit({"expired": silence_id})
    else:
        typer.echo(f"expired {silence_id}")


def alerts_ack(
    alert_id: Annotated[
        str, typer.Argument(help="The alert's id (faultcast alerts).", metavar="ID")
    ],
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Acknowledge an alert: no more reminders while it fires (its resolution is still sent)."""
    from faultcast.alerts import acknowledge

    store = _store(db)
    try:
        done = acknowledge(store, alert_id)
    finally:
        store.close()
    if json_out:
        emit({"acknowledged": done})
    else:
        typer.echo(f"acknowledged {alert_id} ({done['summary']})")


def _table(df: Any, columns: list[str]) -> None:
    from rich.table import Table

    if df.empty:
        typer.echo("none")
        return
    table = Table()
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in df[columns].itertuples(index=False):
        table.add_row(*(cell(v, "%Y-%m-%d %H:%M" if hasattr(v, "strftime") else None) for v in row))
    out().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` group to ``app``."""
    alerts_app = typer.Typer(
        help="Alerts: list them (faultcast alerts), evaluate the rules once and notify "
        "(check), silence, acknowledge.",
        invoke_without_command=True,
    )

    @alerts_app.callback()
    def alerts_list(
        ctx: typer.Context,
        db: DbOption = Path("faultcast.duckdb"),
        state: Annotated[
            str | None,
            typer.Option("--state", help="Only pending, firing or resolved.", metavar="STATE"),
        ] = None,
        limit: Annotated[int, typer.Option(help="At most this many.", metavar="N")] = 50,
        json_out: JsonOption = False,
    ) -> None:
        """List the alerts: firing, then pending, then the resolved, the newest first."""
        if ctx.invoked_subcommand is not None:
            # `faultcast alerts --db X check`: the group's --db is the subcommand's default.
            source = ctx.get_parameter_source("db")
            if source is not None and source.name == "COMMANDLINE":
                defaults = dict(ctx.default_map or {})
                defaults[ctx.invoked_subcommand] = {"db": str(db)}
                ctx.default_map = defaults
            return
        try:
            check_choice(state, "--state", _STATES)
            check_limit(limit)
            from faultcast.analytics import alerts

            store = _store(db)
            try:
                df = alerts(store, state=state, limit=limit)
            finally:
                store.close()
        except Exception as e:  # the group's callback is not wrapped by command()
            from faultcast.cli._common import _expected

            if not _expected(e):
                raise
            fail(e)
        if json_out:
            import json

            df["details"] = [json.loads(d) if isinstance(d, str) else {} for d in df["details"]]
            emit_frame("alerts", df)
            return
        _table(df, ["id", "state", "severity", "rule", "unit", "summary", "fired_at", "silenced"])

    command(alerts_app, "check")(alerts_check)
    command(alerts_app, "silence")(alerts_silence)
    command(alerts_app, "silences")(alerts_silences)
    command(alerts_app, "expire")(alerts_expire)
    command(alerts_app, "ack")(alerts_ack)
    app.add_typer(alerts_app, name="alerts")
