"""A server killed with SIGKILL mid-stream and started again: HttpSink replays what was not
acknowledged, and every event is stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from faultcast.ingest import Store
from faultcast.ingest.keys import KeyStore

import faultcast
from faultcast.sdk import HttpSink

from .conftest import call, free_port, wait_for

N = 2000


def start(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "faultcast", "serve", "--http", f"127.0.0.1:{port}",
             "--db", str(db), "--learn-every", "3600"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/healthz"

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return call(url)[0] == 200
        except OSError:
            return False

    wait_for(up, 60, "the server to listen")
    return process


def test_sigkill_mid_stream_then_restart_stores_each_event_once(tmp_path: Path) -> None:
    db, log, port = tmp_path / "faultcast.duckdb", tmp_path / "serve.log", free_port()
    with Store(db) as store:
        key = KeyStore(store).create("app", "ingest")
    server = start(db, port, log)
    sink = HttpSink(
        f"http://127.0.0.1:{port}", key, batch_size=250, flush_interval=0.01,
        retries=1, backoff=0.05, retry_interval=0.2, timeout=5,
    )  # fmt: skip
    sent = threading.Event()

    def produce() -> None:
        for i in range(N):
            sink.send({"event": f"order {i} failed", "level": "error", "service": "killed",
                       "ts": 1767225600 + i, "seq": i})  # fmt: skip
            if i % 100 == 99:
                time.sleep(0.01)
        sent.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(lambda: sink.delivered >= 500, 60, "some batches stored")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        wait_for(lambda: sink.pending > 0 or sent.is_set(), 30, "batches kept while it is down")
        server = start(db, port, log)
        producer.join(60)
        sink.close(timeout=120)
        assert sink.delivered >= N and not sink.rejected
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    with faultcast.connect(db) as fc:
        stored = fc.events(service="killed")
    assert len(stored) == N
    assert stored["event_id"].nunique() == N
