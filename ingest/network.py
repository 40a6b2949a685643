"""Events that arrive over the network (HTTP requests), stored many requests at a time.

Each request's events are faultcast JSON lines (OTLP and Sentry payloads are converted by
:mod:`faultcast.ingest.formats.otlp` and :mod:`faultcast.ingest.formats.sentry`), and go
through :meth:`~faultcast.ingest.pipeline.Ingestor.ingest_lines`: the same parse, redaction,
templates and quarantine as a file's lines.  Several requests are committed together (group
commit): one transaction per source for all the requests of a batch.

A line's ``source_offset`` is ``request digest × 2**20 + its index in the request``, where the
digest is 42 bits of the BLAKE2 hash of the request body.  So a line without an ``event_id``
gets the same hashed id when the same request is sent again (a client's retry stores nothing
twice), and two different requests never collide.  A body that cannot be read at all is
quarantined whole, with the reason (:meth:`NetworkIngest.quarantine_payload`).

Examples
--------
>>> from faultcast.ingest.store import Store
>>> net = NetworkIngest(Ingestor(Store(":memory:")))
>>> body = b'{"event": "db down", "level": "error", "ts": "2026-01-01T00:00:00Z"}\\nnot json'
>>> requests = [Request("http:/v1/events", body, body.split(b"\\n"))]
>>> [result] = net.store(requests)
>>> result.accepted, result.quarantined, result.errors[0][:12]
(1, 1, 'invalid JSON')
>>> net.store(requests)[0].accepted, net.ingestor.store.counts()
(1, {'events': 1, 'quarantined': 1})
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from faultcast.ingest.pipeline import Ingestor, IngestReport

__all__ = ["MAX_LINES_PER_REQUEST", "NetworkIngest", "Request", "RequestResult", "offsets_of"]

#: Lines one request may carry (its index takes 20 bits of the offset).
MAX_LINES_PER_REQUEST = 1 << 20
_DIGEST_BITS = 42


def request_digest(body: bytes) -> int:
    """42 bits of the body's BLAKE2b hash (the high part of its lines' offsets)."""
    raw = hashlib.blake2b(body, digest_size=8).digest()
    return int.from_bytes(raw, "big") >> (64 - _DIGEST_BITS)


def offsets_of(digest: int, n: int) -> list[int]:
    """The ``source_offset`` of each of a request's ``n`` lines."""
    base = digest << 20
    return list(range(base, base + n))


@dataclass
class Request:
    """One request's events: its ``source`` (``http:/v1/events``...), the body it came in
    (hashed for the offsets) and its JSON lines."""

    source: str
    body: bytes
    lines: Sequence[bytes]
    digest: int = -1

    def __post_init__(self) -> None:
        if len(self.lines) > MAX_LINES_PER_REQUEST:
            raise ValueError(
                f"{len(self.lines)} events in one request; the limit is {MAX_LINES_PER_REQUEST}"
            )
        if self.digest < 0:
            self.digest = request_digest(self.body)


@dataclass
class RequestResult:
    """What became of one request's events once committed."""

    #: Lines stored now or before (a resent event counts as accepted).
    accepted: int = 0
    quarantined: int = 0
    #: The reasons of the quarantined lines (the first ten).
    errors: list[str] = field(default_factory=list)


class NetworkIngest:
    """Stores batches of requests into the ingestor's store (one writer; not thread-safe)."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        #: The report of each source of the last :meth:`store` call.
        self.batch: list[tuple[str, IngestReport]] = []

    def store(self, requests: Sequence[Request], service: str | None = None) -> list[RequestResult]:
        """Commit every request's lines (one transaction per source); a result per request.

        The same body twice in one batch is stored once and both get its result."""
        results: list[RequestResult] = [RequestResult() for _ in requests]
        self.batch = []
        by_source: dict[str, dict[int, list[int]]] = {}
        for i, r in enumerate(requests):
            by_source.setdefault(r.source, {}).setdefault(r.digest, []).append(i)
        for source, digests in by_source.items():
            lines: list[bytes | None] = []
            offsets: list[int] = []
            for digest, indexes in digests.items():
                first = requests[indexes[0]]
                lines.extend(first.lines)
                offsets.extend(offsets_of(digest, len(first.lines)))
            done = self.ingestor.ingest_lines(
                lines, source=source, offsets=offsets, service=service
            )
            self.batch.append((source, done.report))
            bad: dict[int, list[str]] = {}
            for offset, reason in done.quarantined:
                bad.setdefault(offset >> 20, []).append(reason)
            for digest, indexes in digests.items():
                reasons = bad.get(digest, [])
                n = len(requests[indexes[0]].lines)
                for i in indexes:
                    results[i] = RequestResult(n - len(reasons), len(reasons), reasons[:10])
        return results

    def fold_wal(self, max_wal_bytes: int = 4 * 1024 * 1024) -> bool:
        """Checkpoint when the store's write-ahead log passed ``max_wal_bytes``; True if so.

        Every read and commit attaches the file and replays its WAL, so many small commits
        (network requests) keep it short rather than letting it grow to DuckDB's threshold."""
        store = self.ingestor.store
        if store.is_memory:
            return False
        try:
            size = os.path.getsize(store.path + ".wal")
        except OSError:
            return False
        if size <= max_wal_bytes:
            return False
        store.checkpoint()
        return True

    def quarantine_payload(self, source: str, body: bytes, reason: str) -> bool:
        """Keep a request body that could not be read (redacted) in ``quarantine`` with
        ``reason``; False when the same body is there already."""
        text = body.decode("utf-8", "backslashreplace")
        redacted, _ = self.ingestor.redactor.redact(text)
        offset = request_digest(body) << 20
        store = self.ingestor.store
        with store.writing() as w:
            added = w.execute(
                "INSERT INTO store.quarantine SELECT $source, $offset, $raw, $reason, now() "
                "WHERE NOT EXISTS (SELECT 1 FROM store.quarantine q WHERE q.source = $source "
                "AND q.source_offset = $offset AND q.raw = $raw) RETURNING 1",
                {"source": source, "offset": offset, "raw": redacted, "reason": reason},
            ).fetchall()
        return bool(added)
