"""The ``faultcast`` command line.

Every command takes ``--db PATH`` (default ``./faultcast.duckdb``); commands that report take
``--json`` and then print exactly one JSON object on stdout (logs and progress go to stderr).

One module per command group, each importing what it needs (the facade, DuckDB, pandas, rich)
inside its commands, when they run: ``faultcast --help`` and ``--version`` load none of it.

- :mod:`._common`: shared options, output (:func:`emit`), errors, progress bars, logging;
- :mod:`._ingest`: ``ingest``, ``simulate``, ``demo``;
- :mod:`._browse`: ``events``, ``patterns``, ``quarantine``;
- :mod:`._models`: ``learn``, ``predict``, ``backtest``, ``retrain``, ``schedule``,
  ``recommend`` and the ``models`` group;
- :mod:`._dashboard`: ``dashboard``; :mod:`._serve`: ``serve``;
- :mod:`._app`: the application that registers them, and :func:`main`.
"""

from __future__ import annotations

from faultcast.cli._app import app, main

__all__ = ["app", "main"]
