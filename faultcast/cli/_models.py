"""The model commands: ``learn``, ``predict``, ``backtest``, ``retrain``, ``schedule``,
``recommend`` and the ``models`` group (the registry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from faultcast.cli._common import (
    DbOption,
    HorizonOption,
    JsonOption,
    SinceOption,
    VerboseOption,
    cell,
    check_choice,
    check_duration,
    check_file,
    check_number,
    check_time,
    command,
    configure_logging,
    duration_option,
    emit,
    emit_frame,
    err,
    fail,
    fmt_pct,
    help_text,
    out,
    printable,
    progress_bar,
    safe,
)


def _unit_columns() -> tuple[str, ...]:
    from faultcast.models.features import UNIT_COLUMNS

    columns: tuple[str, ...] = UNIT_COLUMNS
    return columns


def learn(
    db: DbOption = Path("faultcast.duckdb"),
    unit: Annotated[
        str,
        typer.Option(
            "--unit-column",
            help="The unit predicted for: service, host, component.",
            metavar="COLUMN",
        ),
    ] = "service",
    horizon: HorizonOption = "15m",
    tick: Annotated[str, duration_option("--tick", help="Prediction tick (event time).")] = "1m",
    sessions: Annotated[
        bool,
        typer.Option(
            "--sessions", help="Also score and learn every session that ended since.", metavar=""
        ),
    ] = False,
    session_column: Annotated[
        str,
        typer.Option(
            "--session-column", help="What a session is (default session_key).", metavar="COLUMN"
        ),
    ] = "session_key",
    session_idle: Annotated[
        str,
        duration_option("--session-idle", help="A session ended after this long without events."),
    ] = "5m",
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Feed the events not learned yet through the online failure model and store its predictions.

    Resumable and idempotent: run it after every ingest (or on a schedule); an unchanged store
    learns nothing.  --unit-column, --horizon and --tick apply to the first run on a store.
    """
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_choice(unit, "--unit-column", _unit_columns())
    check_duration(horizon, "--horizon")
    check_duration(tick, "--tick")
    check_choice(session_column, "--session-column", _unit_columns())
    check_duration(session_idle, "--session-idle")
    configure_logging(verbose)
    show = not json_out and err().is_terminal
    try:
        with connect(db) as fc, progress_bar(show) as progress:
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
        fail(e)
    if json_out:
        emit(summary)
        return
    if sessions:
        s = summary["sessions"]
        out().print(
            f"sessions: learned {s['sessions']:,} that ended, {s.get('flagged', 0):,} flagged anomalous "
            f"(model version {s['model_version']})"
        )
    if not summary["ticks"]:
        out().print("nothing new to learn (every complete tick is learned)")
        return
    learning = summary.get("status", "ready") != "ready"
    # While it learns, the threshold is on a scale with nothing to calibrate it yet: not shown.
    threshold = "none yet" if learning else f"{summary['threshold']:.3f}"
    out().print(
        f"learned {summary['ticks']:,} ticks ({summary['rows']:,} unit-ticks, {summary['from']} .. {summary['to']}); "
        f"model version {summary['model_version']}, alert threshold {threshold}, "
        f"{summary['drift_events']} drift events"
        + (f"; {summary['status']} (no alerts until then)" if learning else "")
    )


def predict(
    db: DbOption = Path("faultcast.duckdb"),
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only this unit.", metavar="UNIT")
    ] = None,
    horizon: HorizonOption = "15m",
    json_out: JsonOption = False,
) -> None:
    """Risk of a failure within the horizon per unit, as of the last learned tick, and why."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_duration(horizon, "--horizon")
    configure_logging(False)
    try:
        with connect(db) as fc:
            df = fc.predict_failure(unit=unit, horizon=horizon)
            versions = fc.models("unit_failure")
    except (FaultcastError, ValueError) as e:
        fail(e)
    if df.empty and versions.empty:
        fail(FaultcastError(f"no predictions in {db}: run `faultcast learn --db {db}` first"))
    if unit is not None and df.empty:
        fail(
            FaultcastError(
                f"no prediction for unit {printable(repr(unit))}; units: see `faultcast predict --db {db}`"
            )
        )
    if json_out:
        payload = json.loads(df.to_json(orient="records", date_format="iso"))
        emit(
            {
                "predictions": payload,
                "count": len(df),
                "model_version": int(df["model_version"].iloc[0]) if len(df) else None,
                "status": str(df["status"].iloc[0]) if len(df) else None,
                "as_of": payload[0]["as_of"] if payload else None,
            }
        )
        return
    table = Table(title=f"failure risk within {safe(horizon)}", title_justify="left")
    for column in ("unit", "risk", "alert", "anomaly", "why"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(
            cell(row.unit),
            f"{row.risk:.3f}",
            "ALERT" if row.alert else "",
            f"{row.anomaly_score:.1f}",
            cell("; ".join(row.top_features)),
        )
    out().print(table)
    if len(df):
        out().print(
            f"as of {df['as_of'].iloc[0]}, answered by production version "
            f"{df['model_version'].iloc[0]} of unit_failure"
        )
        if df["status"].iloc[0] != "ready":
            out().print(f"{df['status'].iloc[0]}: no alerts until then")


def backtest(
    db: DbOption = Path("faultcast.duckdb"),
    mode: Annotated[
        str, typer.Option("--mode", help="unit (per service/host) or session.", metavar="MODE")
    ] = "unit",
    unit_column: Annotated[
        str,
        typer.Option(
            "--unit-column", help="Unit mode: service, host or component.", metavar="COLUMN"
        ),
    ] = "service",
    horizon: HorizonOption = "15m",
    tick: Annotated[str, duration_option("--tick", help="Unit mode: prediction tick.")] = "1m",
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Session mode: CSV with a header and columns key,label.",
            metavar="FILE",
        ),
    ] = None,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised", help="Session mode: learn from no labels at all.", metavar=""
        ),
    ] = False,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Replay the store's history in time order: predict first, learn when the label is due.

    Prints precision, recall, F1, PR-AUC, alerts, positives and median lead time, and the same
    for the baselines of the same run, all on the second half of the history: a static
    error-rate threshold, a surge-count rule (any pattern k sigma above its hour), batch
    logistic regression and batch gradient boosting (scikit-learn, trained on the first half).
    """
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_choice(mode, "--mode", ("unit", "session"))
    check_choice(unit_column, "--unit-column", _unit_columns())
    check_duration(horizon, "--horizon")
    check_duration(tick, "--tick")
    check_file(labels, "--labels")
    configure_logging(verbose)
    show = not json_out and err().is_terminal
    try:
        with connect(db) as fc, progress_bar(show) as progress:
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
        fail(e)
    if json_out:
        emit(result)
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
            fmt_pct(m.get("precision")),
            fmt_pct(m.get("recall")),
            fmt_pct(m.get("f1")),
            fmt_pct(m.get("pr_auc")),
            str(m.get("alerts")),
            str(m.get("positives")),
            "-" if lead is None else f"{lead:.0f}",
        )

    add("online (whole history)", result)
    add("online (second half)", result.get("second_half", {}).get("online"))
    baselines = result.get("baselines", {})
    for name in ("static_threshold", "surge_rule", "batch_sklearn", "batch_gbm"):
        if isinstance(baselines.get(name), dict):
            add(f"baseline: {name} (second half)", baselines[name])
        elif name in baselines:
            table.add_row(f"baseline: {name}", "-", "-", "-", "-", "-", "-", "-")
    out().print(table)
    ece = result.get("second_half", {}).get("online", {}).get("ece")
    if ece is not None:
        out().print(f"expected calibration error (second half): {ece:.3f}")
    if baselines.get("note"):
        out().print(f"baselines: {baselines['note']}")


def retrain(
    db: DbOption = Path("faultcast.duckdb"),
    since: Annotated[
        str, duration_option("--since", help="History to train on, before the latest event.")
    ] = "30d",
    holdout: Annotated[
        str, duration_option("--holdout", help="The most recent span scored, never trained on.")
    ] = "1d",
    margin: Annotated[
        float,
        typer.Option(
            "--margin", help="PR-AUC a candidate must gain over production.", metavar="NUMBER"
        ),
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
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_duration(since, "--since")
    check_duration(holdout, "--holdout")
    check_number(margin, "--margin", low=-1.0, high=1.0)
    configure_logging(verbose)
    try:
        with connect(db) as fc:
            result = fc.retrain(since=since, holdout=holdout, margin=margin)
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        emit(result)
        return
    out().print(f"[bold]{safe(result['decision'])}[/]: {safe(result['reason'])}")
    if result.get("candidates"):
        table = Table(title="holdout", title_justify="left")
        for column in ("", "version", "pr_auc", "precision", "recall", "f1"):
            table.add_column(column)
        production = result.get("production") or {}
        table.add_row(
            "production",
            str(production.get("version")),
            fmt_pct(production.get("pr_auc")),
            "-",
            "-",
            "-",
        )
        for name, m in result["candidates"].items():
            table.add_row(
                name,
                str(m.get("version")),
                fmt_pct(m.get("pr_auc")),
                fmt_pct(m.get("precision")),
                fmt_pct(m.get("recall")),
                fmt_pct(m.get("f1")),
            )
        out().print(table)


def schedule(
    db: DbOption = Path("faultcast.duckdb"),
    retrain_cron: Annotated[
        str,
        typer.Option(
            "--retrain-cron", help="When to retrain, a crontab line in UTC.", metavar="CRON"
        ),
    ] = "0 3 * * *",
    drift_debounce: Annotated[
        str, duration_option("--drift-debounce", help="Retrain on drift at most this often.")
    ] = "1h",
    poll: Annotated[str, duration_option("--poll", help="How often to check.")] = "1m",
    since: Annotated[
        str, duration_option("--since", help="History to train on, before the latest event.")
    ] = "30d",
    holdout: Annotated[
        str, duration_option("--holdout", help="The most recent span scored, never trained on.")
    ] = "1d",
) -> None:
    """Run retraining on a cron schedule, and on drift events (debounced), in the foreground."""
    from datetime import timedelta

    from faultcast._facade import connect
    from faultcast.ingest.durations import parse_duration
    from faultcast.ingest.errors import FaultcastError
    from faultcast.models.schedule import RetrainSchedule
    from faultcast.models.schedule import run as run_schedule

    for value, option in (
        (drift_debounce, "--drift-debounce"),
        (poll, "--poll"),
        (since, "--since"),
        (holdout, "--holdout"),
    ):
        check_duration(value, option)
    try:
        RetrainSchedule(retrain_cron)
    except ValueError as e:
        raise ValueError(f"--retrain-cron {printable(e)}") from None
    configure_logging(True)
    try:
        plan = RetrainSchedule(
            retrain_cron, timedelta(seconds=parse_duration(drift_debounce, "--drift-debounce"))
        )
        fc = connect(db)
    except (FaultcastError, ValueError) as e:
        fail(e)

    def job(trigger: str) -> None:
        result = fc.retrain(since=since, holdout=holdout, trigger=trigger)
        err().print(f"retrain ({trigger}): {result['decision']}: {result['reason']}")

    err().print(f"retraining on '{retrain_cron}' (UTC) and on drift; Ctrl-C to stop")
    try:
        run_schedule(
            fc._writable("retrain"), plan, job, poll_seconds=parse_duration(poll, "--poll")
        )
    except (KeyboardInterrupt, SystemExit):
        err().print("stopped")


def recommend(
    error_type: Annotated[
        str | None,
        typer.Argument(
            help="The error's type: exception class or error code.", metavar="ERROR_TYPE"
        ),
    ] = None,
    db: DbOption = Path("faultcast.duckdb"),
    category: Annotated[
        str | None,
        typer.Option(help="Its category (default: from the type or message).", metavar="CATEGORY"),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(help="Its message (its pattern is context).", metavar="MESSAGE"),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="The service (unit) it happened in.", metavar="SERVICE")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="The unit's recent errors per minute (5 min window).", metavar="RATE"),
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(help="Only these actions (repeatable): what you can do.", metavar="ACTION"),
    ] = None,
    since: SinceOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recommend a recovery for an error, learned from the recorded recovery outcomes."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    if error_type is None and category is None and message is None:
        fail(ValueError("give an error type, --category or --message"))
    check_time(since, "--since")
    check_number(rate, "--rate", low=0.0)
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
        fail(e)
    if json_out:
        emit(advice.to_dict())
        return
    table = Table(show_lines=False)
    for column in ("action", "expected success", "outcomes"):
        table.add_column(column, no_wrap=True)

    def success(value: float | None) -> str:
        return "no outcomes" if value is None else f"{value:.0%}"

    table.add_row(
        f"[bold]{cell(advice.action)}[/bold]", success(advice.expected_success), str(advice.trials)
    )
    for alt in advice.alternatives:
        table.add_row(cell(alt.action), success(alt.expected_success), str(alt.trials))
    out().print(table)
    out().print(printable(advice.reason), markup=False, highlight=False)


def models(
    ctx: typer.Context,
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """List model versions (newest first) with their status and metrics."""
    from rich.table import Table

    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    if ctx.invoked_subcommand is not None:
        return
    configure_logging(False)
    try:
        with connect(db) as fc:
            df = fc.models()
            unsigned = set(fc.registry.unsigned()) if len(df) else set()
    except FaultcastError as e:
        fail(e)
    # Whether the version loads: its blob is kept and signed with this machine's model key.
    df = df.assign(
        signed=[
            bool(b == b and b) and (n, int(v)) not in unsigned
            for n, v, b in zip(df["name"], df["version"], df["bytes"], strict=True)
        ]
    )
    if json_out:
        df = df.assign(
            metrics=[json.loads(m) for m in df["metrics"]],
            params=[json.loads(m) for m in df["params"]],
        )
        emit_frame("models", df)
        return
    if df.empty:
        err().print(f"no models in {safe(db)} yet: run `faultcast learn --db {safe(db)}`")
        return
    table = Table(title="models", title_justify="left")
    for column in ("name", "version", "status", "created", "bytes", "signed", "metrics"):
        table.add_column(column, overflow="fold")
    for row in df.itertuples():
        table.add_row(
            cell(row.name),
            str(row.version),
            cell(row.status),
            cell(row.created_at),
            f"{row.bytes or 0:,}",
            "yes" if row.signed else "NO" if row.bytes == row.bytes and row.bytes else "",
            cell(row.metrics),
        )
    out().print(table)


def models_promote(
    version: Annotated[
        int, typer.Argument(help="The version to make production.", metavar="VERSION")
    ],
    name: Annotated[
        str, typer.Option("--name", help="The model.", metavar="NAME")
    ] = "unit_failure",
    db: DbOption = Path("faultcast.duckdb"),
) -> None:
    """Make VERSION the production version of the model."""
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    check_number(version, "VERSION", low=1)
    configure_logging(False)
    try:
        with connect(db) as fc:
            fc.registry.promote(name, version)
    except FaultcastError as e:
        fail(e)
    out().print(f"{safe(name)} version {version} is now production")


def models_rollback(
    name: Annotated[
        str, typer.Option("--name", help="The model.", metavar="NAME")
    ] = "unit_failure",
    db: DbOption = Path("faultcast.duckdb"),
) -> None:
    """Make the version before the production one production again."""
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    configure_logging(False)
    try:
        with connect(db) as fc:
            version = fc.registry.rollback(name)
    except FaultcastError as e:
        fail(e)
    out().print(f"{safe(name)} rolled back to version {version}")


def models_resign(
    name: Annotated[
        str | None, typer.Option("--name", help="Only this model (default: all).", metavar="NAME")
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", help="Only this version (default: all).", metavar="VERSION"),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Do not ask: I trust everyone who can write the store.", metavar=""
        ),
    ] = False,
    db: DbOption = Path("faultcast.duckdb"),
) -> None:
    """Sign model versions with this machine's model key, so they load again.

    A version that is not signed with the key (kept outside the store, in
    $XDG_CONFIG_HOME/faultcast/model.key or FAULTCAST_MODEL_KEY) is never loaded: it may have
    been put in the store by someone else, and loading a model runs its code.  Re-sign only
    when you trust everyone who could write this store: a store made before faultcast signed
    models, a store copied from another machine, or after the key was replaced.
    """
    from faultcast._facade import connect
    from faultcast.ingest.errors import FaultcastError

    configure_logging(False)
    if version is not None and version < 1:
        fail(ValueError(f"--version must be 1 or more, not {version}"))
    try:
        with connect(db) as fc:
            todo = [
                (n, v) for n, v in fc.registry.unsigned(name) if version is None or v == version
            ]
            if not todo:
                out().print("nothing to re-sign: every stored version is signed with this key")
                return
            listed = ", ".join(f"{printable(n)} v{v}" for n, v in todo)
            err().print(
                f"{len(todo)} unsigned version(s) in {printable(fc.path)}: {listed}\n"
                "Signing them lets faultcast unpickle them, which runs whatever code they hold.",
                markup=False,
            )
            if not yes and not typer.confirm(
                "Do you trust everyone who could have written this store?", err=True
            ):
                fail(ValueError("nothing signed"))
            signed = [(n, v) for n, v in fc.registry.resign(name, version) if (n, v) in set(todo)]
    except FaultcastError as e:
        fail(e)
    out().print(f"signed {len(signed)} version(s)", markup=False)


def register(app: typer.Typer) -> None:
    """Add the model commands and the ``models`` group to ``app``."""
    for function in (learn, predict, backtest, retrain, schedule, recommend):
        command(app)(function)
    models_app = typer.Typer(
        help="The model registry: list versions, promote one, roll back, re-sign.",
        no_args_is_help=False,
    )
    models_app.callback(invoke_without_command=True, help=help_text(models.__doc__))(models)
    command(models_app, "promote")(models_promote)
    command(models_app, "rollback")(models_rollback)
    command(models_app, "resign")(models_resign)
    app.add_typer(models_app, name="models")
