"""serve keeps running through poison: a Kafka message, and a line appended to a followed file,
that no event can come from (issue 14).  Real broker (Tansu) on loopback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from faultcast.ingest import Store
from faultcast.ingest.kafka import KafkaSettings

from faultcast.serve import ServeOptions, Server

from .conftest import Broker, events
from .test_kafka import committed, wait_for


def test_serve_kafka_survives_poison_messages_arriving_alone(
    broker: Broker, tmp_path: Path
) -> None:
    topic = "poison"
    broker.create_topic(topic, 1)
    db = tmp_path / "faultcast.duckdb"
    settings = KafkaSettings(broker.bootstrap, topic, group="g-poison")
    server = Server(ServeOptions(db=db, kafka=settings, learn_every=3600, poll_interval=0.2))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        # Each poison message alone in its batch: before the fix, the batch had no good line
        # and serve exited 1 with the offset uncommitted, stuck on it for good.
        for n, poison in enumerate([b"\xff\xfe not utf-8", b'{"event": "a\x00b"}'], start=1):
            broker.produce(topic, [poison])
            wait_for(lambda n=n: server.summary.quarantined == n, 60, f"poison message {n}")
            assert thread.is_alive()
        good = list(events(3))
        broker.produce(topic, good)
        wait_for(lambda: server.summary.stored == 3, 60, "the good messages after the poison")
        wait_for(lambda: committed(broker, "g-poison", topic, 1) == 5, 30, "offsets committed")
        assert thread.is_alive()
    finally:
        server.stop()
        thread.join(30)
    assert not thread.is_alive()
    s = server.summary
    assert (s.read, s.stored, s.duplicates, s.quarantined) == (5, 3, 0, 2)
    with Store(db) as store:
        assert store.counts() == {"events": 3, "quarantined": 2}
        reasons = store.query_df("SELECT reason FROM store.quarantine ORDER BY source_offset")
    assert [r.split(" at ")[0] for r in reasons["reason"]] == ["invalid UTF-8", "NUL byte"]


def test_serve_follow_survives_poison_lines_appended_alone(tmp_path: Path) -> None:
    log_file = tmp_path / "app.jsonl"
    log_file.write_bytes(next(events(1)) + b"\n")
    db = tmp_path / "faultcast.duckdb"
    server = Server(
        ServeOptions(db=db, follow=[str(log_file)], learn_every=3600, poll_interval=0.1)
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for(lambda: server.summary.stored == 1, 30, "the first line")
        over_long = json.dumps({"event": "big", "timestamp": 1767225600, "blob": "b" * 1_100_000})
        poison = [b"\xff\x00 poison", over_long.encode()]
        for n, line in enumerate(poison, start=1):
            with open(log_file, "ab") as f:
                f.write(line + b"\n")
            wait_for(lambda n=n: server.summary.quarantined == n, 30, f"poison line {n}")
            assert thread.is_alive()
        with open(log_file, "ab") as f:
            f.write(b"".join(line + b"\n" for line in events(2, 1)))
        wait_for(lambda: server.summary.stored == 3, 30, "the good lines after the poison")
    finally:
        server.stop()
        thread.join(30)
    assert not thread.is_alive()
    s = server.summary
    assert (s.read, s.stored, s.duplicates, s.quarantined) == (5, 3, 0, 2)
    with Store(db) as store:
        assert store.counts() == {"events": 3, "quarantined": 2}
        q = store.query_df("SELECT length(raw) AS n, reason FROM store.quarantine ORDER BY 2")
    assert q["reason"][1].startswith(f"line too long: {len(over_long)} bytes")
    assert q["n"][1] == 4096
