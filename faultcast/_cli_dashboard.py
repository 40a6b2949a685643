"""The `faultcast dashboard` command (registered on the CLI by :func:`register`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the command to ``app`` (being built in this session)."""
