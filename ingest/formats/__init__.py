"""Input formats behind one interface, looked up by name.

A format knows three things about its input:

- **sniff**: does the head of a file look like this format (else, why not: the message the
  user sees);
- **event boundaries**: :attr:`InputFormat.event_start`, the regular expression a line that
  starts an event matches (continuation lines, such as a traceback's, belong to the event
  before them), or ``None`` when every line is one event;
- **parse**: with a batch of lines registered on a DuckDB connection as
  ``batch(line_no BIGINT, line VARCHAR)``, create the temp table ``parsed``: ``line_no``,
  ``raw`` (the event's text, NULL when it needs no quarantine), ``reason`` (NULL for a good
  event, else what is wrong), ``given_id`` (the producer gave the event id) and the event
  columns that come from the input (``event_id`` .. ``attrs`` of
  :data:`~faultcast.ingest.schema.EVENT_COLUMNS`; the pipeline adds source, source_offset
  and ingested_at), all in SQL.

The pipeline does the rest (reading, redaction, templates, storing exactly once), so a new
input is one module that builds its format from :class:`FormatOptions` and registers it::

    register("json", JsonLines.from_options)

Examples
--------
>>> from faultcast.ingest import formats
>>> sorted(formats.names())
['json', 'text']
>>> formats.get("json", FormatOptions()).event_start is None
True
>>> formats.get("text", FormatOptions(log_format="<Level> <Content>")).event_start
'^(?P<Level>.*?)\\\\s+(?P<Content>.*?)$'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from faultcast.ingest.errors import IngestError
from faultcast.ingest.jsonl import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "FormatOptions",
    "InputFormat",
    "choose",
    "for_source",
    "get",
    "names",
    "register",
]


@dataclass(frozen=True)
class FormatOptions:
    """What the user said about the input; each format takes the options it understands."""

    #: Service name for events that carry none.
    service: str | None = None
    #: The field holding the session key, or a regular expression whose first match in the
    #: message is the key.
    session_key: str | None = None
    #: A text log's layout, logparser syntax (``<Date> <Time> <Level> <Content>``).
    log_format: str | None = None
    #: A text log's time: one strptime format for its time fields, or ``FIELD=FORMAT`` each
    #: (inferred from the file's first lines when not given).
    time_format: str | tuple[str, ...] | None = None
    #: The year of text time forms without one (None: the file's modification year).
    year: int | None = None
    limits: Limits = DEFAULT_LIMITS


class InputFormat(Protocol):
    """One input format (see the module docstring)."""

    @property
    def name(self) -> str:
        """Its name in the registry (``--format NAME``)."""
        ...

    @property
    def event_start(self) -> str | None:
        """The regular expression a line starting an event matches; None: one event per line."""
        ...

    @property
    def sniff_when_named(self) -> bool:
        """Whether :meth:`sniff` runs when the user named the format (not only for ``auto``)."""
        ...

    def sniff(self, path: str, head: bytes) -> str | None:
        """None when ``head`` (the first bytes of ``path``) looks like this format, else the
        message that tells the user why not and what to do."""
        ...

    def parse(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        """Parse the registered ``batch`` into temp table ``parsed``."""
        ...


FormatFactory = Callable[[FormatOptions], InputFormat]

_REGISTRY: dict[str, FormatFactory] = {}


def register(name: str, factory: FormatFactory) -> None:
    """Make ``factory`` (options → format) available as ``name``."""
    _REGISTRY[name] = factory


def names() -> tuple[str, ...]:
    """The registered format names."""
    return tuple(_REGISTRY)


def get(name: str, options: FormatOptions) -> InputFormat:
    """The format ``name`` for ``options`` (raises :class:`IngestError` on bad options)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise IngestError(
            f"unknown format {name!r}: use {', '.join(repr(n) for n in _REGISTRY)} or 'auto'"
        ) from None
    return factory(options)


def choose(name: str, options: FormatOptions) -> InputFormat:
    """The format for ``--format name``; ``"auto"`` is text when a log format is given, else
    JSON lines."""
    if name == "auto":
        name = "text" if options.log_format else "json"
    return get(name, options)


def for_source(fmt: InputFormat, source: str) -> InputFormat:
    """``fmt`` as it applies to ``source``: a format that decides per file (a text log's
    detected layout) resolves here; others are the same for every source."""
    resolve = getattr(fmt, "for_source", None)
    return fmt if resolve is None else resolve(source)


def _register_builtins() -> None:
    from faultcast.ingest.formats.jsonl import JsonLines
    from faultcast.ingest.formats.text import TextLog

    register("json", JsonLines.from_options)
    register("text", TextLog.from_options)


_register_builtins()
