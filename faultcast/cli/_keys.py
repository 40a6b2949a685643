"""The ``keys`` group: API keys of the HTTP API (``faultcast serve --http``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faultcast.cli._common import DbOption, JsonOption, cell, command, emit, emit_frame, fail, out


def keys_create(
    name: Annotated[
        str, typer.Argument(help="What the key is for, e.g. checkout-prod.", metavar="NAME")
    ],
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="ingest (send events), read (query) or admin (both).", metavar="SCOPE"
        ),
    ] = "ingest",
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Create an API key and print it: it is shown only this once (the store keeps a hash).

    Send it as "Authorization: Bearer KEY", or as the public key of a Sentry DSN
    (http://KEY@HOST:PORT/1).  A running server sees it within two seconds.
    """
    from faultcast.ingest.errors import FaultcastError
    from faultcast.ingest.keys import KeyStore
    from faultcast.ingest.store import Store

    try:
        with Store(db) as store:
            key = KeyStore(store).create(name, scope=scope)
    except (FaultcastError, ValueError) as e:
        fail(e)
    if json_out:
        emit({"name": name, "scope": scope, "key": key})
    else:
        typer.echo(key)


def keys_list(db: DbOption = Path("faultcast.duckdb"), json_out: JsonOption = False) -> None:
    """List the API keys (their names, scopes and first characters; never the keys)."""
    from rich.table import Table

    from faultcast.ingest.errors import FaultcastError
    from faultcast.ingest.keys import KeyStore
    from faultcast.ingest.store import Store

    try:
        with Store(db) as store:
            df = KeyStore(store).list()
    except FaultcastError as e:
        fail(e)
    if json_out:
        emit_frame("keys", df)
        return
    table = Table()
    for column in df.columns:
        table.add_column(column, no_wrap=True)
    for row in df.itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    out().print(table)


def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.", metavar="NAME")],
    db: DbOption = Path("faultcast.duckdb"),
    json_out: JsonOption = False,
) -> None:
    """Revoke an API key: a running server refuses it within two seconds."""
    from faultcast.ingest.errors import FaultcastError
    from faultcast.ingest.keys import KeyStore
    from faultcast.ingest.store import Store

    try:
        with Store(db) as store:
            revoked = KeyStore(store).revoke(name)
    except FaultcastError as e:
        fail(e)
    if not revoked:
        fail(ValueError(f"no key in use is named {name!r} (faultcast keys list shows them)"))
    if json_out:
        emit({"revoked": name})
    else:
        typer.echo(f"revoked {name}")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to ``app``."""
    keys_app = typer.Typer(
        help="API keys of the HTTP API: create, list, revoke.", no_args_is_help=True
    )
    command(keys_app, "create")(keys_create)
    command(keys_app, "list")(keys_list)
    command(keys_app, "revoke")(keys_revoke)
    app.add_typer(keys_app, name="keys")
