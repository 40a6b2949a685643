"""The ``faultcast`` Typer application: the root options and every command group."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from faultcast.cli import _alerts, _browse, _dashboard, _ingest, _issues, _keys, _models, _serve
from faultcast.cli._common import HelpGroup

app = typer.Typer(
    name="faultcast",
    cls=HelpGroup,
    help="Predictive error analytics: ingest error events into DuckDB, mine their patterns, "
    "learn which precede failures and which recoveries work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from faultcast import __version__

        typer.echo(f"faultcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version.", metavar=""
        ),
    ] = False,
) -> None:
    """Predictive error analytics."""


_ingest.register(app)
_browse.register(app)
_models.register(app)
_dashboard.register(app)
_serve.register(app)
_keys.register(app)
_issues.register(app)
_alerts.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
