"""The ``faultcast`` command line.

Every command takes ``--db PATH`` (default ``./faultcast.duckdb``); commands that report take
``--json`` and then print exactly one JSON object on stdout (logs and progress go to stderr).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from faultcast._facade import connect
from faultcast.ingest.errors import FaultcastError

app = typer.Typer(
    name="faultcast",
    help="Predictive error analytics: ingest error events into DuckDB, mine their patterns, "
    "learn which precede failures and which recoveries work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)
# Piped output is not cut to 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)

DbOption = Annotated[
    Path, typer.Option("--db", help="The faultcast store (a DuckDB file).", envvar="FAULTCAST_DB")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]
ServiceOption = Annotated[list[str] | None, typer.Option(help="Only these services (repeatable).")]
LevelOption = Annotated[list[str] | None, typer.Option(help="Only these levels (repeatable).")]
CategoryOption = Annotated[
    list[str] | None, typer.Option(help="Only these categories (repeatable).")
]
SinceOption = Annotated[str | None, typer.Option(help="From this time (ISO 8601).")]
UntilOption = Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")]


def _configure_logging(verbose: bool) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=err.is_terminal),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if verbose else logging.WARNING
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def _emit_frame(name: str, df: Any) -> None:
    """A DataFrame as ``{name: [rows...], "count": n}`` (times in ISO 8601)."""
    _emit({name: json.loads(df.to_json(orient="records", date_format="iso")), "count": len(df)})


def _fail(error: Exception) -> NoReturn:
    # Plain text, unwrapped: messages hold paths and bracketed text that must stay intact.
    sys.stderr.write(f"error: {error}\n")
    raise typer.Exit(1)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(title="ingest", show_header=False, title_justify="left")
    for key in ("read", "stored", "duplicates", "quarantined"):
        table.add_row(key, f"{report[key]:,}")
    table.add_row("seconds", f"{report['seconds']:.2f}")
    table.add_row("events/s", f"{report['events_per_second']:,.0f}")
    for reason, count in report["quarantine_reasons"].items():
        table.add_row(f"  quarantined: {reason}", f"{count:,}")
    for rule, count in report["redactions"].items():
        table.add_row(f"  redacted: {rule}", f"{count:,}")
    return table


@app.command()
def ingest(
    files: Annotated[
        list[str], typer.Argument(help="JSON-lines files (plain or .gz); - for stdin.")
    ],
    db: DbOption = Path("faultcast.duckdb"),
    format: Annotated[
        str, typer.Option("--format", help="auto, json or text (text needs --log-format).")
    ] = "auto",
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Text log header, logparser syntax: '<Date> <Time> <Pid> <Level> <Component>: <Content>'.",
        ),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            "--time-format", help="strptime format of the time fields, when not a common one."
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option("--year", help="Year for text time forms without one (default: this year)."),
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Service name for events that carry none.")
    ] = None,
    session_key: Annotated[
        str | None,
        typer.Option(
            "--session-key",
            help="JSON field holding the session key, or a regex whose first match in the message is it (e.g. 'blk_-?[0-9]+').",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep tailing the files (survives rotation); Ctrl-C stops."
        ),
    ] = False,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="Ignore checkpoints and re-read from line 1 (stores nothing twice).",
        ),
    ] = False,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact", help="Extra regex to redact (repeatable); a group named 'secret' limits it."
        ),
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option(
            "--mask", help="Extra regex whose matches are variable parts of templates (repeatable)."
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks in --follow.")
    ] = 0.5,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Ingest error events (structlog JSON lines, any JSON objects, or text logs) into the store.

    Each line is stored once, however often you run this: a checkpoint per file resumes where the
    last run stopped, and event ids skip what is stored already.  Lines that cannot be stored go
    to the quarantine with their reason; secrets are redacted before anything is stored.
    """
    _configure_logging(verbose)
    try:
        fc = connect(db, redact_patterns=list(redact or ()), masks=list(mask or ()))
    except (FaultcastError, ValueError) as e:
        _fail(e)
    show = not json_out and err.is_terminal and not follow
    try:
        with _progress(show) as progress:
            task = progress.add_task("ingest", total=None)

            def on_progress(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            if follow and not json_out:
                err.print(f"following {', '.join(files)} into {fc.path} (Ctrl-C stops)")
            report = fc.ingest(
                files if len(files) > 1 else files[0],
                format=format,
                service=service,
                session_key=session_key,
                log_format=log_format,
                time_format=time_format,
                year=year,
                follow=follow,
                from_start=from_start,
                poll_interval=poll,
                progress=on_progress,
            )
    except FaultcastError as e:
        _fail(e)
    finally:
        fc.close()
    payload = report.to_dict()
    payload["db"] = fc.path
    if json_out:
        _emit(payload)
    else:
        out.print(_report_table(payload))


@app.command()
def simulate(
    out_path: Annotated[
        Path,
        typer.Option("--out", help="Where to write the JSON lines (.gz compresses; - for stdout)."),
    ],
    services: Annotated[int, typer.Option(help="Number of services.")] = 8,
    hours: Annotated[float, typer.Option(help="Hours of event time.")] = 24.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same output).")] = 0,
    start: Annotated[
        str | None, typer.Option(help="Start time, ISO 8601 (default 2026-01-01T00:00:00Z).")
    ] = None,
    rate: Annotated[float, typer.Option(help="Mean events per service per minute.")] = 20.0,
    json_out: JsonOption = False,
) -> None:
    """Write a believable multi-service error stream, with a ground-truth side file."""
    from faultcast.simulate import simulate as run_simulation

    show = not json_out and err.is_terminal and str(out_path) != "-"
    target: Any = sys.stdout.buffer if str(out_path) == "-" else out_path
    started = time.monotonic()
    with _progress(show) as progress:
        task = progress.add_task("simulate", total=None)
        try:
            summary = run_simulation(
                target,
                services=services,
                hours=hours,
                seed=seed,
                start=start,
                rate=rate,
                progress=lambda n: progress.update(task, completed=n),
            )
        except (ValueError, OSError) as e:
            _fail(e)
    payload = {k: v for k, v in vars(summary).items()}
    payload["seconds"] = round(time.monotonic() - started, 3)
    if json_out:
        _emit(payload)
    elif str(out_path) != "-":
        err.print(
            f"wrote {summary.events:,} events ({summary.failures} failures) to {summary.path}"
            + (f"; ground truth in {summary.truth_path}" if summary.truth_path else "")
        )


@app.command()
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
        _fail(e)
    if json_out:
        _emit_frame("events", df)
        return
    table = Table(show_lines=False)
    for column in ("ts", "service", "level", "category", "error_type"):
        table.add_column(column, no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    for row in df.itertuples():
        table.add_row(
            row.ts.strftime("%Y-%m-%d %H:%M:%S") if row.ts is not None else "",
            row.service or "",
            row.level or "",
            row.category or "",
            row.error_type or "",
            row.message or "",
        )
    out.print(table)


@app.command()
def patterns(
    db: DbOption = Path("faultcast.duckdb"),
    service: ServiceOption = None,
    level: LevelOption = None,
    category: CategoryOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    new: Annotated[
        bool, typer.Option("--new", help="Only patterns first seen in the last --window.")
    ] = False,
    surging: Annotated[
        bool,
        typer.Option(
            "--surging",
            help="Only patterns whose rate in the last --window is well above their own baseline.",
        ),
    ] = False,
    window: Annotated[
        str,
        typer.Option(
            help="The recent window: 30m, 1h, 1d ... (ends at the latest event or --until)."
        ),
    ] = "1h",
    limit: Annotated[int, typer.Option(help="At most this many, the most frequent first.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show the message patterns (templates), the most frequent first.

    --new shows what first appeared in the last --window; --surging what jumped well above its
    own baseline there.
    """
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
        _fail(e)
    if json_out:
        _emit_frame("patterns", df)
        return
    table = Table()
    for column in ("count", "errors", "services", f"last {window}", "last seen", "flag"):
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
            row.last_seen.strftime("%Y-%m-%d %H:%M") if row.last_seen is not None else "",
            flag,
            row.template,
        )
    out.print(table)


@app.command()
def quarantine(
    db: DbOption = Path("faultcast.duckdb"),
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show quarantined input: where it came from, the (redacted) raw line and why."""
    try:
        with connect(db) as fc:
            df = fc.quarantine(limit=limit)
    except FaultcastError as e:
        _fail(e)
    if json_out:
        _emit_frame("quarantine", df)
        return
    table = Table()
    for column in ("source", "line", "reason", "raw"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(row.source, str(row.source_offset), row.reason, (row.raw or "")[:120])
    out.print(table)


@app.command()
def demo(
    db: DbOption = Path("faultcast-demo/faultcast.duckdb"),
    services: Annotated[int, typer.Option(help="Number of services.")] = 8,
    hours: Annotated[float, typer.Option(help="Hours of event time.")] = 24.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Simulate a day of events for 8 services, ingest them, learn online and print a summary."""
    from faultcast.simulate import simulate as run_simulation

    _configure_logging(False)
    db = db.expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    events_path = db.parent / "events.jsonl"
    show = not json_out and err.is_terminal
    started = time.monotonic()
    with _progress(show) as progress:
        task = progress.add_task("simulate", total=None)
        sim = run_simulation(
            events_path,
            services=services,
            hours=hours,
            seed=seed,
            progress=lambda n: progress.update(task, completed=n),
        )
    try:
        with connect(db) as fc:
            with _progress(show) as progress:
                task = progress.add_task("ingest", total=None)
                report = fc.ingest(
                    events_path,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            summary = fc.summary()
            learned = fc.learn()
            risks = fc.predict_failure()
    except FaultcastError as e:
        _fail(e)
    payload = {
        "db": str(db.resolve()),
        "events_file": str(events_path.resolve()),
        "truth_file": sim.truth_path,
        "simulated": sim.events,
        "ingest": report.to_dict(),
        "store": summary,
        "learn": learned,
        "risk_now": json.loads(risks.head(3).to_json(orient="records", date_format="iso")),
        "seconds": round(time.monotonic() - started, 2),
    }
    if json_out:
        _emit(payload)
        return
    out.print(
        f"[bold]faultcast demo[/] — {sim.events:,} simulated events for {services} services over {hours:g} h"
    )
    out.print(_report_table(payload["ingest"]))
    table = Table(title="store", show_header=False, title_justify="left")
    table.add_row("events", f"{summary['events']:,}")
    table.add_row("services", str(summary["services"]))
    table.add_row("time span", f"{summary['first']} .. {summary['last']}")
    table.add_row("failures", f"{summary['failures']:,}")
    table.add_row("templates", f"{summary['templates']:,}")
    table.add_row("levels", ", ".join(f"{k} {v:,}" for k, v in summary["levels"].items()))
    table.add_row("categories", ", ".join(f"{k} {v:,}" for k, v in summary["categories"].items()))
    table.add_row("quarantined", f"{summary['quarantined']:,}")
    out.print(table)
    if len(risks):
        table = Table(
            title=f"failure risk in the next 15 min, as of {risks['as_of'].iloc[0]}",
            title_justify="left",
        )
        for column in ("service", "risk", "alert", "why"):
            table.add_column(column, overflow="fold")
        for row in risks.head(3).itertuples():
            table.add_row(
                str(row.unit),
                f"{row.risk:.3f}",
                "ALERT" if row.alert else "",
                "; ".join(row.top_features),
            )
        out.print(table)
    out.print(
        f"store: {payload['db']}   try: faultcast events --db {db} --level error   "
        f"faultcast backtest --db {db}"
    )


# ---------------------------------------------------------------------------------- models
HorizonOption = Annotated[
    str, typer.Option("--horizon", help="How far ahead a failure counts (e.g. 15m, 1h).")
]


def _fmt_pct(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


@app.command()
def learn(
    db: DbOption = Path("faultcast.duckdb"),
    unit: Annotated[
        str, typer.Option("--unit-column", help="The unit predicted for: service, host, component.")
    ] = "service",
    horizon: HorizonOption = "15m",
    tick: Annotated[str, typer.Option("--tick", help="Prediction tick (event time).")] = "1m",
    sessions: Annotated[
        bool,
        typer.Option("--sessions", help="Also score and learn every session that ended since."),
    ] = False,
    session_column: Annotated[
        str, typer.Option("--session-column", help="What a session is (default session_key).")
    ] = "session_key",
    session_idle: Annotated[
        str, typer.Option("--session-idle", help="A session ended after this long without events.")
    ] = "5m",
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Feed the events not learned yet through the online failure model and store its predictions.

    Resumable and idempotent: run it after every ingest (or on a schedule); an unchanged store
    learns nothing.  --unit-column, --horizon and --tick apply to the first run on a store.
    """
    _configure_logging(verbose)
    show = not json_out and err.is_terminal
    try:
        with connect(db) as fc, _progress(show) as progress:
            task = progress.add_task("learn (ticks)", total=None)
            summary = fc.learn(
                unit=unit,
                horizon=horizon,
                tick=tick,
                sessions=sessions,
                session_column=session_column,
                session_idle=session_idle,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (FaultcastError, ValueError) as e:
        _fail(e)
    if json_out:
        _emit(summary)
        return
    if sessions:
        s = summary["sessions"]
        out.print(
            f"sessions: learned {s['sessions']:,} that ended, {s.get('flagged', 0):,} flagged anomalous "
            f"(model version {s['model_version']})"
        )
    if not summary["ticks"]:
        out.print("nothing new to learn (every complete tick is learned)")
        return
    out.print(
        f"learned {summary['ticks']:,} ticks ({summary['rows']:,} unit-ticks, {summary['from']} .. {summary['to']}); "
        f"model version {summary['model_version']}, alert threshold {summary['threshold']:.3f}, "
        f"{summary['drift_events']} drift events"
    )


@app.command()
def predict(
    db: DbOption = Path("faultcast.duckdb"),
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit.")] = None,
    horizon: HorizonOption = "15m",
    json_out: JsonOption = False,
) -> None:
    """Risk of a failure within the horizon per unit, as of the last learned tick, and why."""
    _configure_logging(False)
    try:
        with connect(db) as fc:
            df = fc.predict_failure(unit=unit, horizon=horizon)
            versions = fc.models("unit_failure")
    except (FaultcastError, ValueError) as e:
        _fail(e)
    if df.empty and versions.empty:
        _fail(FaultcastError(f"no predictions in {db}: run `faultcast learn --db {db}` first"))
    if unit is not None and df.empty:
        _fail(
            FaultcastError(
                f"no prediction for unit {unit!r}; units: see `faultcast predict --db {db}`"
            )
        )
    if json_out:
        payload = json.loads(df.to_json(orient="records", date_format="iso"))
        _emit(
            {
                "predictions": payload,
                "count": len(df),
                "model_version": int(df["model_version"].iloc[0]) if len(df) else None,
                "as_of": payload[0]["as_of"] if payload else None,
            }
        )
        return
    table = Table(title=f"failure risk within {horizon}", title_justify="left")
    for column in ("unit", "risk", "alert", "anomaly", "why"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(
            str(row.unit),
            f"{row.risk:.3f}",
            "ALERT" if row.alert else "",
            f"{row.anomaly_score:.1f}",
            "; ".join(row.top_features),
        )
    out.print(table)
    if len(df):
        out.print(f"as of {df['as_of'].iloc[0]}, model version {df['model_version'].iloc[0]}")


@app.command()
def backtest(
    db: DbOption = Path("faultcast.duckdb"),
    mode: Annotated[
        str, typer.Option("--mode", help="unit (per service/host) or session.")
    ] = "unit",
    unit_column: Annotated[
        str, typer.Option("--unit-column", help="Unit mode: service, host or component.")
    ] = "service",
    horizon: HorizonOption = "15m",
    tick: Annotated[str, typer.Option("--tick", help="Unit mode: prediction tick.")] = "1m",
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Session mode: CSV with a header and columns key,label."),
    ] = None,
    unsupervised: Annotated[
        bool, typer.Option("--unsupervised", help="Session mode: learn from no labels at all.")
    ] = False,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Replay the store's history in time order: predict first, learn when the label is due.

    Prints precision, recall, F1, PR-AUC, alerts, positives and median lead time, and the same
    for two baselines from the same run (a static error-rate threshold and a batch
    scikit-learn model, both on the second half of the history).
    """
    _configure_logging(verbose)
    show = not json_out and err.is_terminal
    try:
        with connect(db) as fc, _progress(show) as progress:
            task = progress.add_task("backtest (ticks)", total=None)
            result = fc.backtest(
                mode,
                unit_column=unit_column,
                horizon=horizon,
                tick=tick,
                labels=labels,
                unsupervised=unsupervised,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (FaultcastError, ValueError, FileNotFoundError) as e:
        _fail(e)
    if json_out:
        _emit(result)
        return
    table = Table(title=f"backtest ({mode} mode)", title_justify="left")
    for column in (
        "",
        "precision",
        "recall",
        "f1",
        "pr_auc",
        "alerts",
        "positives",
        "median lead s",
    ):
        table.add_column(column)

    def add(name: str, m: dict[str, Any] | None) -> None:
        if not m:
            return
        lead = m.get("median_lead_time_s")
        table.add_row(
            name,
            _fmt_pct(m.get("precision")),
            _fmt_pct(m.get("recall")),
            _fmt_pct(m.get("f1")),
            _fmt_pct(m.get("pr_auc")),
            str(m.get("alerts")),
            str(m.get("positives")),
            "-" if lead is None else f"{lead:.0f}",
        )

    add("online (whole history)", result)
    add("online (second half)", result.get("second_half", {}).get("online"))
    baselines = result.get("baselines", {})
    for name in ("static_threshold", "batch_sklearn"):
        if isinstance(baselines.get(name), dict):
            add(f"baseline: {name} (second half)", baselines[name])
        elif name in baselines:
            table.add_row(f"baseline: {name}", "-", "-", "-", "-", "-", "-", "-")
    out.print(table)
    if baselines.get("note"):
        out.print(f"baselines: {baselines['note']}")


@app.command()
def retrain(
    db: DbOption = Path("faultcast.duckdb"),
    since: Annotated[str, typer.Option("--since", help="History to train on (e.g. 30d).")] = "30d",
    holdout: Annotated[
        str, typer.Option("--holdout", help="The most recent span scored, never trained on.")
    ] = "1d",
    margin: Annotated[
        float, typer.Option("--margin", help="PR-AUC a candidate must gain over production.")
    ] = 0.01,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Rebuild the failure model from history and promote it only if it beats production.

    Candidates (the online model replayed from scratch, and a batch HistGradientBoosting model)
    are scored on the most recent --holdout, chronologically after everything they trained on;
    production is scored by the predictions it stored for the same ticks.  Every candidate, the
    decision and its reason are recorded in the registry.  Safe while learn or serve runs.
    """
    _configure_logging(verbose)
    try:
        with connect(db) as fc:
            result = fc.retrain(since=since, holdout=holdout, margin=margin)
    except (FaultcastError, ValueError) as e:
        _fail(e)
    if json_out:
        _emit(result)
        return
    out.print(f"[bold]{result['decision']}[/]: {result['reason']}")
    if result.get("candidates"):
        table = Table(title="holdout", title_justify="left")
        for column in ("", "version", "pr_auc", "precision", "recall", "f1"):
            table.add_column(column)
        production = result.get("production") or {}
        table.add_row(
            "production",
            str(production.get("version")),
            _fmt_pct(production.get("pr_auc")),
            "-",
            "-",
            "-",
        )
        for name, m in result["candidates"].items():
            table.add_row(
                name,
                str(m.get("version")),
                _fmt_pct(m.get("pr_auc")),
                _fmt_pct(m.get("precision")),
                _fmt_pct(m.get("recall")),
                _fmt_pct(m.get("f1")),
            )
        out.print(table)


@app.command()
def schedule(
    db: DbOption = Path("faultcast.duckdb"),
    retrain_cron: Annotated[
        str, typer.Option("--retrain-cron", help="When to retrain, a crontab line in UTC.")
    ] = "0 3 * * *",
    drift_debounce: Annotated[
        str, typer.Option("--drift-debounce", help="Retrain on drift at most this often.")
    ] = "1h",
    poll: Annotated[str, typer.Option("--poll", help="How often to check.")] = "1m",
    since: Annotated[str, typer.Option("--since", help="History to train on.")] = "30d",
    holdout: Annotated[str, typer.Option("--holdout", help="Holdout span.")] = "1d",
) -> None:
    """Run retraining on a cron schedule, and on drift events (debounced), in the foreground."""
    from datetime import timedelta

    from faultcast._facade import parse_duration
    from faultcast.models.schedule import RetrainSchedule
    from faultcast.models.schedule import run as run_schedule

    _configure_logging(True)
    try:
        plan = RetrainSchedule(retrain_cron, timedelta(seconds=parse_duration(drift_debounce)))
        fc = connect(db)
    except (FaultcastError, ValueError) as e:
        _fail(e)

    def job(trigger: str) -> None:
        result = fc.retrain(since=since, holdout=holdout, trigger=trigger)
        err.print(f"retrain ({trigger}): {result['decision']}: {result['reason']}")

    err.print(f"retraining on '{retrain_cron}' (UTC) and on drift; Ctrl-C to stop")
    try:
        run_schedule(fc._writable("retrain"), plan, job, poll_seconds=parse_duration(poll))
    except (KeyboardInterrupt, SystemExit):
        err.print("stopped")


@app.command()
def recommend(
    error_type: Annotated[
        str | None, typer.Argument(help="The error's type: exception class or error code.")
    ] = None,
    db: DbOption = Path("faultcast.duckdb"),
    category: Annotated[
        str | None, typer.Option(help="Its category (default: from the type or message).")
    ] = None,
    message: Annotated[
        str | None, typer.Option(help="Its message (its pattern is context).")
    ] = None,
    service: Annotated[str | None, typer.Option(help="The service (unit) it happened in.")] = None,
    rate: Annotated[
        float | None, typer.Option(help="The unit's recent errors per minute (5 min window).")
    ] = None,
    action: Annotated[
        list[str] | None, typer.Option(help="Only these actions (repeatable): what you can do.")
    ] = None,
    since: SinceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recommend a recovery for an error, learned from the recorded recovery outcomes."""
    if error_type is None and category is None and message is None:
        _fail(ValueError("give an error type, --category or --message"))
    error = {
        "error_type": error_type,
        "category": category,
        "message": message,
        "service": service,
        "recent_error_rate": rate,
    }
    try:
        with connect(db) as fc:
            fc.store.counts()  # a clear error when there is no store at --db
            advice = fc.recommend(error, actions=action or None, since=since)
    except FaultcastError as e:
        _fail(e)
    if json_out:
        _emit(advice.to_dict())
        return
    table = Table(show_lines=False)
    for column in ("action", "expected success", "outcomes"):
        table.add_column(column, no_wrap=True)
    table.add_row(
        f"[bold]{advice.action}[/bold]", f"{advice.expected_success:.0%}", str(advice.trials)
    )
    for alt in advice.alternatives:
        table.add_row(alt.action, f"{alt.expected_success:.0%}", str(alt.trials))
    out.print(table)
    out.print(advice.reason)


models_app = typer.Typer(
    help="The model registry: list versions, promote one, roll back.", no_args_is_help=False
)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """List model versions (newest first) with their status and metrics."""
    if ctx.invoked_subcommand is not None:
        return
    _configure_logging(False)
    try:
        with connect(db) as fc:
            df = fc.models()
    except FaultcastError as e:
        _fail(e)
    if json_out:
        df = df.assign(
            metrics=[json.loads(m) for m in df["metrics"]],
            params=[json.loads(m) for m in df["params"]],
        )
        _emit_frame("models", df)
        return
    if df.empty:
        out.print(f"no models in {db} yet: run `faultcast learn --db {db}`")
        return
    table = Table(title="models", title_justify="left")
    for column in ("name", "version", "status", "created", "bytes", "metrics"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(
            row.name,
            str(row.version),
            row.status,
            str(row.created_at),
            f"{row.bytes or 0:,}",
            row.metrics,
        )
    out.print(table)


@models_app.command("promote")
def models_promote(
    version: Annotated[int, typer.Argument(help="The version to make production.")],
    name: Annotated[str, typer.Option("--name", help="The model.")] = "unit_failure",
    db: DbOption = Path("faultcast.duckdb"),
) -> None:
    """Make VERSION the production version of the model."""
    _configure_logging(False)
    try:
        with connect(db) as fc:
            fc.registry.promote(name, version)
    except FaultcastError as e:
        _fail(e)
    out.print(f"{name} version {version} is now production")


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Option("--name", help="The model.")] = "unit_failure",
    db: DbOption = Path("faultcast.duckdb"),
) -> None:
    """Make the version before the production one production again."""
    _configure_logging(False)
    try:
        with connect(db) as fc:
            version = fc.registry.rollback(name)
    except FaultcastError as e:
        _fail(e)
    out.print(f"{name} rolled back to version {version}")


# Commands that live in their own modules.
from faultcast import _cli_dashboard, _cli_serve  # noqa: E402

_cli_dashboard.register(app)
_cli_serve.register(app)


def _version(value: bool) -> None:
    if value:
        from faultcast import __version__

        out.print(f"faultcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Predictive error analytics."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main()
