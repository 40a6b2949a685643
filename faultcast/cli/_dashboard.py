"""The `faultcast dashboard` command (registered on the CLI by :func:`register`).

It runs ``streamlit run <faultcast/dashboard/app.py>`` bound to 127.0.0.1 by default, with
the store paths after ``--``, and waits for it (Ctrl-C stops it).

Examples
--------
>>> command = streamlit_command([Path("a.duckdb")], port=8600)
>>> command[1:4], command[-3:-1], command[-1].endswith("a.duckdb")
(['-m', 'streamlit', 'run'], ['--', '--db'], True)
>>> command[command.index("--server.address") + 1], command[command.index("--server.port") + 1]
('127.0.0.1', '8600')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from faultcast.cli._common import check_number, command

#: What the dashboard prints when it serves beyond this machine.
NO_LOGIN_WARNING = (
    "warning: the dashboard has no login: everyone who can reach {address}:{port} sees every "
    "stored event, pattern and prediction. Serve it on 127.0.0.1 and reach it through an SSH "
    "tunnel or a proxy that authenticates, or keep this address on a network you trust."
)


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP address or host name) only reaches this machine.

    >>> [is_loopback(a) for a in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5", "::")]
    [True, True, True, False, False, False]
    """
    import ipaddress

    host = address.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def _app_path() -> Path:
    """Where the entry file is: beside this package in a checkout or an editable install,
    else in the installed ``faultcast.dashboard`` package."""
    import faultcast.dashboard

    return Path(faultcast.dashboard.__file__).resolve().parent / "app.py"


def streamlit_command(
    db: Sequence[Path],
    *,
    port: int = 8501,
    address: str = "127.0.0.1",
    headless: bool = True,
) -> list[str]:
    """The command line that serves the dashboard for the stores ``db``."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(_app_path()),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--",
    ]
    for path in db:
        command += ["--db", str(Path(path).expanduser().resolve())]
    return command


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to ``app``."""

    @command(app)
    def dashboard(
        db: Annotated[
            list[Path] | None,
            typer.Option(
                "--db",
                help="The faultcast store (a DuckDB file); repeat it to read shards as one.",
                metavar="PATH",
            ),
        ] = None,
        port: Annotated[
            int, typer.Option("--port", help="The port to serve on.", metavar="PORT")
        ] = 8501,
        address: Annotated[
            str,
            typer.Option(
                "--address",
                help="The address to bind (127.0.0.1: this machine only; 0.0.0.0: everyone).",
                metavar="HOST",
            ),
        ] = "127.0.0.1",
        open_browser: Annotated[
            bool, typer.Option("--open/--no-open", help="Open a browser tab.", metavar="")
        ] = False,
    ) -> None:
        """Serve the Streamlit dashboard for a store (stays up while ingest or serve writes).

        The dashboard has no login: on an --address other than loopback everyone who can
        reach it sees everything stored (a warning says so).
        """
        check_number(port, "--port", low=1, high=65535)
        if not address.strip() or any(c.isspace() or ord(c) < 32 for c in address):
            raise ValueError(f"--address {address!r} is not an address or host name")
        if not is_loopback(address):
            typer.echo(NO_LOGIN_WARNING.format(address=address, port=port), err=True)
        paths = db or [Path(p) for p in os.environ.get("FAULTCAST_DB", "").split(os.pathsep) if p]
        paths = paths or [Path("faultcast.duckdb")]
        command = streamlit_command(paths, port=port, address=address, headless=not open_browser)
        typer.echo(f"faultcast dashboard: http://{address}:{port}  (Ctrl-C stops it)", err=True)
        sys.stderr.flush()
        # Become Streamlit: SIGTERM and Ctrl-C reach the server itself, and no child is left
        # behind when this process is stopped.
        os.execv(command[0], command)
