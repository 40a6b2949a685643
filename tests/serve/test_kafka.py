"""faultcast serve against a real Kafka-protocol broker (Tansu) on loopback."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import confluent_kafka
import pytest
from faultcast.ingest import IngestError, Ingestor, Store
from faultcast.ingest.kafka import KafkaIngestor, KafkaSettings
from prometheus_client.parser import text_string_to_metric_families

import faultcast
from faultcast.serve import ServeOptions, Server

from .conftest import Broker, events, free_port, serve_command, start_serve, stop_serve


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def scrape(port: int) -> dict[str, float]:
    """Every sample of the metrics endpoint, as ``name{label="v",...}`` -> value."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def committed(broker: Broker, group: str, topic: str, partitions: int) -> int:
    """Messages the group has committed (stored), over all partitions."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        tps = [confluent_kafka.TopicPartition(topic, p) for p in range(partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=10))
    finally:
        consumer.close()


def distinct_seq(paths: list[Path]) -> tuple[int, int]:
    """(events stored, distinct events by their producer sequence number) over the shards."""
    with faultcast.connect([str(p) for p in paths] if len(paths) > 1 else str(paths[0])) as fc:
        row = fc.store.query_df(
            "SELECT count(*) AS n, count(DISTINCT attrs->>'seq') AS d FROM store.events"
        ).iloc[0]
    return int(row["n"]), int(row["d"])


@pytest.mark.slow
def test_round_trip_100k_each_event_stored_once(broker: Broker, tmp_path: Path) -> None:
    broker.create_topic("roundtrip", 4)
    assert broker.produce("roundtrip", events(100_000)) == 100_000
    port = free_port()
    db = tmp_path / "faultcast.duckdb"
    worker = start_serve(
        serve_command(db, broker, "roundtrip", "--metrics-port", str(port), "--json"),
        tmp_path / "serve.log",
    )
    try:
        wait_for(
            lambda: scrape(port).get('faultcast_events_stored_total{source="kafka"}') == 100_000,
            120,
            "100k events stored",
        )
        wait_for(lambda: scrape(port).get("faultcast_consumer_lag_total") == 0, 10, "lag 0")
        metrics = scrape(port)
    finally:
        code, out = stop_serve(worker)
    assert code == 0, (tmp_path / "serve.log").read_text()[-2000:]
    summary = json.loads(out)
    assert summary["stored"] == 100_000 and summary["quarantined"] == 0
    assert metrics['faultcast_events_read_total{source="kafka"}'] == 100_000
    assert metrics["faultcast_ingest_events_per_second"] >= 0
    assert committed(broker, "g-roundtrip", "roundtrip", 4) == 100_000
    assert distinct_seq([db]) == (100_000, 100_000)
    with Store(db) as store:
        sources = store.query_df(
            "SELECT source, count(*) AS n, count(DISTINCT source_offset) AS d "
            "FROM store.events GROUP BY source ORDER BY source"
        )
    assert sources["source"].tolist() == [f"kafka:roundtrip:{p}" for p in range(4)]
    assert (sources["n"] == sources["d"]).all()


@pytest.mark.slow
def test_two_workers_share_partitions_and_survive_kill_9(broker: Broker, tmp_path: Path) -> None:
    topic, total = "scaleout", 40_000
    broker.create_topic(topic, 4)
    shards = [tmp_path / "shard-0.duckdb", tmp_path / "shard-1.duckdb"]
    ports = [free_port(), free_port()]
    workers = [
        start_serve(
            serve_command(
                shards[i],
                broker,
                topic,
                "--metrics-port",
                str(ports[i]),
                "--batch-messages",
                "2000",
            ),
            tmp_path / f"serve-{i}.log",
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        # Both join the group and split the partitions.
        def both_assigned() -> bool:
            lags = [
                {k for k in scrape(p) if k.startswith("faultcast_consumer_lag{")} for p in ports
            ]
            return all(lags) and not (lags[0] & lags[1])

        broker.produce(topic, events(4000))
        wait_for(both_assigned, 60, "both workers to own partitions")
        produced = 4000
        # Keep the stream going; kill -9 worker 0 in the middle of it.
        for i in range(9):
            broker.produce(topic, events(4000, produced))
            produced += 4000
            if i == 3:
                # Killed in the middle of its work: once it has stored part of the stream (waited
                # for, not assumed to have happened by now), with more of it still to come.
                wait_for(
                    lambda: (
                        scrape(ports[0]).get('faultcast_events_stored_total{source="kafka"}', 0) > 0
                    ),
                    60,
                    "worker 0 to store events",
                )
                workers[0].kill()
                workers[0].wait()
            time.sleep(0.3)
        assert produced == total
        wait_for(
            lambda: committed(broker, f"g-{topic}", topic, 4) == total,
            90,
            "the surviving worker to take over and commit everything",
        )
    finally:
        for w in workers:
            if w.poll() is None:
                code, _ = stop_serve(w)
                assert code == 0
    stored, distinct = distinct_seq(shards)
    assert distinct == total
    assert stored >= total  # redelivered after the kill: at most duplicated across shards
    with Store(shards[1]) as survivor:
        owned = survivor.query_df("SELECT DISTINCT source FROM store.events")["source"]
    assert len(set(owned)) == 4  # it took over the killed worker's partitions


@pytest.mark.slow
def test_broker_restart_reconnects_and_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    # Tansu ships with memory storage only (its sqlite/postgres/s3 engines are not built in or
    # need a server), so a restart empties the broker: the topic is made again, its offsets start
    # at 0 again, and the group's committed offsets are gone.  What serve must do is reconnect,
    # rejoin, read the new stream from its start, and keep every event stored before and after.
    topic, group = "restart", "g-restart"
    broker.create_topic(topic, 2)
    port = free_port()
    db = tmp_path / "faultcast.duckdb"
    worker = start_serve(
        serve_command(db, broker, topic, "--metrics-port", str(port)), tmp_path / "serve.log"
    )
    stored = 'faultcast_events_stored_total{source="kafka"}'
    try:
        broker.produce(topic, events(5000))
        wait_for(lambda: scrape(port).get(stored) == 5000, 60, "the first 5000 stored")
        broker.stop()
        # serve sees the broker gone (librdkafka reports it: logged) and keeps retrying.
        log = tmp_path / "serve.log"
        wait_for(lambda: b"kafka.error" in log.read_bytes(), 30, "serve to see the broker gone")
        assert worker.poll() is None
        broker.start()
        broker.create_topic(topic, 2)
        broker.produce(topic, events(5000, 5000))
        wait_for(lambda: scrape(port).get(stored) == 10_000, 90, "all 10000 stored")
        wait_for(lambda: committed(broker, group, topic, 2) == 5000, 30, "offsets committed")
    finally:
        code, _ = stop_serve(worker)
    assert code == 0
    assert distinct_seq([db]) == (10_000, 10_000)


def test_malformed_messages_quarantined_dead_lettered_stream_goes_on(
    broker: Broker, tmp_path: Path
) -> None:
    topic, dlq = "mixed", "mixed-dlq"
    broker.create_topic(topic, 2)
    broker.create_topic(dlq, 1)
    good = list(events(600))
    bad: list[bytes | None] = [b"not json at all", b"\xff\xfe broken utf-8", b'{"event": "no time"}',
                                None, b'{"timestamp": "yesterday-ish", "event": "x"}']  # fmt: skip
    stream: list[bytes | None] = []
    for i, line in enumerate(good):
        stream.append(line)
        if i % 120 == 60:
            stream.append(bad[(i // 120) % len(bad)])
    broker.produce(topic, stream)
    db = tmp_path / "faultcast.duckdb"
    settings = KafkaSettings(broker.bootstrap, topic, group="g-mixed", dead_letter_topic=dlq)
    server = Server(ServeOptions(db=db, kafka=settings, learn_every=3600, poll_interval=0.3))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for(lambda: server.summary.read >= len(stream), 60, "the whole stream read")
    finally:
        server.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert server.summary.stored == len(good)
    assert server.summary.quarantined == len(bad)
    assert server.summary.dead_lettered == len(bad)
    assert server.metrics.value("faultcast_events_quarantined_total", reason="invalid JSON") == 1
    with Store(db) as store:
        q = store.query_df("SELECT source, reason FROM store.quarantine")
        assert len(store.query_df("SELECT * FROM store.events")) == len(good)
    assert set(q["source"]) <= {f"kafka:{topic}:0", f"kafka:{topic}:1"}
    assert {"empty line", "invalid JSON"} <= {r.split(":")[0] for r in q["reason"]}
    # The dead letters carry the reason and where they came from.
    # Read from the start of its one partition: no group to join (a join waits ~3 s).
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "dlq-reader"}
    )
    consumer.assign([confluent_kafka.TopicPartition(dlq, 0, confluent_kafka.OFFSET_BEGINNING)])
    letters = []
    deadline = time.monotonic() + 30
    while len(letters) < len(bad) and time.monotonic() < deadline:
        letters += [m for m in consumer.consume(10, 1.0) if m.error() is None]
    consumer.close()
    assert sorted(m.value() or b"" for m in letters) == sorted(b or b"" for b in bad)
    headers = dict(letters[0].headers() or [])
    assert headers[b"faultcast.source".decode()].startswith(f"kafka:{topic}:".encode())
    assert headers["faultcast.reason"]


def test_sdk_sends_events_to_kafka_for_serve(broker: Broker, tmp_path: Path) -> None:
    import structlog

    from faultcast.sdk import FaultcastProcessor, KafkaSink

    broker.create_topic("sdk", 2)
    sink = KafkaSink(broker.bootstrap, "sdk")
    log = structlog.wrap_logger(
        structlog.testing.ReturnLogger(),
        processors=[FaultcastProcessor(service="checkout", host="web-1"), sink],
    )
    for i in range(50):
        try:
            raise ConnectionRefusedError(f"payments down ({i})")
        except ConnectionRefusedError as e:
            log.error("charge failed", exc_info=e, attempt=i, password="hunter2")
    assert sink.flush(10) == 0 and sink.delivered == 50
    db = tmp_path / "faultcast.duckdb"
    store = Store(db)
    consumer = KafkaIngestor(Ingestor(store), KafkaSettings(broker.bootstrap, "sdk", group="g-sdk"))
    consumer.start()
    try:
        got = 0
        deadline = time.monotonic() + 40
        while got < 50 and time.monotonic() < deadline:
            got += consumer.poll_batch(timeout=1.0).report.stored
    finally:
        consumer.close()
    events_df = store.query_df("SELECT * FROM store.events")
    assert len(events_df) == 50
    assert set(events_df["service"]) == {"checkout"}
    assert set(events_df["error_type"]) == {"ConnectionRefusedError"}
    assert "hunter2" not in " ".join(events_df["attrs"].astype(str))


def test_unreachable_broker_and_missing_topic_say_what_and_where(
    broker: Broker, tmp_path: Path
) -> None:
    store = Store(tmp_path / "x.duckdb")
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(IngestError, match=rf"cannot reach the Kafka broker at {dead}"):
        KafkaIngestor(Ingestor(store), KafkaSettings(dead, "events")).start(check_timeout=2)
    with pytest.raises(IngestError, match=r"topic 'no-such-topic' does not exist .*create it"):
        KafkaIngestor(Ingestor(store), KafkaSettings(broker.bootstrap, "no-such-topic")).start()
