"""The commands that put events in: ``ingest``, ``simulate`` and ``demo``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from faultcast.cli._common import (
    DbOption,
    JsonOption,
    VerboseOption,
    check_ingest_options,
    command,
    configure_logging,
    emit,
    err,
    fail,
    out,
    progress_bar,
    report_table,
)


def ingest(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Log files: JSON lines (structlog or any JSON objects) or text logs, plain "
            "or gzip; - reads stdin.",
            metavar="FILE",
        ),
    ],
    db: DbOption = Path("faultcast.duckdb"),
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto, json or text (text detects its layout unless --log-format gives it).",
            metavar="FORMAT",
        ),
    ] = "auto",
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Text log header, logparser syntax: '<Date> <Time> <Pid> <Level> <Component>: <Content>'.",
            metavar="HEADER",
        ),
    ] = None,
    time_format: Annotated[
        list[str] | None,
        typer.Option(
            "--time-format",
            help="Text time, when not inferred: FIELD=STRPTIME per field (repeatable; epoch, epoch_ms .. epoch_ns), or one STRPTIME for the time fields.",
            metavar="[FIELD=]STRPTIME",
        ),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            help="Year for text time forms without one (default: the file's modification year).",
            metavar="YEAR",
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service", help="Service name for events that carry none.", metavar="SERVICE"
        ),
    ] = None,
    session_key: Annotated[
        str | None,
        typer.Option(
            "--session-key",
            help="JSON field holding the session key, or a regex whose first match in the message is it (e.g. 'blk_-?[0-9]+').",
            metavar="FIELD|REGEX",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep tailing the files (survives rotation); Ctrl-C stops.",
            metavar="",
        ),
    ] = False,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="Ignore checkpoints and re-read from line 1 (stores nothing twice).",
            metavar="",
        ),
    ] = False,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            help="Extra regex to redact (repeatable); a group named 'secret' limits it.",
            metavar="REGEX",
        ),
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option(
            "--mask",
            help="Extra regex whose matches are variable parts of templates (repeatable).",
            metavar="REGEX",
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks in --follow.", metavar="SECONDS")
    ] = 0.5,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Ingest log files into the store: JSON lines, text logs, plain or gzip.

    JSON lines: structlog output or any JSON objects, one per line.  Text logs: the layout and
    the time format are detected (pin them with --log-format and --time-format).  Gzip files
    (.gz) are read as they are; - reads stdin.  For a Kafka topic, OpenTelemetry (OTLP) logs,
    Sentry SDKs and the faultcast SDK's HTTP sink, run `faultcast serve` (--kafka, --http).

    Each line is stored once, however often you run this: a checkpoint per file resumes where
    the last run stopped, and event ids skip what is stored already.  Lines that cannot be
    stored go to the quarantine with their reason; secrets are redacted before anything is
    stored.
    """
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_ingest_options(format, log_format, time_format, year, session_key, redact, mask, poll)
    configure_logging(verbose)
    try:
        fc = connect(db, redact_patterns=list(redact or ()), masks=list(mask or ()))
    except (FaultcastError, ValueError) as e:
        fail(e)
    show = not json_out and err().is_terminal and not follow
    try:
        with progress_bar(show) as progress:
            task = progress.add_task("ingest", total=None)

            def on_progress(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            if follow and not json_out:
                err().print(f"following {', '.join(files)} into {fc.path} (Ctrl-C stops)")
            report = fc.ingest(
                files if len(files) > 1 else files[0],
                format=format,
                service=service,
                session_key=session_key,
                log_format=log_format,
                time_format=tuple(time_format) if time_format else None,
                year=year,
                follow=follow,
                from_start=from_start,
                poll_interval=poll,
                progress=on_progress,
            )
    except FaultcastError as e:
        fail(e)
    finally:
        fc.close()
    payload = report.to_dict()
    payload["db"] = fc.path
    if json_out:
        emit(payload)
    else:
        for source, chosen in payload.get("layouts", {}).items():
            time = chosen["time"]
            how = time["epoch"] and f"epoch {time['epoch']}" or " or ".join(time["formats"])
            out().print(
                f"{source}: layout {chosen['layout']}, time {'+'.join(time['fields'])} as {how}"
                f" (pin it: --log-format '{chosen['log_format']}')",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        out().print(report_table(payload))


def simulate(
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where to write the JSON lines (.gz compresses; - for stdout).",
            metavar="FILE",
        ),
    ],
    services: Annotated[int, typer.Option(help="Number of services.", metavar="N")] = 8,
    hours: Annotated[float, typer.Option(help="Hours of event time.", metavar="HOURS")] = 24.0,
    seed: Annotated[
        int, typer.Option(help="Random seed (same seed, same output).", metavar="SEED")
    ] = 0,
    start: Annotated[
        str | None,
        typer.Option(help="Start time, ISO 8601 (default 2026-01-01T00:00:00Z).", metavar="TIME"),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Mean events per service per minute (world default); for --world graph a "
            "scale on every service's own rate (default 1).",
            metavar="RATE",
        ),
    ] = None,
    world: Annotated[
        str,
        typer.Option(
            "--world",
            help="default (faultcast.simulate) or graph (faultcast.simulate_graph: a service "
            "dependency graph, built independently, to check models on a world they were not "
            "built on).",
            metavar="WORLD",
        ),
    ] = "default",
    json_out: JsonOption = False,
) -> None:
    """Write a believable multi-service error stream, with a ground-truth side file."""
    import functools

    from faultcast.cli._common import check_number
    from faultcast.simulate import simulate as run_simulation

    check_number(hours, "--hours", low=0, low_open=True)
    check_number(services, "--services", low=1)
    check_number(rate, "--rate", low=0, low_open=True)
    if world == "graph":
        from faultcast.simulate_graph import simulate_graph

        run_simulation = functools.partial(simulate_graph, rate=rate or 1.0)  # type: ignore[assignment]
    elif world == "default":
        run_simulation = functools.partial(run_simulation, rate=rate or 20.0)
    else:
        fail(ValueError(f"--world must be default or graph, not {world!r}"))

    show = not json_out and err().is_terminal and str(out_path) != "-"
    target: Any = sys.stdout.buffer if str(out_path) == "-" else out_path
    started = time.monotonic()
    with progress_bar(show) as progress:
        task = progress.add_task("simulate", total=None)
        try:
            summary = run_simulation(
                target,
                services=services,
                hours=hours,
                seed=seed,
                start=start,
                progress=lambda n: progress.update(task, completed=n),
            )
        except (ValueError, OSError) as e:
            fail(e)
    payload = {k: v for k, v in vars(summary).items()}
    payload["seconds"] = round(time.monotonic() - started, 3)
    if json_out:
        emit(payload)
    elif str(out_path) != "-":
        err().print(
            f"wrote {summary.events:,} events ({summary.failures} failures) to {summary.path}"
            + (f"; ground truth in {summary.truth_path}" if summary.truth_path else "")
        )


def demo(
    db: DbOption = Path("faultcast-demo/faultcast.duckdb"),
    services: Annotated[int, typer.Option(help="Number of services.", metavar="N")] = 8,
    hours: Annotated[float, typer.Option(help="Hours of event time.", metavar="HOURS")] = 24.0,
    seed: Annotated[int, typer.Option(help="Random seed.", metavar="SEED")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Simulate a day of events for 8 services, ingest them, learn online and print a summary."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.cli._common import check_number
    from faultcast.ingest.errors import FaultcastError
    from faultcast.simulate import simulate as run_simulation

    check_number(hours, "--hours", low=0, low_open=True)
    check_number(services, "--services", low=1)
    configure_logging(False)
    db = db.expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    events_path = db.parent / "events.jsonl"
    show = not json_out and err().is_terminal
    started = time.monotonic()
    with progress_bar(show) as progress:
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
            with progress_bar(show) as progress:
                task = progress.add_task("ingest", total=None)
                report = fc.ingest(
                    events_path,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            summary = fc.summary()
            learned = fc.learn()
            risks = fc.predict_failure()
    except FaultcastError as e:
        fail(e)
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
        emit(payload)
        return
    out().print(
        f"[bold]faultcast demo[/] — {sim.events:,} simulated events for {services} services over {hours:g} h"
    )
    out().print(report_table(payload["ingest"]))
    table = Table(title="store", show_header=False, title_justify="left")
    table.add_row("events", f"{summary['events']:,}")
    table.add_row("services", str(summary["services"]))
    table.add_row("time span", f"{summary['first']} .. {summary['last']}")
    table.add_row("failures", f"{summary['failures']:,}")
    table.add_row("templates", f"{summary['templates']:,}")
    table.add_row("levels", ", ".join(f"{k} {v:,}" for k, v in summary["levels"].items()))
    table.add_row("categories", ", ".join(f"{k} {v:,}" for k, v in summary["categories"].items()))
    table.add_row("quarantined", f"{summary['quarantined']:,}")
    out().print(table)
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
        out().print(table)
    out().print(
        f"store: {payload['db']}   try: faultcast events --db {db} --level error   "
        f"faultcast backtest --db {db}"
    )


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``simulate`` and ``demo`` to ``app``."""
    command(app)(ingest)
    command(app)(simulate)
    command(app)(demo)
