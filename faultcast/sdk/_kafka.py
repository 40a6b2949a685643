"""Send faultcast events to a Kafka topic instead of a file (``faultcast serve --kafka`` reads it).

:class:`KafkaSink` is a structlog processor (put it after :class:`FaultcastProcessor`) and has
``send(event)`` for anything else; :class:`KafkaHandler` is the stdlib ``logging`` handler.
Events are keyed by their service, so one service's events stay in order in one partition and
the workers of a consumer group shard by unit.  The producer is made on the first event (no
network in ``__init__``); producing never blocks the application for longer than
``block_seconds``: when librdkafka's bounded queue is full for that long the event is dropped
and counted in ``dropped``.  ``confluent-kafka`` is the optional ``kafka`` extra.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from faultcast.sdk._log import dumps
from faultcast.sdk._logging import SinkHandler

__all__ = ["KafkaHandler", "KafkaSink"]


class KafkaSink:
    """Produce faultcast events (one JSON object per message) to ``topic``.

    Parameters
    ----------
    bootstrap
        Kafka bootstrap servers, ``"host:port[,host:port]"``.
    topic
        The topic ``faultcast serve --topic`` consumes.
    key_field
        The event field that keys the message (its partition); ``None`` for round robin.
    block_seconds
        How long ``send`` may wait for room in the producer's queue before dropping.
    options
        More librdkafka producer settings (``{"acks": "all"}``, security settings, ...).

    Examples
    --------
    >>> sink = KafkaSink("127.0.0.1:9092", "faultcast-events")   # no connection yet
    >>> sink.encode({"event": "db down", "level": "error", "service": "api"})
    (b'{"event":"db down","level":"error","service":"api"}', b'api')
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        key_field: str | None = "service",
        block_seconds: float = 1.0,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.key_field = key_field
        self.block_seconds = block_seconds
        self.options = dict(options or {})
        #: Events dropped because the queue stayed full, or the broker refused them.
        self.dropped = 0
        #: Events the broker acknowledged.
        self.delivered = 0
        self._producer: Any = None
        self._lock = threading.Lock()

    def _get_producer(self) -> Any:
        if self._producer is None:
            with self._lock:
                if self._producer is None:
                    try:
                        from confluent_kafka import Producer
                    except ImportError as e:  # pragma: no cover - depends on the install
                        raise RuntimeError(
                            "sending events to Kafka needs confluent-kafka: "
                            "pip install 'faultcast[kafka]'"
                        ) from e
                    config: dict[str, Any] = {
                        "bootstrap.servers": self.bootstrap,
                        "linger.ms": 20,
                        "queue.buffering.max.messages": 200_000,
                        "log_level": 3,
                    }
                    config.update(self.options)
                    self._producer = Producer(config)
        return self._producer

    def encode(self, event: Mapping[str, Any]) -> tuple[bytes, bytes | None]:
        """The message value and key of an event."""
        value = dumps(event)
        key = None
        if self.key_field is not None and event.get(self.key_field) is not None:
            key = str(event[self.key_field]).encode()
        return value, key

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.dropped += 1

    def send(self, event: Mapping[str, Any]) -> bool:
        """Queue one event for the topic; False when it had to be dropped (queue full)."""
        value, key = self.encode(event)
        return self.send_raw(value, key)

    def send_raw(self, value: bytes, key: bytes | None = None) -> bool:
        """Queue one already-encoded message."""
        producer = self._get_producer()
        deadline = time.monotonic() + self.block_seconds
        while True:
            try:
                producer.produce(self.topic, value, key=key, on_delivery=self._delivered)
                producer.poll(0)
                return True
            except BufferError:
                if time.monotonic() >= deadline:
                    self.dropped += 1
                    return False
                producer.poll(0.05)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for queued events to be delivered; the number still undelivered."""
        if self._producer is None:
            return 0
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``) and drop the producer."""
        self.flush(timeout)
        self._producer = None

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """As a structlog processor: send the event, pass it on unchanged."""
        event = {k: v for k, v in event_dict.items() if k not in ("exc_info", "stack_info")}
        self.send(event)
        return event_dict


class KafkaHandler(SinkHandler):
    """A stdlib ``logging`` handler producing faultcast events to Kafka (see :class:`KafkaSink`).

    Examples
    --------
    >>> import logging
    >>> handler = KafkaHandler("127.0.0.1:9092", "faultcast-events", service="payments")
    >>> handler.sink.topic, handler.level == logging.WARNING
    ('faultcast-events', True)
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        service: str | None = None,
        host: str | None = None,
        level: int = logging.WARNING,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(service=service, host=host, level=level)
        self.sink = KafkaSink(bootstrap, topic, options=options)

    def close(self) -> None:
        self.sink.close()
        super().close()
