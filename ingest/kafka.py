"""Kafka input: a consumer group whose batches are stored through the :class:`Ingestor`.

:class:`KafkaIngestor` consumes one batch at a time (up to ``batch_messages`` or
``batch_seconds``), stores each partition's messages with :meth:`Ingestor.ingest_lines`
(source ``kafka:<topic>:<partition>``, ``source_offset`` the message offset), sends the
quarantined ones to the dead-letter topic when one is configured, and only then commits the
offsets.  So delivery is at least once and storage exactly once: a message delivered again
(after a crash, a rebalance or a broker restart) hashes to the same event id and is counted as
a duplicate.  Nothing is read ahead beyond librdkafka's bounded fetch queue
(``max_buffer_kbytes``): while the store is slow the consumer simply polls less, which is the
backpressure.  librdkafka reconnects by itself after a broker restart; transport errors are
logged and the loop goes on.

``confluent_kafka`` is an optional dependency (the ``kafka`` extra), imported when a consumer
is started, so this module imports without it.

Examples
--------
>>> settings = KafkaSettings("127.0.0.1:9092", topic="events", group="faultcast")
>>> config = consumer_config(settings)
>>> config["group.id"], config["enable.auto.commit"], config["session.timeout.ms"]
('faultcast', False, 6000)
>>> source_name("events", 3)
'kafka:events:3'
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from faultcast.ingest.errors import IngestError
from faultcast.ingest.pipeline import Ingestor, IngestReport

log = structlog.get_logger(__name__)

#: librdkafka error names that mean "the broker is away for now": logged, then retried.
_TRANSIENT = frozenset(
    {
        "_TRANSPORT",
        "_ALL_BROKERS_DOWN",
        "_RESOLVE",
        "_TIMED_OUT",
        "_MAX_POLL_EXCEEDED",
        "UNKNOWN_TOPIC_OR_PART",
        "_UNKNOWN_PARTITION",
        "_UNKNOWN_TOPIC",
        "LEADER_NOT_AVAILABLE",
        "NOT_LEADER_FOR_PARTITION",
        "NOT_COORDINATOR",
        "COORDINATOR_NOT_AVAILABLE",
        "COORDINATOR_LOAD_IN_PROGRESS",
        "REQUEST_TIMED_OUT",
        "OFFSET_OUT_OF_RANGE",
        "_AUTO_OFFSET_RESET",
        "UNKNOWN_MEMBER_ID",
        "ILLEGAL_GENERATION",
        "REBALANCE_IN_PROGRESS",
    }
)


def source_name(topic: str, partition: int) -> str:
    """The ``source`` of events read from one partition of a topic."""
    return f"kafka:{topic}:{partition}"


@dataclass(frozen=True)
class KafkaSettings:
    """Where and how to consume.

    ``batch_messages`` / ``batch_seconds`` bound one batch (one store commit per partition);
    ``max_buffer_kbytes`` bounds what librdkafka fetches ahead (the memory used while the store
    is slow); ``session_timeout_ms`` is how long a dead worker keeps its partitions before the
    group hands them to another; ``options`` are passed to librdkafka as they are.
    """

    bootstrap: str
    topic: str
    group: str = "faultcast"
    dead_letter_topic: str | None = None
    batch_messages: int = 20_000
    batch_seconds: float = 0.5
    session_timeout_ms: int = 6000
    max_buffer_kbytes: int = 32 * 1024
    auto_offset_reset: str = "earliest"
    options: Mapping[str, Any] = field(default_factory=dict)


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """The librdkafka configuration of the consumer (offsets committed by hand)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        "group.id": settings.group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": settings.auto_offset_reset,
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": max(100, settings.session_timeout_ms // 6),
        "max.poll.interval.ms": 600_000,
        "queued.max.messages.kbytes": settings.max_buffer_kbytes,
        "fetch.max.bytes": min(52_428_800, settings.max_buffer_kbytes * 1024),
        "statistics.interval.ms": 1000,
        "reconnect.backoff.max.ms": 2000,
        "topic.metadata.refresh.interval.ms": 5000,
        "log_level": 3,
    }
    config.update(settings.options)
    return config


@dataclass
class BatchOutcome:
    """One consumed and stored batch."""

    messages: int
    report: IngestReport
    dead_lettered: int = 0
    committed: bool = True
    #: Messages per partition in this batch.
    partitions: dict[int, int] = field(default_factory=dict)


class KafkaIngestor:
    """Consumes a topic as a member of a consumer group and stores it with ``ingestor``.

    Nothing touches the network until :meth:`start`.  Use :meth:`poll_batch` in a loop and
    :meth:`close` at the end (it leaves the group, so the others take the partitions at once).
    """

    def __init__(
        self,
        ingestor: Ingestor,
        settings: KafkaSettings,
        *,
        service: str | None = None,
        session_key: str | None = None,
        on_stats: Callable[[dict[int, int]], None] | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.settings = settings
        self.service = service
        self.session_key = session_key
        self.on_stats = on_stats
        #: Consumer lag (messages not stored yet) per assigned partition, from librdkafka's stats.
        self.lag: dict[int, int] = {}
        self.assigned: set[int] = set()
        self._consumer: Any = None
        self._producer: Any = None
        self._dlq_failures = 0

    # -- lifecycle ----------------------------------------------------------
    def start(self, check_timeout: float = 10.0) -> None:
        """Check the broker and the topic, then join the group.

        Raises :class:`IngestError` when the broker cannot be reached or the topic does not
        exist, saying which and where.
        """
        try:
            import confluent_kafka
            from confluent_kafka.admin import AdminClient
        except ImportError as e:  # pragma: no cover - depends on the install
            raise IngestError(
                "reading from Kafka needs confluent-kafka: pip install 'faultcast[kafka]'"
            ) from e
        s = self.settings
        admin = AdminClient({"bootstrap.servers": s.bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=check_timeout)
        except confluent_kafka.KafkaException as e:
            raise IngestError(
                f"cannot reach the Kafka broker at {s.bootstrap} (waited {check_timeout:g} s: "
                f"{e.args[0].str() if e.args else e}); check --kafka HOST:PORT and that the "
                "broker is running"
            ) from e
        topic = metadata.topics.get(s.topic)
        if topic is None or topic.error is not None:
            known = ", ".join(sorted(t for t in metadata.topics if not t.startswith("__")))
            raise IngestError(
                f"the topic {s.topic!r} does not exist on the Kafka broker at {s.bootstrap} "
                f"(topics there: {known or 'none'}); create it first, e.g. kafka-topics.sh "
                f"--bootstrap-server {s.bootstrap} --create --topic {s.topic} --partitions 8"
            )
        if s.dead_letter_topic is not None:
            dlq = metadata.topics.get(s.dead_letter_topic)
            if dlq is None or dlq.error is not None:
                raise IngestError(
                    f"the dead-letter topic {s.dead_letter_topic!r} does not exist on the Kafka "
                    f"broker at {s.bootstrap}; create it first or leave out --dead-letter-topic"
                )
            self._producer = confluent_kafka.Producer(
                {
                    "bootstrap.servers": s.bootstrap,
                    "linger.ms": 5,
                    "enable.idempotence": False,
                    "log_level": 3,
                }
            )
        config = consumer_config(s)
        config["stats_cb"] = self._stats
        config["error_cb"] = self._error
        self._consumer = confluent_kafka.Consumer(config)
        self._consumer.subscribe([s.topic], on_assign=self._assigned, on_revoke=self._revoked)
        log.info("kafka.subscribed", bootstrap=s.bootstrap, topic=s.topic, group=s.group)

    def close(self) -> None:
        """Leave the group (its partitions go to the other members) and release the clients."""
        if self._consumer is not None:
            try:
                self._consumer.close()
            finally:
                self._consumer = None
        if self._producer is not None:
            self._producer.flush(5.0)
            self._producer = None

    # -- callbacks ----------------------------------------------------------
    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        self.assigned |= {p.partition for p in partitions}
        log.info("kafka.assigned", partitions=sorted(p.partition for p in partitions))

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        gone = {p.partition for p in partitions}
        self.assigned -= gone
        for p in gone:
            self.lag.pop(p, None)
        log.info("kafka.revoked", partitions=sorted(gone))

    def _error(self, error: Any) -> None:
        log.warning("kafka.error", error=str(error), bootstrap=self.settings.bootstrap)

    def _stats(self, raw: str) -> None:
        try:
            stats = json.loads(raw)
            parts = stats.get("topics", {}).get(self.settings.topic, {}).get("partitions", {})
            lag: dict[int, int] = {}
            for key, part in parts.items():
                p = int(key)
                if p < 0 or p not in self.assigned:
                    continue
                value = int(part.get("consumer_lag", -1))
                if value < 0:
                    # Nothing committed yet (a new group): count from the log's start.
                    hi, lo = int(part.get("hi_offset", -1)), int(part.get("lo_offset", -1))
                    if hi >= 0:
                        value = hi - max(lo, 0)
                if value >= 0:
                    lag[p] = value
            self.lag = lag
        except (ValueError, TypeError, AttributeError):  # pragma: no cover - malformed stats
            return
        if self.on_stats is not None:
            self.on_stats(dict(self.lag))

    # -- one batch ----------------------------------------------------------
    def poll_batch(self, timeout: float | None = None) -> BatchOutcome:
        """Consume up to one batch, store it, dead-letter its bad messages, commit its offsets.

        Returns the outcome (``messages == 0`` when nothing arrived within the timeout).
        """
        if self._consumer is None:
            raise IngestError("the Kafka consumer is not started: call start() first")
        import confluent_kafka

        s = self.settings
        wait = s.batch_seconds if timeout is None else timeout
        deadline = time.monotonic() + wait
        messages: list[Any] = []
        while len(messages) < s.batch_messages:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            got = self._consumer.consume(s.batch_messages - len(messages), left)
            for m in got:
                err = m.error()
                if err is None:
                    messages.append(m)
                elif err.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                elif err.fatal():
                    raise IngestError(
                        f"the Kafka consumer of {s.topic!r} at {s.bootstrap} failed: {err.str()}"
                    )
                elif err.name() in _TRANSIENT or err.retriable():
                    log.warning("kafka.transient", error=err.str(), topic=s.topic)
                else:
                    log.warning("kafka.consume_error", error=err.str(), topic=s.topic)
            if not got and messages:
                break  # the stream paused: store what we have
        report = IngestReport()
        outcome = BatchOutcome(len(messages), report)
        if not messages:
            return outcome
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for m in messages:
            by_partition[m.partition()].append(m)
        dead: list[tuple[Any, str]] = []
        for partition, batch in sorted(by_partition.items()):
            offsets = [m.offset() for m in batch]
            result = self.ingestor.ingest_lines(
                [m.value() for m in batch],
                source=source_name(s.topic, partition),
                offsets=offsets,
                service=self.service,
                session_key=self.session_key,
                report=report,
            )
            outcome.partitions[partition] = len(batch)
            if self._producer is not None and result.quarantined:
                by_offset = {m.offset(): m for m in batch}
                dead += [(by_offset[o], reason) for o, reason in result.quarantined]
        if dead:
            outcome.dead_lettered = self._dead_letter(dead)
        outcome.committed = self._commit(by_partition)
        return outcome

    def _dead_letter(self, dead: list[tuple[Any, str]]) -> int:
        """Send the quarantined messages to the dead-letter topic; wait until the broker has them."""
        assert self._producer is not None and self.settings.dead_letter_topic is not None
        failed: list[str] = []

        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(err.str())

        for m, reason in dead:
            headers = [
                ("faultcast.reason", reason.encode()),
                ("faultcast.source", source_name(m.topic(), m.partition()).encode()),
                ("faultcast.offset", str(m.offset()).encode()),
            ]
            while True:
                try:
                    self._producer.produce(
                        self.settings.dead_letter_topic,
                        m.value(),
                        key=m.key(),
                        headers=headers,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)
        # The offsets are committed only once the dead letters are safe: wait for the broker.
        while self._producer.flush(1.0) > 0:
            log.warning("kafka.dead_letter_waiting", topic=self.settings.dead_letter_topic)
        if failed:
            self._dlq_failures += len(failed)
            log.warning(
                "kafka.dead_letter_failed",
                topic=self.settings.dead_letter_topic,
                count=len(failed),
                error=failed[0],
            )
        return len(dead) - len(failed)

    def _commit(self, by_partition: Mapping[int, list[Any]]) -> bool:
        import confluent_kafka

        offsets = [
            confluent_kafka.TopicPartition(self.settings.topic, p, batch[-1].offset() + 1)
            for p, batch in by_partition.items()
        ]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except confluent_kafka.KafkaException as e:
            # Stored already: a message delivered again is a duplicate, counted and skipped.
            log.warning("kafka.commit_failed", error=str(e), topic=self.settings.topic)
            return False
        return True
