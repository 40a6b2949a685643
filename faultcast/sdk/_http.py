"""Send faultcast events over HTTP to ``faultcast serve --http`` (``POST /v1/events``)."""

from __future__ import annotations

import gzip
import logging
import random
import threading
import time
import uuid
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from faultcast.sdk._buffer import StreamBuffer
from faultcast.sdk._errors import BufferFullError, CommunicationError, DataError, StreamingError
from faultcast.sdk._log import dumps
from faultcast.sdk._logging import SinkHandler

__all__ = ["HttpHandler", "HttpSink"]

#: Answers after which the same request is refused again: never retried (dead-lettered).
_REFUSED = frozenset({400, 413, 415, 422})


class HttpSink:
    """Send faultcast events to a faultcast server: batched, retried, spilled, replayed.

    ``send(event)`` only queues (it never waits on the network); a background thread posts a
    batch every ``flush_interval`` seconds, or as soon as ``batch_size`` events are waiting.  A
    batch is retried ``retries`` times with exponential backoff and jitter (``Retry-After``
    honoured); when the server stays down, batches wait in a :class:`StreamBuffer` (on disk
    past ``memory_batches``, under ``spill_dir``) and are replayed oldest first once it is back.
    Each event gets an ``event_id`` when it has none, so a batch the server stored but whose
    answer was lost is stored once when it is sent again: nothing lost, nothing duplicated.
    A batch the server refuses as bad (400, 413) is not retried: it goes to :attr:`rejected`.

    Also a structlog processor (``processors=[..., sink, JSONRenderer()]``).

    Examples
    --------
    >>> sink = HttpSink("http://127.0.0.1:9", "fc_key", flush_interval=60)  # no connection yet
    >>> sink.endpoint
    'http://127.0.0.1:9/v1/events'
    >>> sink.send({"event": "db down", "level": "error", "event_id": "e1"})
    >>> sink.queued
    1
    >>> from structlog.testing import capture_logs
    >>> with capture_logs():       # nothing listens there: the batch is dropped, as asked
    ...     sink.close(timeout=0, drop=True)
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        retry_interval: float = 1.0,
        memory_batches: int = 64,
        capacity: int = 100_000,
        spill_dir: str | Path | bool = True,
        compress_over: int = 16 * 1024,
    ) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/v1/events") else base + "/v1/events"
        self.api_key = api_key
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_interval = retry_interval
        self.compress_over = compress_over
        #: Events the server accepted; events dropped because the buffer was full.
        self.delivered = 0
        self.dropped = 0
        #: Batches the server refused as bad, with its answer.
        self.rejected: list[tuple[bytes, BaseException]] = []
        self.buffer: StreamBuffer[bytes] = StreamBuffer(
            self._post,
            capacity=capacity,
            memory_records=memory_batches,
            spill_dir=spill_dir,
            retry_interval=retry_interval,
            dead_letter=lambda batch, error: self.rejected.append((batch, error)),
            name="faultcast-http",
        )
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._order = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- queueing ----------------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Events not yet in a batch."""
        return len(self._lines)

    @property
    def pending(self) -> int:
        """Batches waiting for the server (in memory or on disk)."""
        return self.buffer.pending

    def send(self, event: Mapping[str, Any]) -> None:
        """Queue one event (a mapping of faultcast fields) for the server."""
        if "event_id" not in event:
            event = {**event, "event_id": uuid.uuid4().hex}
        line = dumps(event)
        with self._lock:
            self._lines.append(line)
            full = len(self._lines) >= self.batch_size
        if self._thread is None:
            self._start()
        if full:
            self._wake.set()

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """As a structlog processor: send the event, pass it on unchanged."""
        event = {k: v for k, v in event_dict.items() if k not in ("exc_info", "stack_info")}
        self.send(event)
        return event_dict

    def _batch(self) -> None:
        """Move the queued events into the buffer as batches (in order)."""
        with self._order:
            self._batch_locked()

    def _batch_locked(self) -> None:
        while True:
            with self._lock:
                lines = self._lines[: self.batch_size]
                if not lines:
                    return
                del self._lines[: len(lines)]
            try:
                self.buffer.keep(b"\n".join(lines) + b"\n")
            except BufferFullError:
                self.dropped += len(lines)

    # -- sending -----------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="faultcast-http-sink", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._closed.is_set():
                break  # close() sends what is left, in the caller's thread
            self._batch()
            if self.buffer.pending and not self.flush():
                self._closed.wait(self.retry_interval)  # the server is down: wait a little

    def flush(self) -> bool:
        """Batch what is queued and send every pending batch now; True when all went."""
        self._batch()
        self.buffer.flush()
        return self.buffer.pending == 0

    def _post(self, body: bytes) -> None:
        """Post one batch, retrying; raises when it was not stored (the buffer keeps it)."""
        import urllib.error  # here: urllib.request loads ssl and email, apps need not pay
        import urllib.request

        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/x-ndjson",
        }
        data = body
        if len(body) > self.compress_over:
            data = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        error: Exception = CommunicationError("not sent")
        for attempt in range(self.retries + 1):
            wait = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
            request = urllib.request.Request(self.endpoint, data, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    answer.read()
                self.delivered += body.count(b"\n")
                return
            except urllib.error.HTTPError as e:
                detail = e.read()[:500].decode("utf-8", "replace")
                if e.code in _REFUSED:
                    raise DataError(f"the server refused the batch ({e.code}): {detail}") from e
                error = CommunicationError(f"{self.endpoint} answered {e.code}: {detail}")
                retry_after = e.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait = min(self.max_backoff, float(retry_after))
            except (urllib.error.URLError, OSError) as e:
                error = CommunicationError(f"{self.endpoint} is unreachable: {e}")
            if attempt < self.retries and not self._closed.is_set():
                time.sleep(wait)
        raise error

    def close(self, timeout: float = 10.0, *, drop: bool = False) -> None:
        """Send what is left (trying for up to ``timeout`` seconds) and stop.  Raises
        StreamingError when events could not be sent, unless ``drop=True``."""
        deadline = time.monotonic() + timeout
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            # Its send in hand, if any, ends first (at least a moment, even with timeout 0).
            self._thread.join(max(timeout, 1.0))
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(min(self.retry_interval, max(0.0, deadline - time.monotonic())))
        try:
            self.buffer.close(drop=drop)
        except StreamingError as e:
            raise StreamingError(
                f"{self.buffer.pending} batches of events were not sent to {self.endpoint}: "
                "the server is down; they are lost when this process ends",
                context={"pending": self.buffer.pending},
            ) from e


class HttpHandler(SinkHandler):
    """A stdlib ``logging`` handler sending faultcast events to a faultcast server (see
    :class:`HttpSink`, whose options it takes).

    Examples
    --------
    >>> import logging
    >>> handler = HttpHandler("http://127.0.0.1:8080", "fc_key", service="payments")
    >>> handler.sink.endpoint, handler.level == logging.WARNING
    ('http://127.0.0.1:8080/v1/events', True)
    >>> handler.close()
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        service: str | None = None,
        host: str | None = None,
        level: int = logging.WARNING,
        **options: Any,
    ) -> None:
        super().__init__(service=service, host=host, level=level)
        self.sink = HttpSink(url, api_key, **options)

    def close(self) -> None:
        try:
            self.sink.close(drop=True)
        finally:
            super().close()
