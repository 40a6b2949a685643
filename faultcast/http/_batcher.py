"""Group commit: requests wait in a bounded queue; one thread stores them many at a time.

A request is answered only after its batch is committed.  The writer takes the oldest request
and lets the others in flight join it for at most ``max_delay`` (50 ms) after it arrived or
the previous commit ended (the clients just answered send their next requests then), or until
``max_batch_events`` are waiting; commits them together (one transaction per source);
answers every request of the batch; and takes the next.  So a commit's fixed cost is shared by
every request that arrived within 50 ms of each other or during the commit before.  The queue
is bounded by events: a request that does not fit is refused at once (:class:`QueueFull`, HTTP
429 with Retry-After) rather than waiting unboundedly.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from faultcast.ingest import IngestReport
from faultcast.ingest._log import get_logger
from faultcast.ingest.network import NetworkIngest, Request, RequestResult

log = get_logger(__name__)

__all__ = ["GroupCommitter", "QueueFull", "Stopped"]


class QueueFull(Exception):
    """The queue holds as many events as it may; retry after a moment."""


class Stopped(Exception):
    """The server is shutting down."""


@dataclass
class _Item:
    request: Request
    future: Future[RequestResult] = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)


class GroupCommitter:
    """Queues requests for :class:`~faultcast.ingest.network.NetworkIngest` and commits them in
    batches from one thread (see the module docstring)."""

    def __init__(
        self,
        network: NetworkIngest,
        *,
        max_queue_events: int = 200_000,
        max_batch_events: int = 50_000,
        max_delay: float = 0.05,
        service: str | None = None,
        on_batch: object = None,
    ) -> None:
        self.network = network
        self.max_queue_events = max_queue_events
        self.max_batch_events = max_batch_events
        self.max_delay = max_delay
        self.service = service
        self.on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._queued_events = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="faultcast-http-commit", daemon=True)
        #: Totals not yet taken by :meth:`take_report` (the serve loop's summary).
        self._pending = IngestReport()
        self._pending_batches = 0
        self.healthy = True
        #: When the last commit ended (its requests answered).
        self._last_commit = float("-inf")

    @property
    def queued_events(self) -> int:
        return self._queued_events

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: Request) -> Future[RequestResult]:
        """Queue a request; its future resolves once its events are committed."""
        n = max(1, len(request.lines))
        item = _Item(request)
        with self._cond:
            if self._stopping:
                raise Stopped("the server is shutting down")
            if self._queue and self._queued_events + n > self.max_queue_events:
                raise QueueFull(
                    f"{self._queued_events} events are waiting to be stored (the limit is "
                    f"{self.max_queue_events})"
                )
            self._queue.append(item)
            self._queued_events += n
            self._cond.notify()
        return item.future

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def take_report(self) -> tuple[IngestReport, int]:
        """What was stored since the last call, and in how many batches."""
        with self._cond:
            report, batches = self._pending, self._pending_batches
            self._pending, self._pending_batches = IngestReport(), 0
        return report, batches

    def _take(self) -> list[_Item] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return None
            # Let the requests in flight join: a batch starts at most ``max_delay`` after its
            # oldest request arrived or the last commit ended (whichever is later), or as soon
            # as it is full.  After a commit, the clients it answered send their next requests
            # at once: waiting for them makes one group of what would be a small batch (those
            # that arrived during the commit) and another right after it, each paying the
            # commit's fixed cost.
            deadline = max(self._queue[0].arrived, self._last_commit) + self.max_delay
            while (
                not self._stopping
                and self._queued_events < self.max_batch_events
                and (left := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(left)
            batch: list[_Item] = []
            events = 0
            while self._queue and (not batch or events < self.max_batch_events):
                item = self._queue.popleft()
                n = max(1, len(item.request.lines))
                events += n
                self._queued_events -= n
                batch.append(item)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            t0 = time.perf_counter()
            try:
                results = self.network.store([i.request for i in batch], service=self.service)
            except Exception as e:  # the store failed: every request of the batch is told
                self.healthy = False
                log.warning("http.commit_failed", error=str(e), requests=len(batch))
                for item in batch:
                    item.future.set_exception(e)
                continue
            self.healthy = True
            seconds = time.perf_counter() - t0
            with self._cond:
                for source, report in self.network.batch:
                    _add(self._pending, report)
                    if callable(self.on_batch):
                        self.on_batch(source, report, seconds)
                self._pending_batches += 1
            for item, result in zip(batch, results, strict=True):
                item.future.set_result(result)
            self._last_commit = time.monotonic()
            try:
                self.network.fold_wal()
            except Exception as e:  # the next commit tries again
                log.warning("http.checkpoint_failed", error=str(e))


def _add(total: IngestReport, report: IngestReport) -> None:
    total.read += report.read
    total.stored += report.stored
    total.duplicates += report.duplicates
    total.quarantined += report.quarantined
    total.reasons.update(report.reasons or Counter())
