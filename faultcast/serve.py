"""``faultcast serve``: ingest continuously (followed files, a Kafka consumer group), learn as
events arrive, and expose Prometheus metrics.

One loop, one writer: each turn stores what the followed files grew by and one Kafka batch
(:class:`faultcast.ingest.kafka.KafkaIngestor`: offsets committed only after the batch is
stored), and every ``learn_every`` seconds feeds the complete ticks not learned yet through the
online failure model (:func:`faultcast.models.learn.learn`), which stores predictions per tick,
then evaluates the alert rules and notifies (:func:`faultcast.alerts.evaluate`).
The store file is held only while a batch commits, so readers (the dashboard, notebooks,
``faultcast.connect``) keep working.  :meth:`Server.stop` (SIGTERM, Ctrl-C) ends the loop after
the batch in hand is stored and committed.

Several workers in one consumer group scale out: each writes its own shard
(``--db shard-N.duckdb``) and ``faultcast.connect([shard files])`` reads them as one.

Examples
--------
>>> metrics = ServeMetrics()
>>> from faultcast.ingest import IngestReport
>>> from collections import Counter
>>> metrics.record_ingest("file", IngestReport(read=3, stored=2, quarantined=1,
...                                              reasons=Counter({"invalid JSON": 1})))
>>> metrics.value("faultcast_events_stored_total", source="file")
2.0
>>> metrics.value("faultcast_events_quarantined_total", reason="invalid JSON")
1.0
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from faultcast.ingest import IngestReport, Redactor, Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.kafka import KafkaIngestor, KafkaSettings
from faultcast.ingest.pipeline import FileFollower, Ingestor
from faultcast.models.features import UnitFeatureSpec

log = get_logger(__name__)

__all__ = ["ServeMetrics", "ServeOptions", "ServeSummary", "Server"]

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServeMetrics:
    """The Prometheus metrics of one serve process, in their own registry.

    ``faultcast_events_read_total`` / ``_stored_total`` / ``_duplicates_total{source}``,
    ``faultcast_events_quarantined_total{reason}``, ``faultcast_ingest_events_per_second``
    (over the last 10 s), ``faultcast_consumer_lag{partition}`` and
    ``faultcast_consumer_lag_total``, ``faultcast_dead_lettered_total``,
    ``faultcast_batch_seconds`` (store + commit of one batch),
    ``faultcast_model_version{model}``, ``faultcast_prediction_seconds`` (one learning run:
    features, learning, predictions stored), ``faultcast_predictions_total``,
    ``faultcast_unit_risk{unit}`` (the production model's latest risk) and
    ``faultcast_alert_firing{rule,unit}`` (alerts firing; see :mod:`faultcast.alerts`); with
    ``sdk_metrics=True`` also the SDK's error and recovery metrics
    (``faultcast_errors_total``, ``faultcast_recoveries_total``, ...).
    """

    def __init__(self, registry: CollectorRegistry | None = None, sdk_metrics: bool = False):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.read = Counter("faultcast_events_read", "Events read.", ["source"], registry=r)
        self.stored = Counter("faultcast_events_stored", "Events stored.", ["source"], registry=r)
        self.duplicates = Counter(
            "faultcast_events_duplicates", "Events already stored (redelivered).", ["source"],
            registry=r,
        )  # fmt: skip
        self.quarantined = Counter(
            "faultcast_events_quarantined", "Events quarantined, by reason.", ["reason"],
            registry=r,
        )  # fmt: skip
        self.rate = Gauge(
            "faultcast_ingest_events_per_second", "Events read per second (last 10 s).",
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "faultcast_consumer_lag", "Messages not stored yet, per partition.", ["partition"],
            registry=r,
        )  # fmt: skip
        self.lag_total = Gauge(
            "faultcast_consumer_lag_total", "Messages not stored yet, all partitions.", registry=r
        )
        self.dead_lettered = Counter(
            "faultcast_dead_lettered", "Messages sent to the dead-letter topic.", registry=r
        )
        self.batch_seconds = Histogram(
            "faultcast_batch_seconds", "Time to store and commit one batch.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.model_version = Gauge(
            "faultcast_model_version", "Model version in use.", ["model"], registry=r
        )
        self.prediction_seconds = Histogram(
            "faultcast_prediction_seconds", "Time to learn new ticks and store their predictions.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.predictions = Counter("faultcast_predictions", "Predictions stored.", registry=r)
        self.unit_risk = Gauge(
            "faultcast_unit_risk", "The production model's latest failure risk per unit.",
            ["unit"], registry=r,
        )  # fmt: skip
        self.alert_firing = Gauge(
            "faultcast_alert_firing", "Alerts firing, by rule and unit.", ["rule", "unit"],
            registry=r,
        )  # fmt: skip
        self._risk_units: set[str] = set()
        self._firing_keys: set[tuple[str, str]] = set()
        self._window: deque[tuple[float, int]] = deque()
        self._total_read = 0
        self._lag_partitions: set[str] = set()
        if sdk_metrics:
            from faultcast.sdk import metrics as sdk

            sdk.enable_prometheus(registry=r)

    def record_ingest(self, source: str, report: IngestReport) -> None:
        """Count one batch's (or poll's) report."""
        self.read.labels(source).inc(report.read)
        self.stored.labels(source).inc(report.stored)
        self.duplicates.labels(source).inc(report.duplicates)
        for reason, count in report.reasons.items():
            self.quarantined.labels(reason).inc(count)
        self._total_read += report.read
        self.tick()

    def tick(self) -> None:
        """Update the ingest rate (call it at least every few seconds)."""
        now = time.monotonic()
        self._window.append((now, self._total_read))
        while len(self._window) > 1 and now - self._window[0][0] > 10.0:
            self._window.popleft()
        first_t, first_n = self._window[0]
        span = now - first_t
        self.rate.set((self._total_read - first_n) / span if span > 0 else 0.0)

    def record_lag(self, lag: dict[int, int]) -> None:
        seen = {str(p) for p in lag}
        for gone in self._lag_partitions - seen:
            self.lag.remove(gone)
        for partition, value in lag.items():
            self.lag.labels(str(partition)).set(value)
        self._lag_partitions = seen
        self.lag_total.set(sum(lag.values()))

    def record_alerts(self, risk: Any, open_alerts: Any) -> None:
        """Set ``faultcast_unit_risk`` from the risk per unit and ``faultcast_alert_firing``
        from the open alerts of one evaluation (labels no longer there are removed)."""
        units: set[str] = set()
        if risk is not None and not risk.empty:
            for unit, value in zip(risk["unit"], risk["risk"], strict=True):
                self.unit_risk.labels(str(unit)).set(float(value))
                units.add(str(unit))
        for gone in self._risk_units - units:
            self.unit_risk.remove(gone)
        self._risk_units = units
        firing: dict[tuple[str, str], int] = {}
        if open_alerts is not None and not open_alerts.empty:
            rows = open_alerts[open_alerts["state"] == "firing"]
            for key in zip(rows["rule"], rows["unit"], strict=True):
                firing[key] = firing.get(key, 0) + 1
        for key in self._firing_keys - set(firing):
            self.alert_firing.remove(*key)
        for key, count in firing.items():
            self.alert_firing.labels(*key).set(count)
        self._firing_keys = set(firing)

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (for tests and health checks)."""
        return self.registry.get_sample_value(name, labels or None)


@dataclass
class ServeOptions:
    """What ``faultcast serve`` runs; see the CLI's help for each."""

    db: str | Path = "faultcast.duckdb"
    follow: Sequence[str] = ()
    kafka: KafkaSettings | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    learn_every: float = 30.0
    poll_interval: float = 0.5
    service: str | None = None
    session_key: str | None = None
    from_start: bool = False
    spec: UnitFeatureSpec = field(default_factory=UnitFeatureSpec)
    lock_timeout: float = 60.0
    #: The HTTP API (:class:`faultcast.http.HttpOptions`), or None.
    http: Any = None
    #: Alerts: the rules are evaluated every ``alert_every`` seconds (after the learning run
    #: when both are due), sent to these Apprise URLs and this Alertmanager
    #: (:mod:`faultcast.alerts`); ``alerts`` is an AlertSettings or None (the defaults);
    #: ``alerting=False`` switches evaluation off.
    alert_every: float = 30.0
    notify: Sequence[str] = ()
    alertmanager: str | None = None
    alerts: Any = None
    alerting: bool = True


@dataclass
class ServeSummary:
    """What one serve run did (printed by ``faultcast serve --json`` at exit)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    dead_lettered: int = 0
    batches: int = 0
    learn_runs: int = 0
    predictions: int = 0
    model_version: int | None = None
    alert_evaluations: int = 0
    seconds: float = 0.0

    def add(self, report: IngestReport) -> None:
        self.read += report.read
        self.stored += report.stored
        self.duplicates += report.duplicates
        self.quarantined += report.quarantined

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self)) | {"seconds": round(self.seconds, 3)}


class Server:
    """The serve loop over one store (see the module docstring)."""

    def __init__(self, options: ServeOptions, metrics: ServeMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics or ServeMetrics()
        self.summary = ServeSummary()
        self._stop = threading.Event()
        self._http: Any = None
        #: The port the HTTP API listens on, once started (``--http HOST:0`` picks one).
        self.http_port: int | None = None

    def stop(self) -> None:
        """End the loop after the batch in hand is stored and committed (signal-handler safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> ServeSummary:
        """Serve until :meth:`stop`; the summary of the run."""
        o = self.options
        if not o.follow and o.kafka is None and o.http is None:
            raise ValueError("nothing to serve: give --follow FILE, --kafka/--topic or --http")
        started = time.monotonic()
        store = Store(o.db, lock_timeout=o.lock_timeout)
        ingestor = Ingestor(store, redactor=Redactor())
        follower: FileFollower | None = None
        consumer: KafkaIngestor | None = None
        http: Any = None
        self._notifiers = self._make_notifiers()
        try:
            if o.http is not None:
                from faultcast.http import HttpService

                http = HttpService(store, o.http, self.metrics)
                http.start()
                self.http_port = http.port
            if o.follow:
                follower = ingestor.follower(
                    o.follow, service=o.service, session_key=o.session_key, from_start=o.from_start
                )
            if o.kafka is not None:
                consumer = KafkaIngestor(
                    ingestor,
                    o.kafka,
                    service=o.service,
                    session_key=o.session_key,
                    on_stats=self.metrics.record_lag,
                )
                consumer.start()
            if o.metrics_port is not None:
                self._http = start_http_server(
                    o.metrics_port, addr=o.metrics_host, registry=self.metrics.registry
                )
            log.info("serve.started", db=str(o.db), follow=list(o.follow), kafka=bool(consumer))
            self._loop(store, follower, consumer, http)
        finally:
            if http is not None:
                http.stop()
                self._take_http(http)
            if consumer is not None:
                consumer.close()
            if follower is not None:
                follower.close()
            if self.summary.stored or self.summary.quarantined:
                store.checkpoint()
            store.close()
            if self._http is not None:
                server, thread = self._http
                server.shutdown()
                thread.join(timeout=5)
            self.summary.seconds = time.monotonic() - started
            log.info("serve.stopped", **self.summary.to_dict())
        return self.summary

    def _loop(
        self,
        store: Store,
        follower: FileFollower | None,
        consumer: KafkaIngestor | None,
        http: Any = None,
    ) -> None:
        o = self.options
        next_learn = time.monotonic() + o.learn_every
        next_alert = time.monotonic() + o.alert_every
        stored_since_learn = 0
        while not self._stop.is_set():
            if follower is not None:
                t0 = time.perf_counter()
                report = follower.poll()
                if report.read:
                    self._count("file", report, time.perf_counter() - t0)
                    stored_since_learn += report.stored
            if consumer is not None:
                t0 = time.perf_counter()
                outcome = consumer.poll_batch(timeout=o.poll_interval)
                if outcome.messages:
                    self._count("kafka", outcome.report, time.perf_counter() - t0)
                    self.metrics.dead_lettered.inc(outcome.dead_lettered)
                    self.summary.dead_lettered += outcome.dead_lettered
                    stored_since_learn += outcome.report.stored
            else:
                self._stop.wait(o.poll_interval)
            if http is not None:
                stored_since_learn += self._take_http(http)
            self.metrics.tick()
            if time.monotonic() >= next_learn:
                if stored_since_learn:
                    self._learn(store)
                    stored_since_learn = 0
                next_learn = time.monotonic() + o.learn_every
            if o.alerting and time.monotonic() >= next_alert:
                self._evaluate_alerts(store)
                next_alert = time.monotonic() + o.alert_every

    def _take_http(self, http: Any) -> int:
        """Add what the HTTP API stored (its metrics are counted as it commits)."""
        report, batches = http.take_report()
        self.summary.add(report)
        self.summary.batches += batches
        return int(report.stored)

    def _count(self, source: str, report: IngestReport, seconds: float) -> None:
        self.summary.add(report)
        self.summary.batches += 1
        self.metrics.record_ingest(source, report)
        self.metrics.batch_seconds.observe(seconds)

    def _learn(self, store: Store) -> None:
        from faultcast.ingest.errors import FaultcastError
        from faultcast.models.learn import UNIT_MODEL, learn

        t0 = time.perf_counter()
        try:
            result = learn(store, self.options.spec)
        except (FaultcastError, ValueError) as e:
            log.warning("serve.learn_failed", error=str(e))
            return
        self.metrics.prediction_seconds.observe(time.perf_counter() - t0)
        self.summary.learn_runs += 1
        predictions = int(result.get("predictions", 0))
        self.summary.predictions += predictions
        self.metrics.predictions.inc(predictions)
        version = result.get("model_version")
        if version is not None:
            self.summary.model_version = int(version)
            self.metrics.model_version.labels(UNIT_MODEL).set(int(version))

    def _make_notifiers(self) -> list[Any]:
        o = self.options
        if not o.alerting or not (o.notify or o.alertmanager):
            return []
        from faultcast.alerts import AlertmanagerNotifier, AppriseNotifier

        found: list[Any] = [AppriseNotifier(url) for url in o.notify]
        if o.alertmanager:
            found.append(AlertmanagerNotifier(o.alertmanager))
        return found

    def _evaluate_alerts(self, store: Store) -> None:
        """One evaluation of the alert rules; a failure is logged, never ends the loop (a
        notification that failed is retried at the next one)."""
        from faultcast.alerts import evaluate

        if not store.exists():
            return
        try:
            result = evaluate(store, settings=self.options.alerts, notifiers=self._notifiers)
        except Exception as e:  # noqa: BLE001 - alerting must never stop ingest
            log.warning("serve.alerts_failed", error=f"{type(e).__name__}: {e}")
            return
        self.summary.alert_evaluations += 1
        self.metrics.record_alerts(result.risk, result.open)
        for kind, items in (("firing", result.firing), ("resolved", result.resolved)):
            for a in items:
                log.info(f"alert.{kind}", id=a["id"], summary=a["summary"], notified=a["notified"])
