"""faultcast as a network service: the HTTP API of ``faultcast serve --http HOST:PORT``.

- ingest: ``POST /v1/logs`` (OTLP/HTTP logs, protobuf or JSON), ``POST
  /api/{project}/envelope/`` and ``/store/`` (Sentry SDKs, the DSN's public key being a
  faultcast API key), ``POST /v1/events`` (faultcast events: the SDK's :class:`HttpSink`);
  each through the same parse, redaction, templates and quarantine as a file, committed in
  groups (a 2xx means stored), behind a bounded queue (429 with Retry-After when full);
- queries (``read`` scope): ``/v1/risk``, ``/v1/policy``, ``/v1/recommendation``,
  ``/v1/events``, ``/v1/patterns``, ``/v1/issues``, ``/v1/issues/{id}``, ``/v1/alerts``,
  ``/v1/metrics/{name}``;
- issue lifecycle (``admin`` scope): ``POST /v1/issues/{id}/resolve|ignore|reopen``;
- operations: ``/healthz``, ``/metrics`` (Prometheus), ``/docs`` (OpenAPI).

:class:`HttpService` runs it (uvicorn in a thread) beside the serve loop, which stays the
store's one writer process.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from faultcast.ingest import Ingestor, IngestReport, Redactor, Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.keys import KeyStore
from faultcast.ingest.network import NetworkIngest

if TYPE_CHECKING:
    from faultcast.serve import ServeMetrics

log = get_logger(__name__)

__all__ = ["HttpMetrics", "HttpOptions", "HttpService", "is_loopback", "parse_address"]

DEFAULT_ADDRESS = "127.0.0.1:8080"


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as (host, port).

    >>> parse_address("127.0.0.1:8080"), parse_address("[::1]:9000"), parse_address(":8080")
    (('127.0.0.1', 8080), ('::1', 9000), ('127.0.0.1', 8080))
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--http takes HOST:PORT (such as {DEFAULT_ADDRESS}), not {address!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class HttpOptions:
    """How the HTTP API serves."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Largest request body, before and after decompression (413 past it).
    max_body_bytes: int = 8 * 1024 * 1024
    #: Events waiting to be committed before requests are refused with 429.
    max_queue_events: int = 200_000
    #: Service name for events that carry none.
    service: str | None = None
    #: Seconds between refreshes of the cached risk (when the store changed).
    refresh_seconds: float = 2.0
    #: Seconds between rebuilds of the cached recovery policy (when the store changed).
    policy_refresh_seconds: float = 30.0
    #: Seconds between reads of the API keys (a created or revoked key takes effect within it).
    keys_refresh_seconds: float = 2.0


class HttpMetrics:
    """The HTTP API's Prometheus metrics, in the serve process's registry:
    ``faultcast_http_requests_total{path,status}``, ``faultcast_http_request_seconds{path}``,
    ``faultcast_http_queue_events``, ``faultcast_http_batch_seconds``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "faultcast_http_requests", "HTTP requests, by path and status.", ["path", "status"],
            registry=registry,
        )  # fmt: skip
        self.seconds = Histogram(
            "faultcast_http_request_seconds", "HTTP request latency.", ["path"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )  # fmt: skip
        self.queue = Gauge(
            "faultcast_http_queue_events", "Events waiting to be committed.", registry=registry
        )
        self.batch_seconds = Histogram(
            "faultcast_http_batch_seconds", "Time to commit one group of requests.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=registry,
        )  # fmt: skip


class HttpService:
    """The HTTP API over the store of ``store`` (the serve loop's), in this process.

    It writes through a store of its own and reads through another, both sharing ``store``'s
    lock: each works on its own DuckDB connection and they take turns on the file.
    """

    def __init__(
        self,
        store: Store,
        options: HttpOptions | None = None,
        metrics: ServeMetrics | None = None,
    ) -> None:
        from faultcast._facade import FaultCast
        from faultcast.http._batcher import GroupCommitter
        from faultcast.http._reads import KeyCache, Reads

        self.options = options or HttpOptions()
        self.metrics = metrics
        registry = metrics.registry if metrics is not None else CollectorRegistry()
        self.http_metrics = HttpMetrics(registry)
        self.writer_store = Store(store.path, lock_timeout=store.lock_timeout, lock=store.lock)
        self.reader_store = Store(store.path, lock_timeout=store.lock_timeout, lock=store.lock)
        self.network = NetworkIngest(Ingestor(self.writer_store, redactor=Redactor()))
        self.committer = GroupCommitter(
            self.network,
            max_queue_events=self.options.max_queue_events,
            service=self.options.service,
            on_batch=self._on_batch,
        )
        self._quarantine = NetworkIngest(Ingestor(self.reader_store, redactor=Redactor()))
        self.reads = Reads(
            FaultCast(self.reader_store),
            refresh=self.options.refresh_seconds,
            policy_refresh=self.options.policy_refresh_seconds,
        )
        self.keys = KeyCache(KeyStore(self.reader_store), refresh=self.options.keys_refresh_seconds)
        #: OTLP bodies are converted here, one at a time, off the event loop.  Conversion is
        #: Python (holding the GIL): one thread converts as fast as many, and leaves the event
        #: loop one thread to take turns with rather than one per request in flight, so
        #: queries answered from memory are not held up behind them.
        self.convert_pool = ThreadPoolExecutor(1, thread_name_prefix="faultcast-http-convert")
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = self.options.port

    # -- running ---------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Start committing, refreshing and serving; returns once the port is open."""
        import uvicorn

        from faultcast.http._app import HotReads, create_app

        # The schema first (api_keys included), so the first request finds it.
        with self.writer_store.writing():
            pass
        self.committer.start()
        self.keys.start()
        self.reads.start()
        o = self.options
        config = uvicorn.Config(
            HotReads(create_app(self), self),
            host=o.host,
            port=o.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="faultcast-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the HTTP API could not listen on {o.host}:{o.port}")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        if not is_loopback(o.host):
            log.warning(
                "http.not_loopback",
                host=o.host,
                advice="API keys travel in the clear: put a TLS-terminating proxy in front",
            )
        log.info("http.listening", url=f"http://{o.host}:{self.port}")

    def _serve(self) -> None:
        try:
            self._server.run()
        except BaseException as e:  # noqa: BLE001 - SystemExit on a port in use
            log.error("http.failed", error=repr(e))

    def stop(self) -> None:
        """Stop taking requests, commit what is queued, and close."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.committer.stop()
        self.convert_pool.shutdown(wait=False)
        self.reads.stop()
        self.keys.stop()
        self.writer_store.close()
        self.reader_store.close()

    # -- for the serve loop and the app ---------------------------------------------
    def take_report(self) -> tuple[IngestReport, int]:
        """What was stored since the last call, and in how many batches."""
        return self.committer.take_report()

    def quarantine_payload(self, source: str, body: bytes, reason: str) -> bool:
        """Keep an unreadable request body in quarantine (see
        :meth:`~faultcast.ingest.network.NetworkIngest.quarantine_payload`)."""
        # On the reads' connection, under the lock (the writer's belongs to the commit thread).
        with self.reader_store.lock:
            return bool(self._quarantine.quarantine_payload(source, body, reason))

    def _on_batch(self, source: str, report: IngestReport, seconds: float) -> None:
        self.http_metrics.batch_seconds.observe(seconds)
        if self.metrics is not None:
            self.metrics.record_ingest("http", report)
